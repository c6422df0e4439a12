"""The pipeline on a real Spark cluster: a standalone master + worker on localhost started from the
pip-installed pyspark, the library shipped to executors as a wheel (``--py-files``), ``conf/cluster.yaml``.
Its tables must equal those of the ``local[*]`` run (the session's ``gold_lake``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SMALL_TOPICS
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
def test_pipeline_on_a_standalone_cluster_equals_the_local_run(spark, gold_lake, standalone_cluster, tmp_path):
    conf, _ = gold_lake
    dist = tmp_path / "dist"
    wheel = subprocess.run([PY, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert wheel.returncode == 0, wheel.stderr[-2000:]
    (whl,) = dist.glob("transcript_lake-*.whl")

    lake, events = tmp_path / "lake", tmp_path / "events"
    events.mkdir()
    flags = subprocess.run([PY, "-m", "transcript_lake.cli", "submit-args", "--env", "cluster"],
                           capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    overrides = [f"inputs.manifest={conf.get('inputs.manifest')}", *SMALL_TOPICS]
    cmd = [str(BIN / "spark-submit"), "--master", standalone_cluster, *flags, "--py-files", str(whl),
           "--driver-memory", "2g", "--conf", f"spark.pyspark.python={PY}", "--conf", "spark.executor.memory=2g",
           "--conf", f"spark.eventLog.dir={events.as_uri()}",
           "jobs/pipeline.py", "--env", "cluster", "--lake", str(lake), *[a for o in overrides for a in ("--set", o)]]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1200,
                       env={**os.environ, "PYSPARK_PYTHON": PY, "LAKE_ROOT": str(lake)})
    # spark-submit's Python runner sends the job's stderr to stdout: the log and the summary are both there
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert "7 stage(s) ran" in p.stdout, p.stdout[-4000:]
    logs = list(events.iterdir())
    # Spark 4 writes eventlog_v2_<app id>/ folders (rolling logs), earlier versions one app-<id> file
    assert any("app-" in l.name for l in logs), f"no event log for the history server in {events}: {logs}"

    compared = assert_lakes_equal(spark, lake, Path(conf.get("lake.root")))
    assert {"segments", "windows", "mentions", "keyphrases", "concepts", "topics", "window_topics",
            "concept_timeline"} <= set(compared)
