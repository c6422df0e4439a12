"""Orchestrator: stages in dependency order, each skipped when nothing it depends on changed.

Every stage module declares ``INPUTS`` (tables it reads), ``OUTPUTS`` (tables only it writes) and
``CONFIG`` (conf sections its output depends on). A stage is skipped when its last successful run
in ``pipeline_runs`` saw the same input table versions, the same config (sections + the files they
name, e.g. stop-word lists), the same input files (``ingest``: path, size, mtime) and its outputs
are still at the versions it left them at. Otherwise the stage runs, and its own per-video /
per-file checks decide how much to rebuild. ``full_refresh`` runs the chosen stages and makes them
rebuild everything.

Example::

    summary = run_pipeline(spark, conf, select_stages(start="terms"))
    print(format_summary(summary))
    spark.sql("SELECT stage, status, seconds FROM transcripts.pipeline_runs ORDER BY started_at DESC")
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from pyspark.sql import SparkSession

from .config import Config
from .errors import UserError
from .incremental import full_refresh
from .lock import lake_lock
from .spark import lake_root
from .stages import StageResult
from .tables import append_rows, register_tables, table_path, table_rows, table_version

log = logging.getLogger("transcript_lake")

COMMIT_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|credential|api[._-]?key|access[._-]?key|private[._-]?key)")

# Dependency order: data flows one way, bronze -> silver -> gold.
STAGES = ("ingest", "segments", "windows", "terms", "concepts", "topics", "timelines")


def stage_module(name: str):
    if name not in STAGES:
        raise UserError(f"unknown stage {name!r} (known: {', '.join(STAGES)})")
    return importlib.import_module(f"transcript_lake.stages.{name}")


def select_stages(only: Sequence[str] | None = None, start: str | None = None) -> list[str]:
    """The stages to run, in dependency order: ``only`` these, or ``start`` and every stage after it."""
    if only and start:
        raise UserError("--only and --from cannot be combined")
    for name in [*(only or []), *([start] if start else [])]:
        stage_module(name)  # unknown name: one clear error line
    if only:
        return sorted(set(only), key=STAGES.index)
    return list(STAGES[STAGES.index(start):]) if start else list(STAGES)


# -- what a stage depends on ---------------------------------------------------------------------

def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def config_fingerprint(conf: Config, sections: Sequence[str]) -> tuple[str, str]:
    """``(hash, json)`` of the conf sections a stage depends on. String values naming an existing
    file (stop-word lists, the manifest) contribute that file's content hash, so editing the file
    counts as a config change. Values of secret-looking keys (passwords, tokens, access keys) are
    recorded as a hash, never in clear: ``pipeline_runs.config`` and the logs stay free of them."""
    def resolve(value, key: str = ""):
        if SECRET_KEY.search(key) and value not in (None, ""):
            return "<redacted sha256:" + hashlib.sha256(str(value).encode()).hexdigest()[:8] + ">"
        if isinstance(value, dict):
            return {k: resolve(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, str) and value and "://" not in value and len(value) < 4096:
            p = Path(value) if os.path.isabs(value) else conf.root / value
            if p.is_file():
                return {"file": value, "sha256": _file_digest(p)}
        return value

    chosen = {s: resolve(conf.get(s, None), s.rsplit(".", 1)[-1]) for s in sections}
    text = json.dumps(chosen, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16], text


def source_fingerprint(conf: Config) -> str:
    """Path, size and mtime of every input file ``ingest`` would read (cheap: no content hashing;
    ``ingest`` itself compares content hashes when it runs)."""
    from .sources import discover

    stats = []
    for src in discover(conf, conf.get("inputs.extra", []) or [], hash_files=False):
        try:
            st = src.path.stat()
            stats.append((src.source_path, st.st_size, st.st_mtime_ns))
        except OSError as exc:
            stats.append((src.source_path, -1, str(exc)))
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


@dataclass
class StagePlan:
    stage: str
    input_versions: dict
    output_versions: dict
    config_hash: str
    config_json: str
    sources: str | None
    run: bool = True
    reason: str = ""


def plan_stage(spark: SparkSession, conf: Config, name: str, last: dict | None) -> StagePlan:
    mod = stage_module(name)
    inputs = {t: table_version(spark, conf, t) for t in getattr(mod, "INPUTS", ())}
    outputs = {t: table_version(spark, conf, t) for t in mod.OUTPUTS}
    chash, cjson = config_fingerprint(conf, mod.CONFIG)
    sources = source_fingerprint(conf) if name == "ingest" else None
    plan = StagePlan(name, inputs, outputs, chash, cjson, sources)
    if full_refresh(conf):
        plan.reason = "full refresh"
    elif last is None:
        plan.reason = "no successful run recorded"
    elif last["config_hash"] != chash:
        plan.reason = "config changed"
    elif sources is not None and last["sources_fingerprint"] != sources:
        plan.reason = "input files changed"
    elif (last["input_versions"] or {}) != {k: v for k, v in inputs.items() if v is not None}:
        changed = sorted(k for k in inputs if (last["input_versions"] or {}).get(k) != inputs[k])
        plan.reason = "new version of " + ", ".join(changed)
    elif (last["output_versions"] or {}) != {k: v for k, v in outputs.items() if v is not None}:
        plan.reason = "outputs changed since its last run"
    else:
        plan.run, plan.reason = False, "inputs and config unchanged"
    return plan


# -- running ---------------------------------------------------------------------------------------

@dataclass
class PipelineSummary:
    run_id: str
    conf: Config
    results: list[StageResult] = field(default_factory=list)
    plans: dict = field(default_factory=dict)        # stage -> StagePlan
    rows: dict = field(default_factory=dict)         # stage -> pipeline_runs row
    seconds: float = 0.0
    table_counts: dict = field(default_factory=dict)


def last_successes(spark: SparkSession, conf: Config) -> dict[str, dict]:
    """Per stage, the ``pipeline_runs`` row of its latest successful (run or skipped) execution."""
    from .tables import delta_exists

    path = table_path(conf, "pipeline_runs")
    if table_version(spark, conf, "pipeline_runs") is None or not delta_exists(spark, path):
        return {}
    rows = spark.sql(f"""
        SELECT * FROM (
          SELECT *, row_number() OVER (PARTITION BY stage ORDER BY finished_at DESC) AS rn
          FROM delta.`{path}` WHERE status IN ('succeeded', 'skipped')) WHERE rn = 1""").collect()
    return {r["stage"]: r.asDict() for r in rows}


def _row(run_id: str, plan: StagePlan, status: str, started: datetime, seconds: float, conf: Config,
         rows_in: dict, rows_out: dict, metrics: dict, error: str | None = None) -> dict:
    return {
        "run_id": run_id, "stage": plan.stage, "status": status, "reason": plan.reason,
        "started_at": started, "finished_at": datetime.now(timezone.utc), "seconds": round(seconds, 3),
        "input_versions": {k: v for k, v in plan.input_versions.items() if v is not None},
        "output_versions": {k: v for k, v in plan.output_versions.items() if v is not None},
        "rows_in": rows_in, "rows_out": rows_out, "config_hash": plan.config_hash, "config": plan.config_json,
        "sources_fingerprint": plan.sources, "metrics": json.dumps(metrics, default=str), "error": error,
        "env": conf.env, "full_refresh": full_refresh(conf),
    }


def run_pipeline(spark: SparkSession, conf: Config, stages: Sequence[str] = STAGES) -> PipelineSummary:
    """Run ``stages`` in dependency order; record each in ``pipeline_runs``; return the summary.

    A skipped stage costs a few Delta log listings. A failing stage is recorded with its error,
    then the exception propagates (later stages do not run on a half-updated input). The lake's
    lock (:mod:`transcript_lake.lock`) is held throughout: one run per lake at a time.
    """
    with lake_lock(conf):  # re-entrant: the CLI already holds it
        return _run_pipeline(spark, conf, stages)


def _run_pipeline(spark: SparkSession, conf: Config, stages: Sequence[str]) -> PipelineSummary:
    t0 = time.perf_counter()
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    summary = PipelineSummary(run_id, conf)
    chosen = sorted(stages, key=STAGES.index)
    last = last_successes(spark, conf)
    pending: list[dict] = []  # skipped-stage rows, written together with the next stage's row
    log.info("[pipeline] run %s: %s%s", run_id, " -> ".join(chosen), " (full refresh)" if full_refresh(conf) else "")
    for i, name in enumerate(chosen, start=1):
        plan = plan_stage(spark, conf, name, last.get(name))
        summary.plans[name] = plan
        started = datetime.now(timezone.utc)
        if not plan.run:
            log.info("[pipeline] %d/%d %s: skipped (%s)", i, len(chosen), name, plan.reason)
            # same input and output versions as the matched run: same row counts, carried over
            prev = last[name]
            row = _row(run_id, plan, "skipped", started, 0.0, conf, prev["rows_in"] or {}, prev["rows_out"] or {}, {})
            summary.rows[name] = row
            pending.append(row)
            continue
        log.info("[pipeline] %d/%d %s: running (%s)", i, len(chosen), name, plan.reason)
        s0 = time.perf_counter()
        rows_in = {t: table_rows(spark, conf, t) for t in plan.input_versions if plan.input_versions[t] is not None}
        # Every Delta commit of the stage carries the run, the stage and its config hash (DESCRIBE
        # HISTORY -> userMetadata), so each table version says which config produced it.
        spark.conf.set(COMMIT_METADATA, json.dumps({"run_id": run_id, "stage": name, "config_hash": plan.config_hash}))
        try:
            result = stage_module(name).run(spark, conf)
        except BaseException as exc:
            row = _row(run_id, plan, "failed", started, time.perf_counter() - s0, conf, rows_in, {}, {},
                       f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:500] if str(exc).strip() else ''}")
            summary.rows[name] = row
            if not isinstance(exc, KeyboardInterrupt):
                try:
                    append_rows(spark, conf, "pipeline_runs", pending + [row])
                except Exception:  # recording must not hide the stage's own error
                    log.exception("[pipeline] could not record the failure of %s", name)
            raise
        finally:
            spark.conf.unset(COMMIT_METADATA)
        mod = stage_module(name)
        plan.output_versions = {t: table_version(spark, conf, t) for t in mod.OUTPUTS}
        rows_out = {t: table_rows(spark, conf, t) for t in mod.OUTPUTS if plan.output_versions[t] is not None}
        row = _row(run_id, plan, "succeeded", started, time.perf_counter() - s0, conf, rows_in, rows_out, result.metrics)
        summary.rows[name] = row
        summary.results.append(result)
        append_rows(spark, conf, "pipeline_runs", pending + [row])
        pending = []
        log.info("[pipeline] %d/%d %s: done in %.1f s, %s", i, len(chosen), name, row["seconds"],
                 ", ".join(f"{t}={n:,}" for t, n in rows_out.items()))
    if pending:
        append_rows(spark, conf, "pipeline_runs", pending)
    if summary.results:
        register_tables(spark, conf)  # tables a stage created become visible by name to later SQL
    # Each stage's owned tables, counted when it ran (or carried over when skipped): no table scans here.
    for row in summary.rows.values():
        summary.table_counts.update(row["rows_out"] or {})
    summary.seconds = time.perf_counter() - t0
    return summary


def run_stages(spark: SparkSession, conf: Config, stages: Sequence[str] = STAGES) -> list[StageResult]:
    """Run ``stages`` unconditionally, in dependency order, without recording them in ``pipeline_runs``
    (each stage still rebuilds only what its own per-video / per-file checks find changed).
    For tests and notebooks that drive one stage; ``run_pipeline`` is what the jobs use."""
    with lake_lock(conf):
        results = [stage_module(name).run(spark, conf) for name in sorted(stages, key=STAGES.index)]
        register_tables(spark, conf)
    return results


def format_summary(spark: SparkSession, summary: PipelineSummary) -> str:
    """One screen: per stage what it did (or why it was skipped), then table sizes and problems."""
    conf = summary.conf
    ran = sum(1 for r in summary.rows.values() if r["status"] == "succeeded")
    lines = [f"transcript-lake run {summary.run_id}  env={conf.env}  lake={lake_root(conf)}  "
             f"{summary.seconds:.1f} s  ({ran} stage(s) ran, {len(summary.rows) - ran} skipped)"]
    results = {r.stage: r for r in summary.results}
    for name, row in summary.rows.items():
        if row["status"] == "skipped":
            lines.append(f"  {name:<10} {'skipped':>8}  {row['reason']}")
            continue
        shown = "  ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in results[name].metrics.items())
        lines.append(f"  {name:<10} {row['seconds']:6.1f} s  {shown}")
    lines.append("  rows       " + "  ".join(f"{k}={v:,}" for k, v in summary.table_counts.items()))
    if table_version(spark, conf, "quarantine") is not None:
        q = spark.read.format("delta").load(table_path(conf, "quarantine"))
        by = q.groupBy("stage", "action").count().orderBy("stage", "action").collect()
        if by:
            lines.append("  quarantine " + "  ".join(f"{r['stage']}/{r['action']}={r['count']:,}" for r in by)
                         + "   -> SELECT * FROM transcripts.quarantine")
    lines.append(f"  history    SELECT * FROM transcripts.pipeline_runs WHERE run_id = '{summary.run_id}'")
    return "\n".join(lines)
