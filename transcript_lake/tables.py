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

from pyspark.sql import DataFrame, SparkSession

from . import DATABASE
from .catalog import delta_exists, register_table
from .config import Config
from .faults import writing
from .lake import local_table_dir, table_path
from .schemas import TableSpec, table_specs
from .sqltext import sql_string

log = logging.getLogger(__name__)

_checked: set[str] = set()  # table paths created or schema-checked by this process


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
    register_table(spark, name, path)
    _checked.add(path)
    return path


def add_missing_columns(spark: SparkSession, spec: TableSpec, path: str) -> list[str]:
    """Schema evolution: columns declared in the DDL but missing from an existing table (a lake written
    by an older version) are added, nullable (old rows have no value). One commit, only when needed."""
    existing = set(spark.read.format("delta").load(path).columns)
    missing = [c for c in spec.columns if c.name not in existing]
    if missing:
        cols = ", ".join(f"`{c.name}` {c.type}" + (f" COMMENT {sql_string(c.comment)}" if c.comment else "") for c in missing)
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({cols})")
        log.info("table %s: added column(s) %s declared in schemas/%s.sql", spec.name, ", ".join(c.name for c in missing), spec.name)
    return [c.name for c in missing]


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
    local = local_table_dir(conf, name)
    if local is not None:
        try:
            versions = [int(f[:-5]) for f in os.listdir(local / "_delta_log") if f.endswith(".json") and f[:-5].isdigit()]
        except (FileNotFoundError, NotADirectoryError):
            return None
        return max(versions) if versions else None
    from delta.tables import DeltaTable

    path = table_path(conf, name)
    if not delta_exists(spark, path):
        return None
    return DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]


def table_rows(spark: SparkSession | None, conf: Config, name: str) -> int:
    """Row count of the table from the Delta log's file statistics (``numRecords``): on a local lake
    read JVM-free with ``deltalake`` (milliseconds), elsewhere through Spark (also no data scan)."""
    local = local_table_dir(conf, name)
    if local is not None:
        import pyarrow as pa
        import pyarrow.compute as pc
        from deltalake import DeltaTable

        records = pa.chunked_array(DeltaTable(str(local)).get_add_actions(flatten=True).column("num_records"))
        if records.null_count == 0:  # every file carries its statistics (Spark writes them)
            return int(pc.sum(records).as_py() or 0)
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
