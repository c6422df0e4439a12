"""Names for the lake in a Spark session's catalog: ``transcripts.<table>`` for every Delta table of the
lake and ``transcripts.<view>`` for the views of ``schemas/views/``. The catalog is per session, so each
session the project builds calls :func:`register_lake` after it is built (``build_spark`` does).

Example::

    spark = build_spark(conf)                # registers already
    register_lake(spark, other_conf)         # re-points transcripts.* at another lake
    spark.sql("SELECT * FROM transcripts.concept_trends LIMIT 5")
"""

from __future__ import annotations

import logging
from pathlib import Path

from pyspark.sql import SparkSession

from . import DATABASE
from .config import Config
from .lake import is_remote, table_path
from .schemas import creatable_views, table_specs
from .sqltext import sql_string

log = logging.getLogger(__name__)
_registered: dict[str, str] = {}  # table name -> location registered in this process's catalog


def qualified(name: str) -> str:
    return f"{DATABASE}.{name}"


def delta_exists(spark: SparkSession, path: str) -> bool:
    if not is_remote(path) and not (Path(path.removeprefix("file:")) / "_delta_log").is_dir():
        return False  # no JVM call for the common case: a local table that is not there
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def register_table(spark: SparkSession, name: str, path: str) -> None:
    """Point ``transcripts.<name>`` at ``path`` (re-pointing it if this session used another lake)."""
    if _registered.get(name) == path:
        return
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    if name in _registered or spark.catalog.tableExists(qualified(name)):
        spark.sql(f"DROP TABLE IF EXISTS {qualified(name)}")  # external table: drops the name only
    spark.sql(f"CREATE TABLE {qualified(name)} USING DELTA LOCATION {sql_string(path)}")
    _registered[name] = path


def register_lake(spark: SparkSession, conf: Config) -> list[str]:
    """Register every table that exists in the lake, then the views over them. Returns the tables found."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    found = []
    for name in table_specs():
        path = table_path(conf, name)
        if delta_exists(spark, path):
            register_table(spark, name, path)
            found.append(name)
    for view in creatable_views(set(found)):
        try:
            spark.sql(view.sql)
        except Exception as exc:  # a lake written before a column the view reads: the tables still serve
            log.warning("view transcripts.%s skipped: %s (a lake written by an older version gains the column "
                        "on its next run)", view.name, str(exc).strip().splitlines()[0][:200])
    return found
