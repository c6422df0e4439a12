"""Portable lakes: a lake built from one clone continues from another clone, in another folder, after
the original lake was deleted, with that clone's own code: only the new video is processed, topics
assign it with the saved model, nothing is quarantined, and the tables equal those of the lake that
stayed where it was built and got the same video there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pyspark.sql import functions as F

from conftest import FIXTURES, NEW_VIDEO, ROOT, SMALL_TOPICS, load
from lake_compare import assert_lakes_equal
IGNORE = shutil.ignore_patterns(".venv", ".git", "lake", "__pycache__", ".pytest_cache", "results", "dist", "build",
                                "*.egg-info", "_output")


def second_clone(dst: Path) -> Path:
    """A second checkout of this project (its files as they are, without the venv, git or lakes)."""
    shutil.copytree(ROOT, dst, ignore=IGNORE)
    return dst


def test_a_moved_lake_continues_from_another_clone_with_its_own_code(spark, gold_lake, gold_plus_one, tmp_path):
    conf, _ = gold_lake
    here, _ = gold_plus_one  # the lake that stayed where it was built and got the new video there

    # the lake moves: copied elsewhere, the original deleted
    built = tmp_path / "built" / "lake"
    shutil.copytree(conf.get("lake.root"), built)
    moved = tmp_path / "elsewhere" / "lake"
    shutil.copytree(built, moved)
    shutil.rmtree(built)

    # a second clone with its own copy of the inputs at paths of its own: a relative manifest inside it
    clone = second_clone(tmp_path / "clone2")
    corpus = clone / "inputs"
    shutil.copytree(FIXTURES / "corpus_small", corpus)
    manifest = json.loads(json.dumps(_manifest_entries(conf)))
    for entry in manifest:
        entry["path"] = "inputs/" + Path(entry["path"]).name  # relative to clone 2's root: another source_path
    import yaml

    (clone / "conf" / "moved-sources.yaml").write_text(yaml.safe_dump({"sources": manifest}))
    shutil.copy(NEW_VIDEO, clone / "inputs" / NEW_VIDEO.name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRANSCRIPT_LAKE_FAULT")}
    cmd = [sys.executable, "jobs/pipeline.py", "--env", "test", "--lake", str(moved),
           "--set", "inputs.manifest=conf/moved-sources.yaml", "--input", f"inputs/{NEW_VIDEO.name}",
           *[a for s in SMALL_TOPICS for a in ("--set", s)]]
    p = subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert f"from {clone / 'transcript_lake'}" in p.stderr, "the second clone must run its own code"

    runs = load(spark, conf.with_overrides([f"lake.root={moved}"]), "pipeline_runs")
    last = runs.filter(F.col("run_id") == runs.agg(F.max("run_id")).first()[0]).collect()
    metrics = {r["stage"]: json.loads(r["metrics"] or "{}") for r in last}
    status = {r["stage"]: r["status"] for r in last}
    assert metrics["ingest"]["files_parsed"] == 1 and metrics["ingest"]["files_moved"] == 4, metrics["ingest"]
    assert metrics["segments"]["videos_rebuilt"] == 1
    assert metrics["windows"]["videos_rebuilt"] == 1
    assert metrics["terms"]["videos_processed"] == 1 and metrics["terms"]["phrases_embedded"] < 50
    assert metrics["topics"]["refit"] == 0 and metrics["topics"]["videos_assigned"] == 1, metrics["topics"]
    assert {s for s, v in status.items() if v == "failed"} == set()
    moved_conf = conf.with_overrides([f"lake.root={moved}"])
    assert load(spark, moved_conf, "quarantine").filter(F.col("reason").startswith("duplicate")).count() == 0
    assert load(spark, moved_conf, "quarantine").count() == load(spark, here, "quarantine").count()
    # the stored paths that must resolve are relative to the lake
    for r in load(spark, moved_conf, "topic_runs").collect():
        assert not Path(r["model_path"]).is_absolute() and (moved / r["model_path"] / "config.json").is_file()

    compared = assert_lakes_equal(spark, moved, Path(here.get("lake.root")), ignore_columns={"source_path"})
    assert {"segments", "windows", "mentions", "concepts", "window_topics", "concept_timeline"} <= set(compared)


def _manifest_entries(conf) -> list[dict]:
    import yaml

    return yaml.safe_load(Path(conf.get("inputs.manifest")).read_text())["sources"]
