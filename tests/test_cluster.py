"""The pipeline on a real Spark cluster: a standalone master + worker on localhost started from the
pip-installed pyspark, the library shipped to executors as a wheel (``--py-files``), ``conf/cluster.yaml``.
The cluster continues a lake built locally (``local[*]``, the session's ``gold_lake``) with one more
video: only that video is processed there, and every table equals the lake that got the same video
locally (``gold_plus_one``)."""

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

from conftest import NEW_VIDEO, ROOT, SMALL_TOPICS, load
from lake_compare import assert_lakes_equal

PY = sys.executable
BIN = Path(PY).parent


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
def test_a_lake_built_locally_continues_on_a_standalone_cluster(spark, gold_lake, gold_plus_one, standalone_cluster, tmp_path):
    conf, _ = gold_lake
    dist = tmp_path / "dist"
    wheel = subprocess.run([PY, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert wheel.returncode == 0, wheel.stderr[-2000:]
    (whl,) = dist.glob("transcript_lake-*.whl")

    lake, events = tmp_path / "lake", tmp_path / "events"
    shutil.copytree(conf.get("lake.root"), lake)  # built locally, continued on the cluster
    events.mkdir()
    overrides = [f"inputs.manifest={conf.get('inputs.manifest')}", *SMALL_TOPICS]
    cmd = [PY, "-m", "transcript_lake.cli", "submit", "--master", standalone_cluster, "--py-files", str(whl),
           "--conf", "spark.driver.memory=2g", "--conf", f"spark.pyspark.python={PY}", "--conf", "spark.executor.memory=2g",
           "--conf", f"spark.eventLog.dir={events.as_uri()}",
           "jobs/pipeline.py", "--env", "cluster", "--lake", str(lake), "--input", str(NEW_VIDEO),
           *[a for o in overrides for a in ("--set", o)]]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1200,
                       env={**os.environ, "LAKE_ROOT": str(lake)})
    # spark-submit's Python runner sends the job's stderr to stdout: the log and the summary are both there
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    logs = list(events.iterdir())
    # Spark 4 writes eventlog_v2_<app id>/ folders (rolling logs), earlier versions one app-<id> file
    assert any("app-" in l.name for l in logs), f"no event log for the history server in {events}: {logs}"

    runs = load(spark, conf.with_overrides([f"lake.root={lake}"]), "pipeline_runs")
    last = runs.filter(runs.run_id == runs.agg({"run_id": "max"}).first()[0]).collect()
    metrics = {r["stage"]: json.loads(r["metrics"] or "{}") for r in last}
    assert metrics["ingest"]["files_parsed"] == 1 and metrics["segments"]["videos_rebuilt"] == 1
    assert metrics["terms"]["videos_processed"] == 1 and metrics["topics"]["refit"] == 0

    # source_path is informative (relative to the project the driver imported its code from)
    compared = assert_lakes_equal(spark, lake, Path(gold_plus_one[0].get("lake.root")), ignore_columns={"source_path"})
    assert {"segments", "windows", "mentions", "keyphrases", "concepts", "topics", "window_topics",
            "concept_timeline"} <= set(compared)
