"""Stage registry and runner: stages run in dependency order, each its own ``run(spark, conf)``.

Example::

    results = run_stages(spark, conf, ["ingest", "segments"])
    print(format_summary(spark, conf, results))
"""

from __future__ import annotations

import importlib
import logging
from typing import Sequence

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from .config import Config
from .spark import lake_root
from .stages import StageResult
from .tables import register_tables, table_path

log = logging.getLogger("transcript_lake")

# Dependency order. Later issues append their stages here.
STAGES = ("ingest", "segments", "windows", "terms", "concepts", "topics", "timelines")


def stage_module(name: str):
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r} (known: {', '.join(STAGES)})")
    return importlib.import_module(f"transcript_lake.stages.{name}")


def run_stages(spark: SparkSession, conf: Config, stages: Sequence[str] = STAGES) -> list[StageResult]:
    results = []
    for name in sorted(stages, key=STAGES.index):
        results.append(stage_module(name).run(spark, conf))
    register_tables(spark, conf)  # tables a stage created become visible by name to later SQL
    return results


def table_counts(spark: SparkSession, conf: Config) -> dict[str, int]:
    from .tables import delta_exists, table_specs

    counts = {}
    for name in table_specs():
        path = table_path(conf, name)
        if delta_exists(spark, path):
            counts[name] = spark.read.format("delta").load(path).count()
    return counts


def format_summary(spark: SparkSession, conf: Config, results: list[StageResult], seconds: float) -> str:
    """One screen: per stage what it did, then the lake's table sizes and where problems are."""
    lines = [f"transcript-lake  env={conf.env}  lake={lake_root(conf)}  {seconds:.1f} s"]
    for r in results:
        shown = "  ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in r.metrics.items())
        lines.append(f"  {r.stage:<10} {r.seconds:6.1f} s  {shown}")
    counts = table_counts(spark, conf)
    lines.append("  tables     " + "  ".join(f"{k}={v:,}" for k, v in counts.items()))
    if counts.get("quarantine"):
        q = spark.read.format("delta").load(table_path(conf, "quarantine"))
        by = q.groupBy("stage", "action").count().orderBy("stage", "action").collect()
        lines.append("  quarantine " + "  ".join(f"{r['stage']}/{r['action']}={r['count']:,}" for r in by)
                     + "   -> SELECT * FROM transcripts.quarantine")
    return "\n".join(lines)
