"""Crash anywhere: the pipeline is SIGKILLed (driver, JVM and Python workers: the whole process
group) one kill per kind of write, one after another on the same lake, plus one kill from outside at a
seeded random moment. After each kill every table must be readable, hold no row an uninterrupted run
would not hold (no duplicates) and no half video; the next run picks up where the last one died. After
the last kill, one clean run must leave exactly the tables of an uninterrupted run (``gold_lake``).

Kill points are named by ``TRANSCRIPT_LAKE_FAULT`` (see :mod:`transcript_lake.faults`): ``during`` a
write (as soon as the write's first data file is on disk, whatever the machine's speed; the model save
by a timer) and ``after`` a commit (before the stage's next commit). Each kind of write is killed once, because every write of a kind goes through the same
helper (:mod:`transcript_lake.tables`): a ``replaceWhere`` mid-write, a MERGE mid-write, a diff write
(``merge_changes``: an overwrite of a small gold table) mid-write, the model save mid-write; and the two recovery records between commits: the ingest ledger
(``source_files``) and a per-video stage's markers (``stage_state``, written by the orchestrator).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT, pipeline_command
from lake_compare import OPS_TABLES, VOLATILE_COLUMNS, assert_lakes_equal, delta_tables

# (kind of write, fault spec): in pipeline order, so each run gets one step further.
# "external": the test itself kills the run's process group at a random moment (seeded).
KILL_POINTS = [
    ("any moment", "external"),
    ("ledger between commits", "raw_records:after"),          # ingest: rows committed, source_files not
    ("markers between commits", "windows:after"),             # rows committed, stage_state markers not
    ("replaceWhere mid-write", "mentions:during+file"),       # the spaCy write, killed at its first data file
    ("MERGE mid-write", "phrase_embeddings:during+file"),
    ("model save mid-write", "topic_model:during@0.05"),
    ("diff write mid-write", "concept_video:during+file"),
]


def run_pipeline_process(cmd: list[str], fault: str | None = None, kill_after_s: float | None = None, lake: Path | None = None):
    """Run the pipeline in its own process group; kill the group after ``kill_after_s`` if given."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TRANSCRIPT_LAKE_FAULT", None)
    if fault:
        env["TRANSCRIPT_LAKE_FAULT"] = fault
        env["TRANSCRIPT_LAKE_FAULT_LAKE"] = str(lake)  # where `during+file` watches for the first file
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=kill_after_s or 900)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return proc.returncode, out, err, time.perf_counter() - t0


def orphan_files(table_dir: Path) -> int:
    """Data files in the table's folder that no commit references and that hold rows or were cut off
    (no Parquet footer): written by a write that never committed, proof the kill landed mid-write.
    Zero-row files are left out: Spark writes one for an empty task and Delta never adds it.
    VACUUM removes them; readers never see them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    referenced = set()
    for commit in (table_dir / "_delta_log").glob("*.json"):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                referenced.add(action["add"]["path"])
    n = 0
    for p in table_dir.rglob("*.parquet"):
        if "_delta_log" in p.parts or str(p.relative_to(table_dir)) in referenced:
            continue
        try:
            n += pq.ParquetFile(p).metadata.num_rows > 0
        except (pa.ArrowInvalid, OSError):  # no footer: the task was killed while writing it
            n += 1
    return n


def plain(value):
    """A hashable, comparable form of one cell: doubles to 4 places, lists/structs/maps as tuples
    (maps sorted), as lake_compare.comparable does for Spark rows."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return tuple((k, plain(v)) for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        items = tuple(plain(v) for v in value)
        # a map reads back as a list of (key, value) pairs: its order is not data
        return tuple(sorted(items, key=repr)) if value and all(isinstance(v, tuple) for v in value) else items
    return value


def rows_of(table) -> tuple[list[str], Counter]:
    """The comparable columns of a pyarrow table (no volatile columns, timestamps or vectors: see
    lake_compare) and its rows as a multiset."""
    import pyarrow as pa

    def vector(t):
        return (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_floating(t.value_type)

    cols = [f.name for f in table.schema if f.name not in VOLATILE_COLUMNS and not pa.types.is_timestamp(f.type)
            and not vector(f.type)]
    data = table.select(cols).to_pylist()
    return cols, Counter(tuple(plain(r[c]) for c in cols) for r in data)


def assert_consistent(lake: Path, reference: Path, reference_rows: dict) -> dict:
    """Every table readable; every row one an uninterrupted run has (so no duplicates); every video
    present complete; tables without videos empty or complete. Returns rows per table.

    Read with the deltalake reader (no Spark): the log replays and every file it references opens;
    the final comparison after the repairing run is Spark's (lake_compare), as users read."""
    from deltalake import DeltaTable

    rows = {}
    for table in delta_tables(lake):
        data = DeltaTable(str(lake / table)).to_pyarrow_table()
        rows[table] = data.num_rows
        if table in OPS_TABLES or table not in reference_rows:
            continue
        cols, mine = rows_of(data)
        ref_cols, theirs = reference_rows[table]
        assert cols == ref_cols, (table, cols, ref_cols)
        extra = mine - theirs
        assert not extra, f"{table}: {sum(extra.values())} row(s) an uninterrupted run does not have (duplicates?): {list(extra)[:2]}"
        if "video_id" in cols:
            at = cols.index("video_id")
            per_video, ref_per_video = Counter(), Counter()
            for r, n in mine.items():
                per_video[r[at]] += n
            for r, n in theirs.items():
                ref_per_video[r[at]] += n
            half = [v for v, n in per_video.items() if n != ref_per_video[v]]
            assert not half, f"{table}: half-written video(s) {half}"
        elif rows[table]:
            assert rows[table] == sum(theirs.values()), f"{table}: {rows[table]} rows, an uninterrupted run has {sum(theirs.values())}"
    return rows


def reference_rows_of(reference: Path) -> dict:
    from deltalake import DeltaTable

    return {t: rows_of(DeltaTable(str(reference / t)).to_pyarrow_table()) for t in delta_tables(reference) if t not in OPS_TABLES}


@pytest.mark.slow
def test_killed_anywhere_the_lake_stays_consistent_and_the_next_run_repairs_it(spark, gold_lake, tmp_path):
    conf, _ = gold_lake
    reference = Path(conf.get("lake.root"))
    lake = tmp_path / "lake"
    cmd = pipeline_command(lake, conf.get("inputs.manifest"))
    seed = int(os.environ.get("CRASH_SEED", "7"))
    rng = random.Random(seed)
    report = []
    reference_rows = reference_rows_of(reference)
    seen_orphans: dict[str, int] = {}

    def after_kill(label: str, rc: int, err: str, seconds: float, kind: str):
        assert rc == -signal.SIGKILL, f"{label}: expected the run to be killed, it exited {rc}:\n{err[-3000:]}"
        rows = assert_consistent(lake, reference, reference_rows)
        table = label.split(":")[0]
        total = orphan_files(lake / table) if (lake / table / "_delta_log").is_dir() else 0
        orphans, seen_orphans[table] = total - seen_orphans.get(table, 0), total  # left by this kill
        report.append({"kill": label, "kind": kind, "seconds": round(seconds, 1), "tables": len(rows),
                       "rows": sum(rows.values()), "uncommitted_files": orphans})
        return orphans

    # 1. kills at named points inside each stage's writes, and two from outside at a random moment
    landed_mid_write = []
    for kind, fault in KILL_POINTS:
        if fault == "external":  # seeded: CRASH_SEED=<n> reproduces a failure
            # early enough that the run cannot get past the next named point: JVM start-up or ingest
            at = round(rng.uniform(3, 12), 1)
            rc, out, err, seconds = run_pipeline_process(cmd, kill_after_s=at)
            after_kill(f"external:SIGKILL at {at} s (seed {seed})", rc, err, seconds, kind)
            continue
        rc, out, err, seconds = run_pipeline_process(cmd, fault=fault, lake=lake)
        assert f"[fault] SIGKILL at {fault.split('@')[0].split('#')[0].replace('+file', '')}" in err, f"{fault} was never reached:\n{err[-3000:]}"
        late = "finished first" in err  # a `during` kill that the write outran: it died at the commit
        if after_kill(fault + (" (at its commit)" if late else ""), rc, err, seconds, kind) and ":during" in fault and not late:
            landed_mid_write.append(fault)

    # 2. one clean run repairs everything: the tables of an uninterrupted run, compared in full
    rc, out, err, seconds = run_pipeline_process(cmd)
    assert rc == 0, err[-4000:]
    compared = assert_lakes_equal(spark, lake, reference)
    report.append({"kill": None, "kind": "clean run", "seconds": round(seconds, 1), "tables_compared": len(compared)})
    print("\n" + "\n".join(json.dumps(r) for r in report))  # pytest -s shows what each kill left
    if os.environ.get("CRASH_REPORT"):
        Path(os.environ["CRASH_REPORT"]).write_text(json.dumps(report, indent=1))

    kinds = {kind for kind, _ in KILL_POINTS}
    assert len(kinds) == len(KILL_POINTS)  # one kill per kind of write
    # the long writes were really cut mid-way: data files on disk that no commit references
    assert landed_mid_write, report
    assert len(compared) >= 17
