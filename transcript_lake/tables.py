"""Table registry: every table is declared once, as DDL with column comments, in ``schemas/<name>.sql``.

The DDL is what a SQL user reads; this module adds only the ``LOCATION '<lake>/<name>'`` clause.
Write helpers here are the only way stages write, so every write is idempotent by construction:

- :func:`replace_where` - atomically replace the rows matching a predicate (one Delta commit);
- :func:`merge_by_key`  - ``MERGE`` on natural keys.

Example::

    ensure_table(spark, conf, "segments")
    replace_where(spark, conf, "segments", df, in_list("video_id", ["abc", "def"]))
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from pyspark.sql import DataFrame, SparkSession

from . import DATABASE
from .config import Config, project_root
from .faults import writing
from .spark import lake_root

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableSpec:
    name: str
    layer: str  # bronze | silver | gold | ops
    ddl: str    # CREATE TABLE IF NOT EXISTS transcripts.<name> (...) USING DELTA ... (no LOCATION)


_LAYER = re.compile(r"^--\s*layer:\s*(\w+)", re.MULTILINE)
_NAME = re.compile(r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+" + DATABASE + r"\.(\w+)", re.IGNORECASE)


@lru_cache(maxsize=1)
def table_specs() -> dict[str, TableSpec]:
    """All tables declared in ``schemas/*.sql``, by name."""
    specs = {}
    for path in sorted((project_root() / "schemas").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        name = _NAME.search(text)
        layer = _LAYER.search(text)
        if not name or name.group(1) != path.stem:
            raise RuntimeError(f"{path} must declare CREATE TABLE IF NOT EXISTS {DATABASE}.{path.stem}")
        specs[path.stem] = TableSpec(path.stem, layer.group(1) if layer else "unknown", text.strip().rstrip(";"))
    return specs


def table_path(conf: Config, name: str) -> str:
    return f"{lake_root(conf)}/{name}"


def qualified(name: str) -> str:
    return f"{DATABASE}.{name}"


def delta_exists(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def sql_string(value: str) -> str:
    """A Spark SQL string literal for ``value`` (backslash-escaped, single-quoted)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def in_list(column: str, values: Iterable[str]) -> str:
    """``column IN ('a', 'b')`` with every value quoted; ``false`` for an empty list."""
    values = sorted(set(values))
    if not values:
        return "false"
    return f"`{column}` IN (" + ", ".join(sql_string(v) for v in values) + ")"


_registered: dict[str, str] = {}  # table name -> location registered in this process's catalog


def _register(spark: SparkSession, name: str, path: str) -> None:
    """Point ``transcripts.<name>`` at ``path`` (re-pointing it if this session used another lake)."""
    if _registered.get(name) == path:
        return
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    if name in _registered or spark.catalog.tableExists(qualified(name)):
        spark.sql(f"DROP TABLE IF EXISTS {qualified(name)}")  # external table: drops the name only
    spark.sql(f"CREATE TABLE {qualified(name)} USING DELTA LOCATION {sql_string(path)}")
    _registered[name] = path


def ensure_table(spark: SparkSession, conf: Config, name: str) -> str:
    """Create the Delta table ``<lake>/<name>`` from its DDL if missing, register it as
    ``transcripts.<name>``, and return its path."""
    spec = table_specs()[name]
    path = table_path(conf, name)
    if path in _checked:
        return path
    if not delta_exists(spark, path):
        # Create by path so the table's location never depends on what the catalog held before.
        ddl = re.sub(rf"{DATABASE}\.{name}\b", f"delta.`{path}`", spec.ddl, count=1)
        spark.sql(ddl)
    else:
        add_missing_columns(spark, spec, path)
    _register(spark, name, path)
    _checked.add(path)
    return path


_checked: set[str] = set()  # table paths created or schema-checked by this process
_COLUMN = re.compile(r"^\s*(\w+)\s+(.+?),?\s*$")


def ddl_columns(spec: TableSpec) -> dict[str, str]:
    """Column name -> its DDL text (type, NOT NULL, COMMENT) as declared in ``schemas/<name>.sql``."""
    start = _NAME.search(spec.ddl).end()
    body = spec.ddl[spec.ddl.index("(", start) + 1: spec.ddl.rindex(") USING")]
    return {m.group(1): m.group(2) for line in body.splitlines() if (m := _COLUMN.match(line)) and not line.strip().startswith("--")}


def add_missing_columns(spark: SparkSession, spec: TableSpec, path: str) -> list[str]:
    """Schema evolution: columns declared in the DDL but missing from an existing table (a lake written
    by an older version) are added, nullable (old rows have no value). One commit, only when needed."""
    existing = set(spark.read.format("delta").load(path).columns)
    missing = {c: d for c, d in ddl_columns(spec).items() if c not in existing}
    if missing:
        cols = ", ".join(f"`{c}` " + re.sub(r"\s+NOT NULL", "", d) for c, d in missing.items())
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({cols})")
        log.info("table %s: added column(s) %s declared in schemas/%s.sql", spec.name, ", ".join(missing), spec.name)
    return list(missing)


def register_tables(spark: SparkSession, conf: Config) -> list[str]:
    """Register every table that exists in the lake under ``transcripts.*``, then the views of
    ``schemas/views`` over them (the catalog is per session, so each session the project builds calls this)."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    found = []
    for name in table_specs():
        path = table_path(conf, name)
        if "://" not in path and not (Path(path) / "_delta_log").is_dir():
            continue
        if delta_exists(spark, path):
            _register(spark, name, path)
            found.append(name)
    from .sql import register_views

    register_views(spark, found)  # schemas/views/*.sql over the tables found
    return found


def read_table(spark: SparkSession, conf: Config, name: str) -> DataFrame:
    """The table as a DataFrame, created empty from its DDL first if it does not exist yet."""
    return spark.read.format("delta").load(ensure_table(spark, conf, name))


def replace_where(spark: SparkSession, conf: Config, name: str, df: DataFrame, predicate: str) -> None:
    """Atomically replace the rows matching ``predicate`` with ``df`` (Delta ``replaceWhere``).

    One commit: readers see the old rows or the new ones, never a mix; re-running with the same
    input rewrites the same rows. Every row of ``df`` must satisfy ``predicate`` (Delta checks).
    """
    path = ensure_table(spark, conf, name)
    columns = spark.read.format("delta").load(path).columns
    with writing(name):
        (
            df.select(*columns)
            .write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", predicate)
            .save(path)
        )


def merge_by_key(
    spark: SparkSession,
    conf: Config,
    name: str,
    source: DataFrame,
    keys: list[str],
    update_when: str | None = None,
    delete_missing: str | None = None,
) -> None:
    """``MERGE`` ``source`` into the table on ``keys``: update matched rows (only where ``update_when``
    holds, if given), insert new ones, and delete rows absent from ``source`` for which the SQL
    condition ``delete_missing`` holds (``"true"`` for all). One commit."""
    from delta.tables import DeltaTable

    path = ensure_table(spark, conf, name)
    target = DeltaTable.forPath(spark, path)
    columns = target.toDF().columns
    cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    assignments = {f"`{c}`": f"s.`{c}`" for c in columns}
    builder = (
        target.alias("t")
        .merge(source.select(*columns).alias("s"), cond)
        .whenMatchedUpdate(condition=update_when, set=assignments)
        .whenNotMatchedInsert(values=assignments)
    )
    if delete_missing:
        builder = builder.whenNotMatchedBySourceDelete(condition=delete_missing)
    with writing(name):
        builder.execute()


def table_version(spark: SparkSession | None, conf: Config, name: str) -> int | None:
    """Latest Delta version of the table, or None if it does not exist.

    On a local lake this lists ``_delta_log`` (no JVM work: commit ``N.json`` exists exactly when
    version N is committed, and the newest commits are never cleaned up); elsewhere it asks Delta.
    """
    path = table_path(conf, name)
    if "://" not in path or path.startswith("file:"):
        log_dir = Path(path.removeprefix("file:")) / "_delta_log"
        try:
            versions = [int(f[:-5]) for f in os.listdir(log_dir) if f.endswith(".json") and f[:-5].isdigit()]
        except (FileNotFoundError, NotADirectoryError):
            return None
        return max(versions) if versions else None
    from delta.tables import DeltaTable

    if not delta_exists(spark, path):
        return None
    return DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]


def table_rows(spark: SparkSession, conf: Config, name: str) -> int:
    """Row count of the table (answered from Delta's file statistics, no data scan)."""
    return spark.read.format("delta").load(table_path(conf, name)).count()


def append_rows(spark: SparkSession, conf: Config, name: str, rows: list[dict]) -> None:
    """Append ``rows`` (dicts keyed by column) in one commit; for ledgers whose rows carry a unique id."""
    if not rows:
        return
    path = ensure_table(spark, conf, name)
    schema = spark.read.format("delta").load(path).schema
    with writing(name):
        spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema) \
            .write.format("delta").mode("append").save(path)


def merge_changes(spark: SparkSession, conf: Config, name: str, source: DataFrame, keys: list[str]) -> dict[str, int]:
    """Make the table equal ``source`` while rewriting only what differs, in one commit, or none when
    nothing differs: rows of ``source`` not in the table are upserted on ``keys``, keys no longer in
    ``source`` are deleted. Returns the row counts (inserted, updated, deleted).

    Example::

        merge_changes(spark, conf, "concept_video", df, ["concept", "video_id"])
        # {'inserted': 12, 'updated': 3, 'deleted': 0}
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    path = ensure_table(spark, conf, name)
    target = DeltaTable.forPath(spark, path)
    columns = target.toDF().columns
    current = spark.read.format("delta").load(path).select(*columns)
    source = source.select(*columns)
    # The diff is computed first (a join at the size of the table) so an unchanged table gets no commit.
    upserts = source.exceptAll(current).withColumn("_delete", F.lit(False))
    gone = (current.select(*keys).exceptAll(source.select(*keys)).join(current, keys)
            .select(*columns).withColumn("_delete", F.lit(True)))
    changes = upserts.unionByName(gone).cache()
    try:
        if changes.isEmpty():
            return {"inserted": 0, "updated": 0, "deleted": 0}
        cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        assignments = {f"`{c}`": f"s.`{c}`" for c in columns}
        with writing(name):
            (target.alias("t").merge(changes.alias("s"), cond)
             .whenMatchedDelete(condition="s._delete")
             .whenMatchedUpdate(set=assignments)
             .whenNotMatchedInsert(condition="NOT s._delete", values=assignments)
             .execute())
    finally:
        changes.unpersist()
    metrics = target.history(1).collect()[0]["operationMetrics"] or {}
    return {k: int(metrics.get(f"numTarget{m}", 0)) for k, m in
            (("inserted", "RowsInserted"), ("updated", "RowsUpdated"), ("deleted", "RowsDeleted"))}
