"""The orchestrator: the registered stages in dependency order, each skipped when nothing it depends on
changed, each recorded in ``pipeline_runs``. Stages that do not read each other's tables run at once, up to
``run.parallel_stages`` (:func:`stage_waits_for` derives what each waits for from the declarations).

For every chosen stage: compute its settings (``stage.settings(conf)``) and its plan
(:func:`~transcript_lake.incremental.plan_stage`: input versions, settings hash, non-table inputs,
output versions against the fingerprint it left last time). Skipped: a ``skipped`` row, no Spark job.
Otherwise: run it with a :class:`~transcript_lake.stage.StageContext`, then commit its markers and
fingerprint (:func:`~transcript_lake.incremental.commit_stage`) and append its ``pipeline_runs`` row.
``full_refresh`` runs the chosen stages and makes them rebuild everything.

Example::

    summary = run_pipeline(spark, conf, select_stages(start="terms"))
    print(format_summary(spark, summary))
    summary.results["terms"].metrics          # {'videos_processed': 1, 'mentions': 812, ...}
    spark.sql("SELECT stage, status, seconds FROM transcripts.pipeline_runs ORDER BY started_at DESC")
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from pyspark.sql import SparkSession

from . import __version__
from .catalog import register_lake
from .config import Config
from .errors import ConfigError
from .incremental import StagePlan, commit_stage, fingerprints, plan_stage
from .lake import lake_root, local_table_dir, table_path
from .lock import lake_lock
from .registry import get_stage, select_stages, stage_names
from .stage import Settings, Stage, StageContext, StageResult
from .tables import COMMIT_METADATA, append_rows, table_rows, table_version

log = logging.getLogger("transcript_lake")


SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|credential|api[._-]?key|access[._-]?key|private[._-]?key)")

__all__ = ["run_pipeline", "format_summary", "select_stages", "stage_settings", "PipelineSummary"]


def full_refresh(conf: Config) -> bool:
    """``run.full_refresh`` (set by ``--full-refresh``): stages rebuild everything they own."""
    return bool(conf.get("run.full_refresh", False))


def redacted(values):
    """``values`` with the values of secret-looking keys (passwords, tokens, access keys) replaced by a
    hash: what is recorded in ``pipeline_runs`` and the logs never holds them in clear."""
    def walk(value, key: str = ""):
        if SECRET_KEY.search(key) and value not in (None, ""):
            return "<redacted sha256:" + hashlib.sha256(str(value).encode()).hexdigest()[:8] + ">"
        if isinstance(value, dict):
            return {k: walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(values)


def stage_settings(conf: Config, stage: Stage) -> Settings:
    """The stage's settings with secrets redacted (they still change the hash when they change)."""
    s = stage.settings(conf)
    return Settings(redacted(s.output), redacted(s.speed))


@dataclass
class PipelineSummary:
    run_id: str
    conf: Config
    results: dict[str, StageResult] = field(default_factory=dict)   # stage -> result (run or skipped)
    plans: dict[str, StagePlan] = field(default_factory=dict)
    rows: dict[str, dict] = field(default_factory=dict)             # stage -> pipeline_runs row
    seconds: float = 0.0
    table_counts: dict = field(default_factory=dict)

    @property
    def ran(self) -> list[str]:
        return [s for s, r in self.results.items() if r.status == "succeeded"]


def _row(run_id: str, plan: StagePlan, result: StageResult, started: datetime, conf: Config, settings: Settings,
         rows_in: dict, error: str | None = None) -> dict:
    return {
        "run_id": run_id, "stage": plan.stage, "status": result.status, "reason": plan.reason,
        "started_at": started, "finished_at": datetime.now(timezone.utc), "seconds": round(result.seconds, 3),
        "input_versions": plan.input_versions, "output_versions": plan.output_versions,
        "rows_in": rows_in, "rows_out": plan.rows_out if result.status != "failed" else {},
        "config_hash": plan.settings_hash, "config": json.dumps({"output": settings.output, "speed": settings.speed},
                                                                sort_keys=True, default=str),
        "sources_fingerprint": plan.sources, "metrics": json.dumps(result.metrics, default=str), "error": error,
        "env": conf.env, "full_refresh": full_refresh(conf),
    }


def run_pipeline(spark: SparkSession, conf: Config, stages: Sequence[str] | None = None,
                 register: bool = True) -> PipelineSummary:
    """Run ``stages`` (default: all) in dependency order; record each in ``pipeline_runs``; return the summary.

    A skipped stage costs a few Delta log listings. A failing stage is recorded with its error, then the
    exception propagates (later stages do not run on a half-updated input). The lake's lock
    (:mod:`transcript_lake.lock`) is held throughout: one run per lake at a time. ``register``: afterwards,
    name the lake's tables and views in this session's catalog (a CLI run, whose session ends, skips it).
    """
    with lake_lock(conf):  # re-entrant: the CLI already holds it
        return _run_pipeline(spark, conf, stages, register)


def _new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def plan_pipeline(spark: SparkSession | None, conf: Config, stages: Sequence[str] | None,
                  last: dict | None = None) -> dict[str, tuple]:
    """``{stage: (Stage, Settings, StagePlan)}`` for the chosen stages, in pipeline order, against the
    recorded fingerprints ``last`` (read when not given). With ``spark=None`` (a local lake) no JVM is
    needed: the CLI plans first and starts Spark only when a stage must run."""
    names = stage_names()
    for n in stages or ():
        get_stage(n)  # unknown name: one clear error
    last = fingerprints(spark, conf) if last is None else last
    refresh = full_refresh(conf)
    plans = {}
    for name in [n for n in names if n in set(stages or names)]:
        stage = get_stage(name)
        settings = stage_settings(conf, stage)
        plans[name] = (stage, settings, plan_stage(spark, conf, stage, settings, last.get(name), refresh))
    return plans


def parallel_stages(conf: Config) -> int:
    """``run.parallel_stages``: how many independent stages may run at once (1: one after another)."""
    value = conf.get("run.parallel_stages", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"run.parallel_stages must be a whole number >= 1, not {value!r}")
    return value


def stage_waits_for(chosen: Sequence[str]) -> dict[str, set[str]]:
    """For each chosen stage, the chosen stages it must wait for: those that write a table it reads.
    Stages not chosen are not waited for (their tables are what the lake holds)."""
    owner = {t: n for n in chosen for t in get_stage(n).outputs}
    return {n: {owner[t] for t in get_stage(n).inputs if t in owner} for n in chosen}


def stage_session(spark: SparkSession, concurrent: bool) -> SparkSession:
    """The session a stage runs in. Stages running at once each get their own session on the same
    SparkContext (``newSession``: same cluster, cache and catalog), because a session's SQL conf is
    shared by its threads and each stage stamps its commits through it (``COMMIT_METADATA``). The
    parent's runtime settings are carried over."""
    if not concurrent:
        return spark
    child = spark.newSession()
    for key, value in spark.conf.getAll.items():
        if child.conf.get(key, None) != value:
            try:
                child.conf.set(key, value)
            except Exception:  # a static setting: the SparkContext already has it
                pass
    return child


class _RunState:
    """What the stages of one run share: the summary, the ``pipeline_runs`` rows of skipped stages not
    yet written, and a lock around the orchestrator's own writes (``stage_state``, ``pipeline_runs``),
    which stages running at once must not commit at the same moment (Delta would make one retry or fail)."""

    def __init__(self, summary: PipelineSummary):
        self.summary = summary
        self.pending: list[dict] = []
        self.lock = threading.Lock()


def _run_stage(spark: SparkSession, conf: Config, state: _RunState, i: int, n: int, name: str, planned: dict,
               last: dict, refresh: bool, concurrent: bool) -> None:
    """Plan, run and record one stage (the body of the orchestrator's loop)."""
    summary, run_id = state.summary, state.summary.run_id
    stage, settings, _ = planned[name]
    # planned again just before it runs (a listing): the stages before it may have written its inputs
    plan = plan_stage(spark, conf, stage, settings, last.get(name), refresh)
    summary.plans[name] = plan
    started = datetime.now(timezone.utc)
    if not plan.run:
        log.info("[pipeline] %d/%d %s: skipped (%s)", i, n, name, plan.reason)
        result = StageResult(name, status="skipped", reason=plan.reason)
        summary.results[name] = result
        row = _row(run_id, plan, result, started, conf, settings, {})
        summary.rows[name] = row
        with state.lock:
            state.pending.append(row)
        return
    log.info("[pipeline] %d/%d %s: running (%s)", i, n, name, plan.reason)
    result = StageResult(name, reason=plan.reason)
    session = stage_session(spark, concurrent)
    rows_in = {t: table_rows(session, conf, t) for t in plan.input_versions}
    ctx = StageContext(session, conf, stage, settings, refresh, result)
    # Every Delta commit of the stage carries the run, the stage and its settings hash (DESCRIBE
    # HISTORY -> userMetadata), so each table version says which config produced it.
    session.conf.set(COMMIT_METADATA, json.dumps({"run_id": run_id, "stage": name, "config_hash": plan.settings_hash}))
    try:
        stage.run(ctx)
        with state.lock:
            commit_stage(session, conf, plan, ctx.video_plan)  # markers + fingerprint, written last
    except BaseException as exc:
        result.status, result.seconds = "failed", ctx.timer.elapsed
        summary.results[name] = result
        message = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else ""
        row = _row(run_id, plan, result, started, conf, settings, rows_in, f"{type(exc).__name__}: {message}")
        summary.rows[name] = row
        if not isinstance(exc, KeyboardInterrupt):
            try:
                with state.lock:
                    append_history(session, conf, state.pending + [row])
                    state.pending = []
            except Exception:  # recording must not hide the stage's own error
                log.exception("[pipeline] could not record the failure of %s", name)
        raise
    finally:
        session.conf.unset(COMMIT_METADATA)
    result.seconds = ctx.timer.elapsed
    summary.results[name] = result
    shown = ", ".join(f"{k}={v}" for k, v in result.metrics.items())
    log.info("[%s] finished in %.1f s: %s", name, result.seconds, shown)
    row = _row(run_id, plan, result, started, conf, settings, rows_in)
    summary.rows[name] = row
    with state.lock:
        append_history(session, conf, state.pending + [row])
        state.pending = []
    log.info("[pipeline] %d/%d %s: done in %.1f s, %s", i, n, name, result.seconds,
             ", ".join(f"{t}={rows:,}" for t, rows in plan.rows_out.items()))


def _run_pipeline(spark: SparkSession, conf: Config, stages: Sequence[str] | None, register: bool) -> PipelineSummary:
    t0 = time.perf_counter()
    summary = PipelineSummary(_new_run_id(), conf)
    last = fingerprints(spark, conf)
    planned = plan_pipeline(spark, conf, stages, last)
    chosen = list(planned)
    refresh = full_refresh(conf)
    width = min(parallel_stages(conf), len(chosen)) or 1
    log.info("[pipeline] run %s: %s%s (transcript_lake %s from %s)", summary.run_id, " -> ".join(chosen),
             " (full refresh)" if refresh else "", __version__, Path(__file__).resolve().parent)
    state = _RunState(summary)
    index = {name: i for i, name in enumerate(chosen, start=1)}
    try:
        if width == 1:
            for name in chosen:
                _run_stage(spark, conf, state, index[name], len(chosen), name, planned, last, refresh, False)
        else:
            _run_concurrently(spark, conf, state, chosen, index, planned, last, refresh, width)
    except Exception:
        if state.pending:  # skipped stages not yet recorded when another stage failed
            try:
                append_history(spark, conf, state.pending)
            except Exception:  # recording must not hide the stage's own error
                log.exception("[pipeline] could not record the skipped stages")
        raise
    if state.pending:
        append_history(spark, conf, state.pending)
    if summary.ran and register:
        register_lake(spark, conf)  # tables a stage created become visible by name to later SQL
    # the summary lists stages in pipeline order, whatever order they finished in
    summary.results = {n: summary.results[n] for n in chosen if n in summary.results}
    _count_tables(summary)
    summary.seconds = time.perf_counter() - t0
    return summary


def _run_concurrently(spark: SparkSession, conf: Config, state: _RunState, chosen: list[str], index: dict,
                      planned: dict, last: dict, refresh: bool, width: int) -> None:
    """Run up to ``width`` stages at once, each as soon as every stage it waits for has finished, in
    pipeline order among those ready; two stages that write the same shared table (``quarantine``) never
    run together. On a failure nothing new starts, the running stages finish (and are recorded), then the
    first error propagates. Why: most of a small run is fixed cost per stage (Delta log reads, planning,
    commits, Python worker start-up) that leaves the cores idle; independent stages fill them."""
    waits_for = stage_waits_for(chosen)
    todo, running, done = list(chosen), {}, set()
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="stage") as pool:
        try:
            while todo or running:
                if failure is None:
                    busy_shared = {t for n in running.values() for t in get_stage(n).writes}
                    for name in list(todo):
                        if len(running) >= width:
                            break
                        if waits_for[name] <= done and not set(get_stage(name).writes) & busy_shared:
                            todo.remove(name)
                            busy_shared |= set(get_stage(name).writes)
                            future = pool.submit(_run_stage, spark, conf, state, index[name], len(chosen), name,
                                                 planned, last, refresh, True)
                            running[future] = name
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    name = running.pop(future)
                    error = future.exception()
                    if error is None:
                        done.add(name)
                    elif failure is None:
                        failure = error
        except BaseException:  # Ctrl-C: stop the running stages' Spark jobs so their threads return
            spark.sparkContext.cancelAllJobs()
            raise
    if failure is not None:
        raise failure


def _count_tables(summary: PipelineSummary) -> None:
    for plan in summary.plans.values():  # each stage's owned tables, counted when it ran (or carried over)
        summary.table_counts.update(plan.rows_out or {})


def append_history(spark: SparkSession | None, conf: Config, rows: list[dict]) -> None:
    """Append ``pipeline_runs`` rows: on a local lake with the ``deltalake`` writer (milliseconds, no Spark
    job, so a skipped stage costs nothing), elsewhere through Spark."""
    append_rows(spark, conf, "pipeline_runs", rows)


def record_skipped_run(conf: Config, planned: dict[str, tuple]) -> PipelineSummary:
    """A run in which every stage is skipped, recorded without a JVM: the ``pipeline_runs`` rows are
    appended with the ``deltalake`` writer (a local lake whose history table exists). Returns the summary."""
    summary = PipelineSummary(_new_run_id(), conf)
    now = datetime.now(timezone.utc)
    rows = []
    for name, (stage, settings, plan) in planned.items():
        assert not plan.run, name
        result = StageResult(name, status="skipped", reason=plan.reason)
        summary.results[name], summary.plans[name] = result, plan
        row = _row(summary.run_id, plan, result, now, conf, settings, {})
        summary.rows[name] = row
        rows.append(row)
    append_history(None, conf, rows)
    _count_tables(summary)
    log.info("[pipeline] run %s: every stage skipped (inputs and config unchanged); recorded without starting Spark",
             summary.run_id)
    return summary


def quarantine_counts(spark: SparkSession | None, conf: Config) -> list[tuple[str, str, int]]:
    """(stage, action, rows) of ``quarantine``; JVM-free on a local lake when ``spark`` is None."""
    if table_version(spark, conf, "quarantine") is None:
        return []
    if spark is None:
        from collections import Counter

        from deltalake import DeltaTable

        table = DeltaTable(str(local_table_dir(conf, "quarantine"))).to_pyarrow_table(columns=["stage", "action"])
        counts = Counter(zip(table.column("stage").to_pylist(), table.column("action").to_pylist()))
        return [(s, a, n) for (s, a), n in sorted(counts.items())]
    q = spark.read.format("delta").load(table_path(conf, "quarantine"))
    return [(r["stage"], r["action"], r["count"]) for r in q.groupBy("stage", "action").count().orderBy("stage", "action").collect()]


def format_summary(spark: SparkSession | None, summary: PipelineSummary) -> str:
    """One screen: per stage what it did (or why it was skipped), then table sizes and problems."""
    conf = summary.conf
    ran = len(summary.ran)
    lines = [f"transcript-lake run {summary.run_id}  env={conf.env}  lake={lake_root(conf)}  "
             f"{summary.seconds:.1f} s  ({ran} stage(s) ran, {len(summary.results) - ran} skipped)"]
    for name, result in summary.results.items():
        if result.status == "skipped":
            lines.append(f"  {name:<10} {'skipped':>8}  {result.reason}")
            continue
        shown = "  ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in result.metrics.items())
        lines.append(f"  {name:<10} {result.seconds:6.1f} s  {shown}")
    lines.append("  rows       " + "  ".join(f"{k}={v:,}" for k, v in summary.table_counts.items()))
    by = quarantine_counts(spark, conf)
    if by:
        lines.append("  quarantine " + "  ".join(f"{s}/{a}={n:,}" for s, a, n in by)
                     + "   -> SELECT * FROM transcripts.quarantine")
    lines.append(f"  history    SELECT * FROM transcripts.pipeline_runs WHERE run_id = '{summary.run_id}'")
    return "\n".join(lines)
