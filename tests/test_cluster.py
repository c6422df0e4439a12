"""The pipeline on a real Spark cluster, continuing a lake that moved: a standalone master + worker on
localhost started from the pip-installed pyspark, ``conf/cluster.yaml``, the library shipped to executors
as a wheel (``--py-files``). The lake was built locally (``local[*]``, the session's ``gold_lake``),
then copied elsewhere and the original deleted; the run comes from a second clone of the project (its
own code and its own copy of the inputs, named by a manifest relative to that clone). Only the new video
is processed, topics assign it with the saved model, nothing is quarantined as a duplicate, stored paths
resolve inside the lake, and every table equals the lake that stayed where it was built and got the
same video there (``gold_plus_one``). One run proves both "portable" and "cluster": each costs a JVM
and a pipeline run, so they share one."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from conftest import FIXTURES, NEW_VIDEO, ROOT, SMALL_TOPICS, load
from lake_compare import assert_lakes_equal

PY = sys.executable
BIN = Path(PY).parent
IGNORE = shutil.ignore_patterns(".venv", ".git", "lake", "__pycache__", ".pytest_cache", "results", "dist", "build",
                                "*.egg-info", "_output", ".gpu")


# spark-submit --conf values for the test cluster; conf/cluster.yaml sets other values for each of them.
SUBMITTED = (("spark.sql.shuffle.partitions", "2"), ("spark.databricks.delta.snapshotPartitions", "2"),
             ("spark.sql.sources.parallelPartitionDiscovery.parallelism", "2"), ("spark.eventLog.compress", "false"))


def submitted_properties(events: Path) -> dict:
    """The Spark properties the application ran with, from its (uncompressed) event log."""
    for log in sorted(p for p in events.rglob("*") if p.is_file() and not p.name.startswith(".")):
        with log.open(encoding="utf-8") as lines:
            for line in lines:
                if '"SparkListenerEnvironmentUpdate"' in line:
                    return json.loads(line)["Spark Properties"]
    raise AssertionError(f"no environment update in the event log under {events}")


def second_clone(dst: Path) -> Path:
    """A second checkout of this project (its files as they are, without the venv, git or lakes)."""
    shutil.copytree(ROOT, dst, ignore=IGNORE)
    return dst


def moved_lake(built: Path, tmp_path: Path) -> Path:
    """The lake copied to another folder and the original (a copy of it, here) deleted."""
    first = tmp_path / "built" / "lake"
    shutil.copytree(built, first)
    moved = tmp_path / "elsewhere" / "lake"
    shutil.copytree(first, moved)
    shutil.rmtree(first)
    return moved


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"nothing listens on {port} after {seconds} s:\n{log.read_text()[-3000:]}")


def _start(args: list[str], log: Path, env: dict) -> subprocess.Popen:
    # Own process group: stopping it by PID also stops the JVM that spark-class execs.
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture
def standalone_cluster(tmp_path):
    """``spark://127.0.0.1:<port>``: one master, one worker with 2 cores; stopped by PID afterwards."""
    env = {**os.environ, "SPARK_LOG_DIR": str(tmp_path / "logs"), "PYSPARK_PYTHON": PY,
           "SPARK_WORKER_DIR": str(tmp_path / "work")}
    port = 7077 if _port_free(7077) else _free_port()
    master = _start([str(BIN / "spark-class"), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                     "--port", str(port), "--webui-port", str(_free_port())], tmp_path / "master.log", env)
    worker = None
    try:
        _wait_for_port(port, master, tmp_path / "master.log")
        url = f"spark://127.0.0.1:{port}"
        worker = _start([str(BIN / "spark-class"), "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                         "--cores", "2", "--memory", "6g", "--webui-port", str(_free_port()),
                         "--work-dir", str(tmp_path / "work")], tmp_path / "worker.log", env)
        deadline = time.time() + 90
        while "Successfully registered with master" not in (tmp_path / "worker.log").read_text():
            if worker.poll() is not None or time.time() > deadline:
                raise RuntimeError("worker did not register:\n" + (tmp_path / "worker.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        for proc in (worker, master):
            if proc is not None:
                _stop(proc)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.mark.slow
def test_a_moved_lake_continues_on_a_standalone_cluster_from_another_clone(spark, gold_lake, gold_plus_one,
                                                                           standalone_cluster, tmp_path):
    conf, _ = gold_lake
    here = gold_plus_one[0]  # the lake that stayed where it was built and got the new video there
    lake, events = moved_lake(Path(conf.get("lake.root")), tmp_path), tmp_path / "events"
    events.mkdir()

    # a second clone with its own copy of the inputs at paths of its own: a relative manifest inside it
    clone = second_clone(tmp_path / "clone2")
    shutil.copytree(FIXTURES / "corpus_small", clone / "inputs")
    shutil.copy(NEW_VIDEO, clone / "inputs" / NEW_VIDEO.name)
    entries = yaml.safe_load(Path(conf.get("inputs.manifest")).read_text())["sources"]
    for entry in entries:
        entry["path"] = "inputs/" + Path(entry["path"]).name  # relative to clone 2's root: another source_path
    (clone / "conf" / "moved-sources.yaml").write_text(yaml.safe_dump({"sources": entries}))

    dist = tmp_path / "dist"  # the clone's own code, shipped to the executors
    wheel = subprocess.run([PY, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(clone)],
                           capture_output=True, text=True, timeout=300)
    assert wheel.returncode == 0, wheel.stderr[-2000:]
    (whl,) = dist.glob("transcript_lake-*.whl")
    cmd = [PY, "-m", "transcript_lake.cli", "submit", "--master", standalone_cluster, "--py-files", str(whl),
           "--conf", "spark.driver.memory=2g", "--conf", f"spark.pyspark.python={PY}", "--conf", "spark.executor.memory=2g",
           "--conf", f"spark.eventLog.dir={events.as_uri()}",
           # sized for this 2-core test cluster (conf/cluster.yaml's 64 partitions are for real ones), and
           # proof that a property given to spark-submit wins over the environment's default for it
           *[a for kv in SUBMITTED for a in ("--conf", "=".join(kv))],
           "jobs/pipeline.py", "--env", "cluster", "--lake", str(lake), "--input", f"inputs/{NEW_VIDEO.name}",
           *[a for o in ["inputs.manifest=conf/moved-sources.yaml", *SMALL_TOPICS] for a in ("--set", o)]]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRANSCRIPT_LAKE_FAULT")}
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=clone, timeout=1200, env={**env, "LAKE_ROOT": str(lake)})
    # spark-submit's Python runner sends the job's stderr to stdout: the log and the summary are both there
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-4000:]
    assert f"from {clone / 'transcript_lake'}" in out, "the second clone must run its own code"
    logs = list(events.iterdir())
    # Spark 4 writes eventlog_v2_<app id>/ folders (rolling logs), earlier versions one app-<id> file
    assert any("app-" in l.name for l in logs), f"no event log for the history server in {events}: {logs}"
    properties = submitted_properties(events)
    assert {k: properties.get(k) for k, _ in SUBMITTED} == dict(SUBMITTED), "spark-submit's --conf must win over conf/cluster.yaml"

    moved_conf = conf.with_overrides([f"lake.root={lake}"])
    runs = load(spark, moved_conf, "pipeline_runs")
    last = runs.filter(F.col("run_id") == runs.agg(F.max("run_id")).first()[0]).collect()
    metrics = {r["stage"]: json.loads(r["metrics"] or "{}") for r in last}
    assert {r["stage"] for r in last if r["status"] == "failed"} == set()
    assert metrics["ingest"]["files_parsed"] == 1 and metrics["ingest"]["files_moved"] == 4, metrics["ingest"]
    assert metrics["segments"]["videos_rebuilt"] == 1 and metrics["windows"]["videos_rebuilt"] == 1
    assert metrics["terms"]["videos_processed"] == 1 and metrics["terms"]["phrases_embedded"] < 50
    assert metrics["topics"]["refit"] == 0 and metrics["topics"]["videos_assigned"] == 1, metrics["topics"]
    quarantine = load(spark, moved_conf, "quarantine")
    assert quarantine.filter(F.col("reason").startswith("duplicate")).count() == 0
    assert quarantine.count() == load(spark, here, "quarantine").count()
    for r in load(spark, moved_conf, "topic_runs").collect():  # stored paths that must resolve: lake-relative
        assert not Path(r["model_path"]).is_absolute() and (lake / r["model_path"] / "config.json").is_file()

    # source_path is informative (relative to the project the driver imported its code from)
    compared = assert_lakes_equal(spark, lake, Path(here.get("lake.root")), ignore_columns={"source_path"})
    assert {"segments", "windows", "mentions", "keyphrases", "concepts", "topics", "window_topics",
            "concept_timeline"} <= set(compared)
