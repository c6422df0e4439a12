"""Two pipeline runs on one lake at the same time. Design: a lock in the lake (``<lake>/_pipeline.lock``,
see :mod:`transcript_lake.lock`). The second run fails at once with who holds the lake (exit 75), or,
with ``--wait``, waits for the first and then does only what is left. Never duplicated or lost rows."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from conftest import ROOT, pipeline_command
from lake_compare import assert_lakes_equal
from transcript_lake.lock import EXIT_LOCKED, holder

# The lock is the pipeline's, whatever stages a run selects: ingest alone holds it for a whole JVM run.
BRONZE = ("raw_records",)


def command(lake: Path, manifest: str) -> list[str]:
    return pipeline_command(lake, manifest, "--only", "ingest")


class Run:
    """A pipeline process whose output goes to a file (no pipe to fill) and whose end time is noted."""

    def __init__(self, cmd: list[str], log: Path):
        env = {k: v for k, v in os.environ.items() if k != "TRANSCRIPT_LAKE_FAULT"}
        self.log = log
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
        self.pid = self.proc.pid
        self.ended: float | None = None

    def poll(self) -> bool:
        if self.ended is None and self.proc.poll() is not None:
            self.ended = time.monotonic()
        return self.ended is not None

    @property
    def rc(self) -> int:
        return self.proc.returncode

    @property
    def output(self) -> str:
        return self.log.read_text()


def wait_all(*runs: Run, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    # a list, not a generator: all() stops at the first False, and an unpolled run's end time would be late
    while not all([r.poll() for r in runs]):
        assert time.monotonic() < deadline, "runs did not finish"
        time.sleep(0.2)


@pytest.mark.slow
def test_two_runs_at_once_one_runs_and_the_other_fails_fast_or_waits(spark, gold_lake, tmp_path):
    conf, _ = gold_lake
    reference = Path(conf.get("lake.root"))
    lake = tmp_path / "lake"
    cmd = command(lake, conf.get("inputs.manifest"))

    # 1. started at the same instant: exactly one runs; the other stops in seconds, before any JVM
    t0 = time.monotonic()
    a, b = Run(cmd, tmp_path / "a.log"), Run(cmd, tmp_path / "b.log")
    wait_all(a, b)
    assert sorted([a.rc, b.rc]) == [0, EXIT_LOCKED], (a.output[-2000:], b.output[-2000:])
    winner, loser = (a, b) if a.rc == 0 else (b, a)
    assert "is busy: another pipeline run holds" in loser.output and f"pid {winner.pid}" in loser.output, loser.output[-2000:]
    assert "Ivy" not in loser.output and loser.ended - t0 < 20, "the losing run should fail before starting Spark"
    assert "1 stage(s) ran" in winner.output
    assert_lakes_equal(spark, lake, reference, only=BRONZE)
    assert holder(lake / "_pipeline.lock") == {}  # released: the file stays, empty

    # 2. --wait: the second run waits for the first (a full refresh, so it holds the lake a while)
    first = Run(cmd + ["--full-refresh"], tmp_path / "first.log")
    deadline = time.monotonic() + 120
    while holder(lake / "_pipeline.lock").get("pid") != first.pid:
        assert not first.poll() and time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.2)
    second = Run(cmd + ["--wait", "600"], tmp_path / "second.log")
    wait_all(first, second)
    assert first.rc == 0 and second.rc == 0, (first.output[-2000:], second.output[-2000:])
    assert "[lock] waiting up to 600 s" in second.output and f"pid {first.pid}" in second.output
    assert "(0 stage(s) ran, 1 skipped)" in second.output  # the first run left nothing to do
    assert second.ended > first.ended
    assert_lakes_equal(spark, lake, reference, only=BRONZE)

    # every run is in the history once; no two runs overlapped
    runs = spark.read.format("delta").load(str(lake / "pipeline_runs"))
    per_run = runs.groupBy("run_id").agg(F.count("*").alias("n"), F.min("started_at").alias("s"), F.max("finished_at").alias("f"))
    rows = sorted(per_run.collect(), key=lambda r: r["s"])
    assert [r["n"] for r in rows] == [1, 1, 1]
    assert all(x["f"] <= y["s"] for x, y in zip(rows, rows[1:])), "runs overlapped"


def _take_lock_at_the_barrier(lake: str, barrier, results) -> None:
    """One contender: wait for the others, then try the lock once (no wait) and hold it briefly."""
    from transcript_lake.config import load_config
    from transcript_lake.lock import LakeLocked, lake_lock

    barrier.wait()
    try:
        with lake_lock(load_config("test", [f"lake.root={lake}"]), wait_s=0):
            time.sleep(0.3)
        results.put("ran")
    except LakeLocked as exc:  # the message must name the holder, even one that took the lock an instant ago
        results.put("locked" if "(pid " in str(exc) else f"locked without naming the holder: {exc}")
    except Exception as exc:  # any other outcome is the bug this test exists for
        results.put(f"{type(exc).__name__}: {exc}")


def test_many_runs_starting_on_a_new_lake_at_once_get_the_lock_or_a_clean_busy_error(tmp_path):
    # CI caught two races here: runs creating a new lake at the same instant shared one fixed
    # write-probe file name, and one deleted the other's probe ("lake root is not writable"); and a
    # loser read the lock file between the winner's flock and its writing who it is.
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    for attempt in range(5):
        lake = str(tmp_path / f"lake{attempt}" / "nested")
        contenders = 8
        barrier, results = ctx.Barrier(contenders), ctx.Queue()
        procs = [ctx.Process(target=_take_lock_at_the_barrier, args=(lake, barrier, results)) for _ in range(contenders)]
        for p in procs:
            p.start()
        outcomes = sorted(results.get(timeout=120) for _ in procs)
        for p in procs:
            p.join(timeout=60)
        assert set(outcomes) <= {"ran", "locked"}, outcomes
        assert "ran" in outcomes, outcomes
        assert holder(Path(lake) / "_pipeline.lock") == {}
        assert sorted(os.listdir(lake)) == ["_pipeline.lock"]  # no probe left behind
