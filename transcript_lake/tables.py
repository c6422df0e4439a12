"""Table registry: every table is declared once, as DDL with column comments, in ``schemas/<name>.sql``.

The DDL is what a SQL user reads; this module adds only the ``LOCATION '<lake>/<name>'`` clause.
Write helpers here are the only way stages write, so every write is idempotent by construction:

- :func:`replace_where` - atomically replace the rows matching a predicate (one Delta commit);
- :func:`merge_by_key`  - ``MERGE`` on natural keys;
- :func:`merge_changes` - make a derived table equal its recomputation, committing only when a row differs;
- :func:`merge_rows` / :func:`append_rows` - a few rows built on the driver (ledgers, stage markers, run
  history), written JVM-free with the ``deltalake`` writer on a local lake.

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

# Spark conf whose value Delta writes into every commit's ``userMetadata`` (set by the orchestrator).
COMMIT_METADATA = "spark.databricks.delta.commitInfo.userMetadata"

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


def replace_where(spark: SparkSession, conf: Config, name: str, df: DataFrame, predicate: str) -> int:
    """Atomically replace the rows matching ``predicate`` with ``df`` (Delta ``replaceWhere``); returns
    the number of rows written (from the commit's metrics: no scan to count them again).

    One commit: readers see the old rows or the new ones, never a mix; re-running with the same
    input rewrites the same rows. Every row of ``df`` must satisfy ``predicate`` (Delta checks).
    """
    path = ensure_table(spark, conf, name)
    columns = spark.read.format("delta").load(path).columns
    before = table_version(spark, conf, name)
    with writing(name):
        (
            df.select(*columns)
            .write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", predicate)
            .save(path)
        )
    after = table_version(spark, conf, name)
    if after == before:  # Delta commits nothing for no rows to write and none to remove
        return 0
    metrics = commit_metrics(spark, conf, name, after)
    if "numOutputRows" in metrics:
        # rows of files that also held other rows are copied into new files and counted as output too
        return metrics["numOutputRows"] - metrics.get("numCopiedRows", 0)
    return spark.read.format("delta").load(path).filter(predicate).count()


def commit_metrics(spark: SparkSession, conf: Config, name: str, version: int) -> dict[str, int]:
    """The ``operationMetrics`` of one commit of the table (``numOutputRows``, ``numCopiedRows``, ...): on
    a local lake read from its commit file (no JVM), elsewhere from ``DESCRIBE HISTORY``. Empty when the
    commit carries none (``spark.databricks.delta.commitInfo.enabled=false``)."""
    import json

    local = local_table_dir(conf, name)
    raw = {}
    if local is not None:
        for line in (local / "_delta_log" / f"{version:020d}.json").read_text().splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                raw = action["commitInfo"].get("operationMetrics") or {}
    else:
        from delta.tables import DeltaTable
        from pyspark.sql import functions as F

        found = (DeltaTable.forPath(spark, table_path(conf, name)).history(20).filter(F.col("version") == version)
                 .select("operationMetrics").collect())
        raw = (found[0]["operationMetrics"] or {}) if found else {}
    return {k: int(v) for k, v in raw.items() if str(v).isdigit()}


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


def merge_rows(spark: SparkSession, conf: Config, name: str, rows: list[dict], keys: list[str],
               delete_missing: str | None = None) -> None:
    """``MERGE`` a few driver-side ``rows`` (dicts keyed by column) on ``keys``, like :func:`merge_by_key`
    (matched rows updated, new ones inserted, rows absent from ``rows`` deleted where the SQL condition
    ``delete_missing`` on ``t.`` holds), in one commit carrying the run's commit ``userMetadata``.

    On a local lake it is written with the ``deltalake`` writer: no Spark job, milliseconds instead of
    the ~1.5 s a Spark MERGE costs (the orchestrator writes one after every stage). Elsewhere, and for
    a table that does not exist yet, through Spark.

    Example::

        merge_rows(spark, conf, "stage_state", [{"stage": "windows", "video_id": "*", ...}], ["stage", "video_id"])
    """
    spec = table_specs()[name]
    nullable = [c.name for c in spec.columns if c.name in keys and c.nullable]
    if nullable:  # the key is matched with `=` below: a null key would never match
        raise ValueError(f"merge_rows: key column(s) {nullable} of {name} may be null; use merge_by_key")
    local = _local_delta_dir(conf, name)
    if local is None:
        path = ensure_table(spark, conf, name)
        columns = spark.read.format("delta").load(path).schema
        source = spark.createDataFrame([tuple(r.get(f.name) for f in columns.fields) for r in rows], columns)
        merge_by_key(spark, conf, name, source, keys, delete_missing=delete_missing)
        return
    from deltalake import CommitProperties, DeltaTable

    ensure_table(spark, conf, name)  # schema evolution first (columns an older lake lacks)
    metadata = spark.conf.get(COMMIT_METADATA, None)
    merger = DeltaTable(str(local)).merge(
        source=_arrow_rows(name, rows),
        predicate=" AND ".join(f"t.{k} = s.{k}" for k in keys), source_alias="s", target_alias="t",
        commit_properties=CommitProperties(custom_metadata={"userMetadata": metadata}) if metadata else None,
    ).when_matched_update_all().when_not_matched_insert_all()
    if delete_missing:
        merger = merger.when_not_matched_by_source_delete(predicate=delete_missing)
    with writing(name):
        merger.execute()


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


def _local_delta_dir(conf: Config, name: str):
    """The table's folder when the lake is local and the table exists: driver-side rows are then written
    with the ``deltalake`` writer (no Spark job: milliseconds instead of ~0.5-1.5 s), else None."""
    local = local_table_dir(conf, name)
    return local if local is not None and (local / "_delta_log").is_dir() else None


def _arrow_rows(name: str, rows: list[dict]):
    """Driver-side rows as a pyarrow table with the DDL's types and NOT NULL flags (maps as key/value pairs)."""
    import pyarrow as pa

    spec = table_specs()[name]
    maps = {c.name for c in spec.columns if c.type.upper().startswith("MAP")}
    data = [{k: (sorted(v.items()) if k in maps and v is not None else v) for k, v in r.items()} for r in rows]
    return pa.Table.from_pylist(data, schema=spec.arrow_schema(nullable=False))


def append_rows(spark: SparkSession | None, conf: Config, name: str, rows: list[dict]) -> None:
    """Append ``rows`` (dicts keyed by column) in one commit; for ledgers whose rows carry a unique id.
    On a local lake with the ``deltalake`` writer (no Spark job, so ``spark`` may be None), elsewhere
    through Spark."""
    if not rows:
        return
    local = _local_delta_dir(conf, name)
    if local is not None:
        from deltalake import write_deltalake

        with writing(name):
            write_deltalake(str(local), _arrow_rows(name, rows), mode="append")
        return
    path = ensure_table(spark, conf, name)
    schema = spark.read.format("delta").load(path).schema
    with writing(name):
        spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema) \
            .write.format("delta").mode("append").save(path)


# merge_changes overwrites a table below this many rows whatever changed: measured on the 100-video lake,
# overwriting concept_timeline's 70k rows took 1.7 s where a MERGE of its 1,080 changed rows took 2.4 s
# (a MERGE joins twice and rewrites every file it touches; a small table is one or two files).
SMALL_TABLE_ROWS = 500_000


def merge_changes(spark: SparkSession, conf: Config, name: str, source: DataFrame, keys: list[str],
                  overwrite_share: float = 0.5, small_table_rows: int = SMALL_TABLE_ROWS) -> dict[str, int]:
    """Make the table equal ``source`` in one commit, or none when nothing differs: rows of ``source``
    not in the table are inserted, rows whose values changed are updated, keys no longer in ``source``
    are deleted. Returns the row counts (inserted, updated, deleted), from the diff itself.

    One full outer join on ``keys`` (null-safe: a key column may be legitimately null) labels every
    row. In a large table where few rows changed only they are written (``MERGE``); when most rows
    changed (``overwrite_share``: a corpus-wide figure such as tf-idf moved for every row, or a first
    build), or the table is small (under ``small_table_rows``), it is overwritten with ``source``
    instead: the same rows in one commit, for less work than a MERGE that would rewrite its files anyway.

    Example::

        merge_changes(spark, conf, "concept_video", df, ["concept", "video_id"])
        # {'inserted': 12, 'updated': 3, 'deleted': 0}
    """
    from functools import reduce

    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    path = ensure_table(spark, conf, name)
    target = DeltaTable.forPath(spark, path)
    current = target.toDF()
    columns = current.columns
    values = [c for c in columns if c not in keys]
    # cached: the diff, the counts and the write all read it, and it is computed once
    new = source.select(*[F.col(f"`{f.name}`").cast(f.dataType).alias(f.name) for f in current.schema.fields]).cache()
    old = current.select(*[F.col(f"`{c}`").alias(f"_old_{c}") for c in columns], F.lit(True).alias("_in_table"))
    joined = new.withColumn("_in_source", F.lit(True)).join(
        old, reduce(lambda a, b: a & b, [new[k].eqNullSafe(old[f"_old_{k}"]) for k in keys]), "full_outer")
    same = reduce(lambda a, b: a & b, [F.col(c).eqNullSafe(F.col(f"_old_{c}")) for c in values], F.lit(True))
    change = (F.when(F.col("_in_table").isNull(), "inserted").when(F.col("_in_source").isNull(), "deleted")
              .when(~same, "updated"))
    gone = F.col("_in_source").isNull()
    changes = (joined.withColumn("_change", change).filter(F.col("_change").isNotNull())
               .select(*[F.when(gone, F.col(f"_old_{k}")).otherwise(F.col(k)).alias(k) for k in keys],
                       *[F.col(c) for c in values], gone.alias("_delete"), "_change")
               .cache())
    try:
        counts = {"inserted": 0, "updated": 0, "deleted": 0}
        counts.update({r["_change"]: r["count"] for r in changes.groupBy("_change").count().collect()})
        if not sum(counts.values()):
            return counts
        with writing(name):
            rows = new.count()
            if rows < small_table_rows or sum(counts.values()) >= overwrite_share * rows:
                new.write.format("delta").mode("overwrite").save(path)
            else:
                cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
                assignments = {f"`{c}`": f"s.`{c}`" for c in columns}
                (target.alias("t").merge(changes.drop("_change").alias("s"), cond)
                 .whenMatchedDelete(condition="s._delete")
                 .whenMatchedUpdate(set=assignments)
                 .whenNotMatchedInsert(condition="NOT s._delete", values=assignments)
                 .execute())
        return counts
    finally:
        changes.unpersist()
        new.unpersist()
