"""The entry points as a user runs them: console script, ``python jobs/...`` and ``spark-submit``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, make_conf, small_manifest

PY = sys.executable


def run(args, **kw):
    env = {**os.environ, "PYSPARK_PYTHON": PY, **kw.pop("env", {})}
    return subprocess.run(args, capture_output=True, text=True, cwd=kw.pop("cwd", ROOT), env=env, timeout=600, **kw)


def test_unknown_environment_is_one_clear_line():
    p = run([PY, "-m", "transcript_lake.cli", "run", "--env", "nope"])
    assert p.returncode == 2
    assert p.stderr.strip().splitlines()[-1].startswith("error: unknown environment 'nope'")
    assert "Traceback" not in p.stderr


def test_unwritable_lake_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = run([PY, "jobs/ingest.py", "--env", "test", "--lake", str(blocker / "lake")])
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "error: lake root" in p.stderr and "not writable" in p.stderr


def test_missing_input_is_one_clear_line_before_spark_starts(tmp_path):
    p = run([PY, "jobs/ingest.py", "--env", "test", "--lake", str(tmp_path / "lake"), "--input", str(tmp_path / "nothing*.srt")])
    assert p.returncode == 2 and "error: input not found" in p.stderr
    assert "Traceback" not in p.stderr and "Ivy" not in p.stderr  # no JVM was started


def test_bad_override_is_one_clear_line():
    p = run([PY, "-m", "transcript_lake.cli", "run", "--set", "no-equals-sign"])
    assert p.returncode == 2 and "must look like key.path=value" in p.stderr


@pytest.mark.slow
def test_spark_submit_job_then_sql_by_name_from_a_new_process(tmp_path, small_corpus):
    """``spark-submit jobs/ingest.py`` builds the lake; a new process queries transcripts.* by name."""
    conf = make_conf(tmp_path / "lake", small_manifest(small_corpus))
    manifest = conf.get("inputs.manifest")
    submit = Path(PY).parent / "spark-submit"
    flags = run([PY, "-m", "transcript_lake.cli", "submit-args", "--env", "test"]).stdout.split()
    assert flags[:2] == ["--packages", "io.delta:delta-spark_2.13:4.0.1"]
    p = run([str(submit), "--master", "local[2]", *flags, "jobs/ingest.py", "--env", "test",
             "--lake", str(tmp_path / "lake"), "--set", f"inputs.manifest={manifest}"])
    assert p.returncode == 0, p.stderr[-3000:]
    assert "segments" in p.stdout and "videos=5" in p.stdout
    for engine in ("spark", "duckdb"):  # the JVM path and the embedded one answer alike
        q = run([PY, "-m", "transcript_lake.cli", "sql", "--engine", engine, "--env", "test", "--lake",
                 str(tmp_path / "lake"), "SELECT count(*) AS n_videos FROM transcripts.videos"])
        assert q.returncode == 0, q.stderr[-3000:]
        assert re.search(r"n_videos\s*\n\s*5\s*$", q.stdout), (engine, q.stdout)
