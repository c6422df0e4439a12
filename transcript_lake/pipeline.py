"""The orchestrator: the registered stages in dependency order, each skipped when nothing it depends on
changed, each recorded in ``pipeline_runs``.

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
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from pyspark.sql import SparkSession

from . import __version__
from .catalog import register_lake
from .config import Config
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


def _run_pipeline(spark: SparkSession, conf: Config, stages: Sequence[str] | None, register: bool) -> PipelineSummary:
    t0 = time.perf_counter()
    summary = PipelineSummary(_new_run_id(), conf)
    run_id = summary.run_id
    last = fingerprints(spark, conf)
    planned = plan_pipeline(spark, conf, stages, last)
    chosen = list(planned)
    refresh = full_refresh(conf)
    pending: list[dict] = []  # skipped-stage rows, written together with the next stage's row
    log.info("[pipeline] run %s: %s%s (transcript_lake %s from %s)", run_id, " -> ".join(chosen),
             " (full refresh)" if refresh else "", __version__, Path(__file__).resolve().parent)
    for i, name in enumerate(chosen, start=1):
        stage, settings, _ = planned[name]
        # planned again just before it runs (a listing): the stages before it may have written its inputs
        plan = plan_stage(spark, conf, stage, settings, last.get(name), refresh)
        summary.plans[name] = plan
        started = datetime.now(timezone.utc)
        if not plan.run:
            log.info("[pipeline] %d/%d %s: skipped (%s)", i, len(chosen), name, plan.reason)
            result = StageResult(name, status="skipped", reason=plan.reason)
            summary.results[name] = result
            row = _row(run_id, plan, result, started, conf, settings, {})
            summary.rows[name] = row
            pending.append(row)
            continue
        log.info("[pipeline] %d/%d %s: running (%s)", i, len(chosen), name, plan.reason)
        result = StageResult(name, reason=plan.reason)
        rows_in = {t: table_rows(spark, conf, t) for t in plan.input_versions}
        ctx = StageContext(spark, conf, stage, settings, refresh, result)
        # Every Delta commit of the stage carries the run, the stage and its settings hash (DESCRIBE
        # HISTORY -> userMetadata), so each table version says which config produced it.
        spark.conf.set(COMMIT_METADATA, json.dumps({"run_id": run_id, "stage": name, "config_hash": plan.settings_hash}))
        try:
            stage.run(ctx)
            commit_stage(spark, conf, plan, ctx.video_plan)  # markers + fingerprint, written last
        except BaseException as exc:
            result.status, result.seconds = "failed", ctx.timer.elapsed
            summary.results[name] = result
            message = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else ""
            row = _row(run_id, plan, result, started, conf, settings, rows_in, f"{type(exc).__name__}: {message}")
            summary.rows[name] = row
            if not isinstance(exc, KeyboardInterrupt):
                try:
                    append_history(spark, conf, pending + [row])
                except Exception:  # recording must not hide the stage's own error
                    log.exception("[pipeline] could not record the failure of %s", name)
            raise
        finally:
            spark.conf.unset(COMMIT_METADATA)
        result.seconds = ctx.timer.elapsed
        summary.results[name] = result
        shown = ", ".join(f"{k}={v}" for k, v in result.metrics.items())
        log.info("[%s] finished in %.1f s: %s", name, result.seconds, shown)
        row = _row(run_id, plan, result, started, conf, settings, rows_in)
        summary.rows[name] = row
        append_history(spark, conf, pending + [row])
        pending = []
        log.info("[pipeline] %d/%d %s: done in %.1f s, %s", i, len(chosen), name, result.seconds,
                 ", ".join(f"{t}={n:,}" for t, n in plan.rows_out.items()))
    if pending:
        append_history(spark, conf, pending)
    if summary.ran and register:
        register_lake(spark, conf)  # tables a stage created become visible by name to later SQL
    _count_tables(summary)
    summary.seconds = time.perf_counter() - t0
    return summary


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
