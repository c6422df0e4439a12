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
from pyspark.sql import functions as F
from pyspark.sql import types as T

from conftest import ROOT, SMALL_TOPICS

PY = sys.executable
BIN = Path(PY).parent

# Tables that record when/how long/where a run happened rather than what it computed.
OPS_TABLES = {"stage_state", "pipeline_runs", "topic_runs", "source_files"}
VOLATILE_COLUMNS = {"model_path", "report_path", "fit_seconds", "run_id"}


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


def _is_vector(f) -> bool:
    return isinstance(f.dataType, T.ArrayType) and isinstance(f.dataType.elementType, (T.DoubleType, T.FloatType))


def _comparable(df):
    """Without volatile columns and embedding vectors (compared with a tolerance, see below);
    doubles rounded to 4 places."""
    cols = []
    for f in df.schema.fields:
        if f.name in VOLATILE_COLUMNS or isinstance(f.dataType, T.TimestampType) or _is_vector(f):
            continue
        cols.append(_rounded(F.col(f"`{f.name}`"), f.dataType).alias(f.name))
    return df.select(*cols)


def _rounded(c, dtype):
    """Doubles rounded to 4 places, also inside arrays of structs (e.g. concepts.aliases.similarity)."""
    if isinstance(dtype, (T.DoubleType, T.FloatType)):
        return F.round(c, 4)
    if isinstance(dtype, T.ArrayType) and isinstance(dtype.elementType, T.StructType):
        doubles = [s.name for s in dtype.elementType.fields if isinstance(s.dataType, (T.DoubleType, T.FloatType))]
        if doubles:
            def fix(x):
                for name in doubles:
                    x = x.withField(name, F.round(x[name], 4))
                return x
            return F.transform(c, fix)
    return c


def _max_vector_difference(mine, theirs) -> float:
    """Largest element-wise difference of the embedding vectors, rows matched on the other columns.
    An embedding's last bits depend on which texts shared its batch (padding), so exact equality is
    not expected; anything above 1e-4 would be a real difference."""
    import numpy as np

    vec = [f.name for f in mine.schema.fields if _is_vector(f)]
    if not vec:
        return 0.0
    # rows matched on the scalar columns (they include each table's natural key)
    scalar = (T.StringType, T.IntegerType, T.LongType, T.ShortType, T.BooleanType, T.DateType)
    keys = [f.name for f in _comparable(mine).schema.fields if isinstance(f.dataType, scalar)]
    a = mine.select(*keys, *vec).toPandas().sort_values(keys).reset_index(drop=True)
    b = theirs.select(*keys, *vec).toPandas().sort_values(keys).reset_index(drop=True)
    assert a[keys].equals(b[keys])
    worst = 0.0
    for v in vec:  # per row: arrays may differ in length between rows (windows.seg_starts)
        for x, y in zip(a[v], b[v]):
            x, y = np.asarray(x if x is not None else [], "float64"), np.asarray(y if y is not None else [], "float64")
            if x.shape != y.shape:
                return float("inf")
            if x.size:
                worst = max(worst, float(np.abs(x - y).max()))
    return worst


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

    local_root = Path(conf.get("lake.root"))
    compared = []
    for table in sorted(d.name for d in local_root.iterdir() if (d / "_delta_log").is_dir()):
        if table in OPS_TABLES:
            continue
        assert (lake / table / "_delta_log").is_dir(), f"{table} missing from the cluster lake"
        mine = _comparable(spark.read.format("delta").load(str(lake / table)))
        theirs = _comparable(spark.read.format("delta").load(str(local_root / table)))
        assert mine.count() == theirs.count(), table
        assert mine.exceptAll(theirs).isEmpty() and theirs.exceptAll(mine).isEmpty(), f"{table} differs"
        raw_mine = spark.read.format("delta").load(str(lake / table))
        assert _max_vector_difference(raw_mine, spark.read.format("delta").load(str(local_root / table))) < 1e-4, table
        compared.append(table)
    assert {"segments", "windows", "mentions", "keyphrases", "concepts", "topics", "window_topics",
            "concept_timeline"} <= set(compared)
