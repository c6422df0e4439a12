"""The orchestrator: stages skipped when nothing they depend on changed, recorded in ``pipeline_runs``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pyspark.sql import functions as F

from conftest import ROOT, copy_lake
from transcript_lake.errors import UserError
from transcript_lake.pipeline import STAGES, format_summary, run_pipeline, select_stages
from transcript_lake.tables import table_path, table_specs, table_version


def versions(spark, conf, skip=("pipeline_runs",)):
    return {n: table_version(spark, conf, n) for n in table_specs() if n not in skip}


def runs(spark, conf, run_id):
    rows = (spark.read.format("delta").load(table_path(conf, "pipeline_runs"))
            .filter(F.col("run_id") == run_id).collect())
    return {r["stage"]: r for r in rows}


def test_stage_selection():
    assert select_stages() == list(STAGES)
    assert select_stages(start="topics") == ["topics", "timelines"]
    assert select_stages(only=["timelines", "ingest"]) == ["ingest", "timelines"]
    with pytest.raises(UserError, match="unknown stage 'nope'"):
        select_stages(only=["nope"])
    with pytest.raises(UserError, match="cannot be combined"):
        select_stages(only=["terms"], start="terms")


def test_unknown_stage_on_the_command_line_is_one_line_before_spark_starts():
    p = subprocess.run([sys.executable, "jobs/pipeline.py", "--env", "test", "--from", "nope"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.strip().splitlines()[-1].startswith("error: unknown stage 'nope'")
    assert "Ivy" not in p.stderr


def test_second_run_skips_every_stage_and_writes_only_its_history(spark, gold_lake, tmp_path):
    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    first = run_pipeline(spark, conf)
    assert {r["status"] for r in first.rows.values()} == {"succeeded"}  # no history yet: each stage checks itself
    before = versions(spark, conf)
    second = run_pipeline(spark, conf)
    assert [r["status"] for r in second.rows.values()] == ["skipped"] * len(STAGES)
    assert versions(spark, conf) == before  # nothing but pipeline_runs got a commit
    recorded = runs(spark, conf, second.run_id)
    assert set(recorded) == set(STAGES)
    assert recorded["terms"]["reason"] == "inputs and config unchanged"
    assert recorded["terms"]["input_versions"] == {t: before[t] for t in ("windows", "videos", "segments")}
    assert recorded["terms"]["rows_out"]["mentions"] == spark.read.format("delta").load(table_path(conf, "mentions")).count()
    text = format_summary(spark, second)
    assert "(0 stage(s) ran, 7 skipped)" in text and second.run_id in text and "mentions=" in text

    # A config change runs exactly the stages that depend on that section; the row says which config.
    tweaked = conf.with_overrides(["timelines.bucket_seconds=30"])
    third = run_pipeline(spark, tweaked)
    status = {s: r["status"] for s, r in third.rows.items()}
    assert status == {**{s: "skipped" for s in STAGES}, "timelines": "succeeded"}
    row = runs(spark, conf, third.run_id)["timelines"]
    assert row["reason"] == "config changed" and '"bucket_seconds": 30' in row["config"]
    assert row["output_versions"]["concept_timeline"] > before["concept_timeline"]

    # --only + --full-refresh: the stage runs although nothing changed, and rebuilds to the same rows.
    refreshed = run_pipeline(spark, tweaked.with_overrides(["run.full_refresh=true"]), ["windows"])
    assert refreshed.rows["windows"]["status"] == "succeeded" and refreshed.rows["windows"]["reason"] == "full refresh"
    assert refreshed.results[0].metrics["videos_rebuilt"] == 5


def test_a_failing_stage_is_recorded_and_the_error_propagates(spark, gold_lake, tmp_path):
    conf = copy_lake(gold_lake[0], tmp_path / "lake").with_overrides(["topics.backend=gpu", "topics.gpu_fallback=error"])
    with pytest.raises(Exception, match="cuML|CUDA|cuml"):
        run_pipeline(spark, conf, ["topics"])
    rows = spark.read.format("delta").load(table_path(conf, "pipeline_runs")).collect()
    assert [(r["stage"], r["status"]) for r in rows] == [("topics", "failed")]
    assert rows[0]["error"] and rows[0]["reason"] == "no successful run recorded"


def test_a_column_declared_later_is_added_to_an_existing_table(spark, tmp_path):
    """Schema evolution: a lake written before ``topic_runs.model_run_id`` existed gains the column
    (nullable) the first time a session touches the table; old rows read it as null."""
    import re

    from conftest import make_conf
    from transcript_lake import tables

    conf = make_conf(tmp_path / "lake")
    spec = table_specs()["topic_runs"]
    path = table_path(conf, "topic_runs")
    old_ddl = re.sub(r",\s*model_run_id[^\n]*\n", "\n", spec.ddl).replace("transcripts.topic_runs", f"delta.`{path}`")
    spark.sql(old_ddl)
    assert "model_run_id" not in spark.read.format("delta").load(path).columns
    v0 = table_version(spark, conf, "topic_runs")
    tables._checked.discard(path)
    tables.ensure_table(spark, conf, "topic_runs")
    assert spark.read.format("delta").load(path).columns[-1] == "model_run_id"
    assert table_version(spark, conf, "topic_runs") == v0 + 1
    tables._checked.discard(path)
    tables.ensure_table(spark, conf, "topic_runs")  # nothing missing any more: no commit
    assert table_version(spark, conf, "topic_runs") == v0 + 1
