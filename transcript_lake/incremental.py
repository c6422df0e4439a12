"""Per-video change detection for the stages after ``segments`` (table ``stage_state``).

A stage computes, per video, ``input_hash`` = hash(upstream hash of the video, the stage's settings).
Videos whose hash differs from the stage's marker are rebuilt; videos whose upstream disappeared
are removed; markers are merged last so a crash makes the next run redo the same videos.

Example::

    plan = plan_videos(spark, conf, "windows", upstream, settings)   # upstream: (video_id, upstream_hash)
    ... rebuild plan.changed, delete plan.removed ...
    commit_markers(spark, conf, plan)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from .config import Config
from .tables import in_list, merge_by_key, read_table


@dataclass
class VideoPlan:
    stage: str
    settings: str
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    hashes: DataFrame | None = None  # video_id, input_hash for every current video

    @property
    def touched(self) -> list[str]:
        return self.changed + self.removed

    @property
    def noop(self) -> bool:
        return not (self.changed or self.removed)


def full_refresh(conf: Config) -> bool:
    """``run.full_refresh`` (set by ``--full-refresh``): stages rebuild everything they own."""
    return bool(conf.get("run.full_refresh", False))


def settings_json(values: dict) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def plan_videos(spark: SparkSession, conf: Config, stage: str, upstream: DataFrame, settings: dict) -> VideoPlan:
    """Compare ``upstream`` (video_id, upstream_hash) + settings against the stage's markers."""
    text = settings_json(settings)
    hashes = upstream.select("video_id", F.sha2(F.concat_ws("|", "upstream_hash", F.lit(text)), 256).alias("input_hash"))
    markers = read_table(spark, conf, "stage_state").filter(F.col("stage") == stage).select(
        "video_id", F.col("input_hash").alias("done_hash"))
    state = hashes.join(markers, "video_id", "full_outer").collect()
    plan = VideoPlan(stage, text, hashes=hashes)
    everything = full_refresh(conf)
    for r in state:
        if r["input_hash"] is None:
            plan.removed.append(r["video_id"])
        elif everything or r["input_hash"] != r["done_hash"]:
            plan.changed.append(r["video_id"])
        else:
            plan.unchanged += 1
    plan.changed.sort()
    plan.removed.sort()
    return plan


def commit_markers(spark: SparkSession, conf: Config, plan: VideoPlan) -> None:
    """Record the rebuilt videos as done and drop the markers of removed ones (one MERGE)."""
    if plan.noop:
        return
    rows = (plan.hashes.filter(in_list("video_id", plan.changed))
            .select(F.lit(plan.stage).alias("stage"), "video_id", "input_hash",
                    F.lit(plan.settings).alias("settings"), F.current_timestamp().alias("updated_at")))
    delete = f"t.stage = '{plan.stage}' AND t." + in_list("video_id", plan.removed) if plan.removed else None
    merge_by_key(spark, conf, "stage_state", rows, ["stage", "video_id"], delete_missing=delete)


def marker_hashes(spark: SparkSession, conf: Config, stage: str) -> DataFrame:
    """(video_id, upstream_hash) of the videos a stage has finished: the next stage's upstream."""
    return (read_table(spark, conf, "stage_state").filter(F.col("stage") == stage)
            .select("video_id", F.col("input_hash").alias("upstream_hash")))


def whole_table_stamp(spark: SparkSession, conf: Config, stage: str, inputs: Iterable[str], settings: dict) -> tuple[str, bool]:
    """For stages computed over whole tables: ``(stamp, unchanged)`` where the stamp holds the inputs'
    Delta versions + settings and ``unchanged`` says the stage's last finished run had the same stamp.

    Example::

        stamp, unchanged = whole_table_stamp(spark, conf, "concepts", ["mentions"], settings)
        if unchanged: return            # nothing to do
        ... write the tables ...
        commit_stamp(spark, conf, "concepts", stamp)
    """
    from .tables import table_version

    versions = {t: table_version(spark, conf, t) for t in inputs}
    stamp = json.dumps({"versions": versions, "settings": settings}, sort_keys=True, default=str)
    state = read_table(spark, conf, "stage_state").filter(
        (F.col("stage") == stage) & (F.col("video_id") == "*")).select("settings").collect()
    return stamp, bool(state) and state[0]["settings"] == stamp and not full_refresh(conf)


def commit_stamp(spark: SparkSession, conf: Config, stage: str, stamp: str) -> None:
    """Record ``stamp`` as the stage's last finished run (row ``video_id = '*'`` of ``stage_state``); written last."""
    marker = spark.createDataFrame([(stage, "*", "-", stamp)], "stage string, video_id string, input_hash string, settings string") \
        .withColumn("updated_at", F.current_timestamp())
    merge_by_key(spark, conf, "stage_state", marker, ["stage", "video_id"])
