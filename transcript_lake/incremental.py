"""Change detection: the one mechanism every stage uses, with all its state in ``stage_state``.

Two levels, both keyed by the stage's :class:`~transcript_lake.stage.Settings` hash (output settings
only: speed knobs never count, and files count by content, so neither a new thread count nor a new
checkout reruns anything):

1. **Stage fingerprint** (row ``video_id = '*'``): the Delta versions of the stage's input tables, its
   settings hash, the fingerprint of non-table inputs (ingest's files) and the versions of its output
   tables when it finished. :func:`plan_stage` compares it with now: equal -> the stage is skipped
   without a Spark job; different -> it runs, with the reason (``config changed``, ``new version of
   windows``, ...). Whole-table stages (concepts, timelines, topics) rebuild or diff from there.
2. **Per-video markers** (one row per stage and video): ``input_hash = sha256(upstream_hash | settings
   hash)``. :func:`plan_videos` returns the videos whose hash differs (rebuilt) or whose upstream
   disappeared (removed); the next stage's upstream is this stage's markers (:func:`marker_hashes`).

Both are written by :func:`commit_stage` in one MERGE after the stage's rows are committed, so a
crash before it makes the next run redo exactly the unfinished work.

Example::

    plan = plan_stage(spark, conf, stage, settings, fingerprints(spark, conf).get(stage.name))
    if plan.run:
        ... stage.run(ctx) ...                              # per-video stages call ctx.plan_videos(...)
        commit_stage(spark, conf, plan, ctx.video_plan)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from .config import Config
from .lake import local_table_dir
from .sqltext import in_list
from .tables import merge_rows, read_table, table_rows, table_version

WHOLE_STAGE = "*"  # stage_state.video_id of a stage's fingerprint row


@dataclass
class VideoPlan:
    stage: str
    settings_json: str
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    input_hashes: dict[str, str] = field(default_factory=dict)  # changed video -> the marker it gets when done

    @property
    def touched(self) -> list[str]:
        return self.changed + self.removed

    @property
    def noop(self) -> bool:
        return not (self.changed or self.removed)


@dataclass
class StagePlan:
    stage: str
    settings_hash: str
    settings_json: str
    input_versions: dict
    output_versions: dict
    sources: str | None
    outputs: tuple = ()  # the stage's declared output tables (some may not exist yet)
    run: bool = True
    reason: str = ""
    rows_out: dict = field(default_factory=dict)  # carried over from the fingerprint when skipped

    def fingerprint(self) -> dict:
        return {"inputs": self.input_versions, "settings": self.settings_hash, "sources": self.sources,
                "outputs": self.output_versions, "rows": self.rows_out}


def _present(versions: dict) -> dict:
    return {k: v for k, v in versions.items() if v is not None}


def fingerprints(spark: SparkSession | None, conf: Config) -> dict[str, dict]:
    """Per stage, the fingerprint recorded when it last finished (the ``'*'`` rows of ``stage_state``).
    On a local lake read JVM-free (``deltalake``); elsewhere through Spark."""
    if table_version(spark, conf, "stage_state") is None:
        return {}
    if local_table_dir(conf, "stage_state") is not None:  # a local lake: no Spark job for a small read
        from deltalake import DeltaTable

        table = DeltaTable(str(local_table_dir(conf, "stage_state"))).to_pyarrow_table(columns=["stage", "video_id", "settings"])
        rows = [r for r in table.to_pylist() if r["video_id"] == WHOLE_STAGE]
    else:
        rows = read_table(spark, conf, "stage_state").filter(F.col("video_id") == WHOLE_STAGE).select("stage", "settings").collect()
    out = {}
    for r in rows:
        try:
            recorded = json.loads(r["settings"] or "{}")
        except json.JSONDecodeError:
            continue
        if isinstance(recorded, dict) and "inputs" in recorded:  # an older lake's stamp: the stage runs once
            out[r["stage"]] = recorded
    return out


def plan_stage(spark: SparkSession | None, conf: Config, stage, settings, last: dict | None, full_refresh: bool) -> StagePlan:
    """Whether ``stage`` must run, and why (see the module docstring). JVM-free on a local lake
    (``spark=None``): table versions come from listing ``_delta_log``."""
    plan = StagePlan(stage.name, settings.hash, settings.json,
                     _present({t: table_version(spark, conf, t) for t in stage.inputs}),
                     _present({t: table_version(spark, conf, t) for t in stage.outputs}),
                     stage.sources(conf) if stage.sources else None, tuple(stage.outputs))
    if full_refresh:
        plan.reason = "full refresh"
    elif last is None:
        plan.reason = "no finished run recorded"
    elif last.get("settings") != plan.settings_hash:
        plan.reason = "config changed"
    elif last.get("sources") != plan.sources:
        plan.reason = "input files changed"
    elif (last.get("inputs") or {}) != plan.input_versions:
        changed = sorted(t for t in set(plan.input_versions) | set(last.get("inputs") or {})
                         if (last.get("inputs") or {}).get(t) != plan.input_versions.get(t))
        plan.reason = "new version of " + ", ".join(changed)
    elif (last.get("outputs") or {}) != plan.output_versions:
        plan.reason = "outputs changed since its last run"
    else:
        plan.run, plan.reason = False, "inputs and config unchanged"
        plan.rows_out = last.get("rows") or {}
    return plan


def _marker_hash(upstream_hash, settings_hash):
    """A per-video marker: ``sha256(upstream_hash | settings hash)`` (Spark columns)."""
    return F.sha2(F.concat_ws("|", upstream_hash, settings_hash), 256)


def plan_videos(spark: SparkSession, conf: Config, stage: str, upstream: DataFrame, settings, full_refresh: bool) -> VideoPlan:
    """Compare ``upstream`` (video_id, upstream_hash) + the settings hash against the stage's markers."""
    hashes = upstream.select("video_id", _marker_hash(F.col("upstream_hash"), F.lit(settings.hash)).alias("input_hash"))
    markers = read_table(spark, conf, "stage_state").filter(
        (F.col("stage") == stage) & (F.col("video_id") != WHOLE_STAGE)).select("video_id", F.col("input_hash").alias("done_hash"))
    state = hashes.join(markers, "video_id", "full_outer").collect()
    plan = VideoPlan(stage, settings.json)
    for r in state:
        if r["input_hash"] is None:
            plan.removed.append(r["video_id"])
        elif full_refresh or r["input_hash"] != r["done_hash"]:
            plan.changed.append(r["video_id"])
            plan.input_hashes[r["video_id"]] = r["input_hash"]
        else:
            plan.unchanged += 1
    plan.changed.sort()
    plan.removed.sort()
    return plan


def same_upstream_as_last_run(spark: SparkSession, conf: Config, stage: str, upstream: DataFrame, videos: list[str]) -> list[str]:
    """Of ``videos``, those whose last finished marker of ``stage`` was made from the upstream they have
    now (``upstream``: video_id, upstream_hash), whatever the stage's settings were then: the stage's
    stored rows for them were computed from their current input. (The marker keeps the settings it was
    made with, so its hash is recomputed from them.)"""
    markers = read_table(spark, conf, "stage_state").filter(
        (F.col("stage") == stage) & F.expr(in_list("video_id", videos))).select("video_id", "input_hash", "settings")
    made_from = _marker_hash(F.col("upstream_hash"), F.substring(F.sha2(F.col("settings"), 256), 1, 16))
    return sorted(r["video_id"] for r in markers.join(upstream, "video_id")
                  .filter(made_from == F.col("input_hash")).select("video_id").collect())


def marker_hashes(spark: SparkSession, conf: Config, stage: str) -> DataFrame:
    """(video_id, upstream_hash) of the videos a stage has finished: the next stage's upstream."""
    return (read_table(spark, conf, "stage_state").filter((F.col("stage") == stage) & (F.col("video_id") != WHOLE_STAGE))
            .select("video_id", F.col("input_hash").alias("upstream_hash")))


def commit_stage(spark: SparkSession, conf: Config, plan: StagePlan, videos: VideoPlan | None) -> None:
    """Record the stage as finished: its per-video markers (rebuilt videos done, removed ones dropped) and
    its fingerprint with the output versions it left, in one MERGE into ``stage_state`` (written last;
    JVM-free on a local lake, :func:`~transcript_lake.tables.merge_rows`)."""
    stage = plan.stage
    plan.output_versions = _present({t: table_version(spark, conf, t) for t in plan.outputs})
    plan.rows_out = {t: table_rows(spark, conf, t) for t in plan.output_versions}
    text = json.dumps(plan.fingerprint(), sort_keys=True, default=str)
    now = datetime.now(timezone.utc)
    rows = [{"stage": stage, "video_id": WHOLE_STAGE, "input_hash": hashlib.sha256(text.encode()).hexdigest(),
             "settings": text, "updated_at": now}]
    delete = None
    if videos is not None and not videos.noop:
        # the hashes plan_videos compared: the upstream markers cannot change while this stage runs
        rows += [{"stage": stage, "video_id": v, "input_hash": videos.input_hashes[v], "settings": videos.settings_json,
                  "updated_at": now} for v in videos.changed]
        if videos.removed:
            delete = f"t.stage = '{stage}' AND t." + in_list("video_id", videos.removed)
    merge_rows(spark, conf, "stage_state", rows, ["stage", "video_id"], delete_missing=delete)
