"""The entry points as a user runs them: console script, ``python jobs/...`` and ``spark-submit``."""

from __future__ import annotations

import os
import re
import shlex
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


def readme_submit_line() -> str:
    """The README's spark-submit line, exactly as shown."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return next(l.split("#")[0].strip() for l in text.splitlines() if l.startswith(".venv/bin/transcript-lake submit "))


def clean_env() -> dict:
    """A new shell on a fresh clone: no venv on PATH, no PYSPARK_PYTHON, nothing activated."""
    keep = {k: os.environ[k] for k in ("HOME", "JAVA_HOME", "DELTA_IVY_SETTINGS", "TMPDIR", "LANG") if k in os.environ}
    venv_bin = str(Path(PY).parent)
    return {**keep, "PATH": ":".join(p for p in os.environ.get("PATH", "").split(":") if p and p != venv_bin)}


def test_submit_builds_a_spark_submit_line_that_needs_nothing_activated():
    p = run([PY, "-m", "transcript_lake.cli", "submit", "--dry-run", "--master", "local[2]", "jobs/ingest.py", "--env", "test"])
    assert p.returncode == 0, p.stderr
    cmd = shlex.split(p.stdout)
    assert cmd[0] == str(Path(PY).parent / "spark-submit") and cmd[1:3] == ["--master", "local[2]"]
    assert "io.delta:delta-spark_2.13:4.0.1" in cmd and cmd[-3:] == ["jobs/ingest.py", "--env", "test"]


@pytest.mark.slow
def test_the_readme_spark_submit_line_runs_literally_in_a_clean_shell_then_sql_by_name(tmp_path, small_corpus):
    """The README's line, as written, in a shell with nothing activated (the bug it once had: spark-submit's
    launcher ran find_spark_home.py with the system python3, which has no pyspark); ``--only ingest`` on
    the small corpus. Then a new process queries transcripts.* by name."""
    conf = make_conf(tmp_path / "lake", small_manifest(small_corpus))
    line = readme_submit_line()
    assert line == ".venv/bin/transcript-lake submit jobs/pipeline.py --env local"
    args = f" --only ingest --only segments --lake {tmp_path / 'lake'} --set inputs.manifest={conf.get('inputs.manifest')}"
    p = subprocess.run(["bash", "-c", line + args], cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    assert "2 stage(s) ran" in p.stdout + p.stderr and "videos=5" in p.stdout + p.stderr
    # a new process finds the tables by name (the Spark engine's path runs in docs/querying.md's test)
    q = run([PY, "-m", "transcript_lake.cli", "sql", "--env", "test", "--lake", str(tmp_path / "lake"),
             "SELECT count(*) AS n_videos FROM transcripts.videos"])
    assert q.returncode == 0, q.stderr[-3000:]
    assert re.search(r"n_videos\s*\n\s*5\s*$", q.stdout), q.stdout
