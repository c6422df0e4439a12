"""Stage ``segments`` (silver): ``raw_records`` -> ``videos``, ``segments``, ``chapters``, ``comments``.

Per video, in Spark:
- one record per ``video_id``: a video found in two files (or twice in one) keeps the record of the
  earliest source in manifest order; the others are quarantined (``duplicate_video_id``);
- ``content_sha256`` = hash of the kept record's content (never its file's path: a moved checkout
  changes nothing) + its duplicates + this stage's settings; only videos
  whose hash differs from the stage's marker (or that disappeared) are rebuilt, so an unchanged lake
  costs a join of one row per video and no write;
- segments are exploded (``posexplode``), validated (missing / NaN / negative / absurd / reversed
  timestamps, empty text -> quarantine, dropped), ordered by time (``seg_idx``), and overlaps beyond
  ``segments.overlap_tolerance_s`` clip the earlier segment's end (quarantined as ``repaired``);
- chapters are parsed from descriptions in the Python workers.
Commits: segments, chapters, quarantine, comments (replaceWhere per video / source), then ``videos``
(MERGE); the orchestrator writes the per-video markers last, so a crash before them makes the next run
rebuild exactly the same rows.
"""

from __future__ import annotations

import json
from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from ..chapters import parse_chapters
from ..config import Config
from ..schemas import table_specs
from ..sqltext import in_list
from ..stage import Settings, Stage, StageContext
from ..tables import merge_by_key, read_table, replace_where

NAME = "segments"


def settings(conf: Config) -> Settings:
    return Settings(output={k: conf.get(f"segments.{k}") for k in ("overlap_tolerance_s", "max_timestamp_s")})


def chapter_rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` body: (video_id, description, duration_s) -> chapter rows."""
    schema = table_specs()["chapters"].arrow_schema()
    for batch in batches:
        rows = []
        for v in batch.to_pylist():
            for idx, (start, end, title) in enumerate(parse_chapters(v["description"], v["duration_s"])):
                rows.append({"video_id": v["video_id"], "chapter_idx": idx, "start_s": start, "end_s": end, "title": title})
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


def _settings_text(conf: Config) -> str:
    return json.dumps(settings(conf).output, sort_keys=True)


def resolve_videos(raw: DataFrame, conf: Config) -> tuple[DataFrame, DataFrame]:
    """(kept: one row per video with content_sha256 and upload_rank, duplicates: rows not kept)."""
    videos = raw.filter(F.col("record_kind") == "video")
    by_id = Window.partitionBy("video_id").orderBy("source_order", "source_path", "record_idx")
    ranked = videos.withColumn("dup_rank", F.row_number().over(by_id)).withColumn(
        "kept_ref", F.first(F.concat_ws(" ", "source_path", "record_ref")).over(by_id))
    dups = ranked.filter("dup_rank > 1")
    # duplicates by the content of their file, not its path
    dup_list = dups.groupBy("video_id").agg(F.sort_array(F.collect_list(F.concat_ws(" ", "source_sha256", "record_ref"))).alias("dups"))
    kept = (ranked.filter("dup_rank = 1").join(dup_list, "video_id", "left")
            .withColumn("content_sha256", F.sha2(F.to_json(F.struct(
                "title", "channel", "url", "description", "published_at", "source_format",
                "segments", "dups", F.lit(_settings_text(conf)).alias("settings"))), 256)))
    # Upload order: dated videos by date; then manifest order; inside a file, its listing order.
    position = F.when(F.col("listing") == "newest_first", -F.col("record_idx")).otherwise(F.col("record_idx"))
    rank = Window.orderBy(F.col("published_at").asc_nulls_last(), "source_order", position, "video_id")
    kept = kept.withColumn("upload_rank", F.row_number().over(rank))
    return kept, dups


def validate_segments(kept: DataFrame, conf: Config) -> DataFrame:
    """Exploded segments with ``problem`` (null when valid) and repair notes; valid ones get seg_idx."""
    tol = float(conf.get("segments.overlap_tolerance_s"))
    max_ts = float(conf.get("segments.max_timestamp_s"))
    segs = kept.select("video_id", "source_path", "record_ref", F.posexplode("segments").alias("pos", "seg")).select(
        "video_id", "source_path", "record_ref", "pos",
        F.col("seg.start_s").alias("start_s"), F.col("seg.end_s").alias("end_s"),
        F.trim(F.regexp_replace(F.col("seg.text"), r"\s+", " ")).alias("text"),
        F.to_json("seg").alias("raw_excerpt"))
    s, e = F.col("start_s"), F.col("end_s")
    fmt = lambda c: F.format_number(c, 3)  # noqa: E731
    problem = (
        F.when(s.isNull() | F.isnan(s) | e.isNull() | F.isnan(e), F.lit("missing_timestamp: start or end is null, NaN or not a number"))
        .when((s < 0) | (e < 0), F.concat(F.lit("negative_timestamp: start "), fmt(s), F.lit(" end "), fmt(e)))
        .when((s > max_ts) | (e > max_ts), F.concat(F.lit("timestamp_out_of_range: start "), fmt(s), F.lit(f" or end beyond segments.max_timestamp_s={max_ts:g}")))
        .when(e < s, F.concat(F.lit("reversed_timestamps: end "), fmt(e), F.lit(" < start "), fmt(s)))
        .when(F.col("text").isNull() | (F.col("text") == ""), F.lit("empty_text: segment has no words"))
    )
    segs = segs.withColumn("problem", problem)
    good = segs.filter(F.col("problem").isNull())
    order = Window.partitionBy("video_id").orderBy("start_s", "pos")
    good = (good.withColumn("seg_idx", F.row_number().over(order) - 1)
            .withColumn("next_start", F.lead("start_s").over(order))
            .withColumn("prev_pos", F.lag("pos").over(order)))
    overlap = F.col("next_start").isNotNull() & (F.col("end_s") > F.col("next_start") + tol)
    good = (good.withColumn("repair", F.when(overlap, F.concat(
                F.lit("overlapping_segments: end "), fmt(e), F.lit(" > next start "), fmt(F.col("next_start")),
                F.lit(f" (tolerance {tol:g} s); end clipped to next start")))
                .when(F.col("prev_pos") > F.col("pos"), F.lit("out_of_order: segment starts before the one listed before it; sorted by start time")))
            .withColumn("end_s", F.when(overlap, F.greatest(F.col("next_start"), s)).otherwise(e)))
    bad = segs.filter(F.col("problem").isNotNull()).withColumn("seg_idx", F.lit(None).cast("int")).withColumn(
        "repair", F.lit(None).cast("string"))
    return good.drop("next_start", "prev_pos").unionByName(bad)


def _comments(spark: SparkSession, conf: Config, raw: DataFrame, ctx: StageContext) -> int:
    """Rebuild comments of sources whose content changed; returns duplicates removed (0 if nothing to do)."""
    src = raw.filter(F.col("record_kind") == "comment")
    have = {(r[0], r[1]) for r in read_table(spark, conf, "comments").select("source_path", "source_sha256").distinct().collect()}
    want = {(r[0], r[1]) for r in src.select("source_path", "source_sha256").distinct().collect()}
    todo = {p for p, _ in want - have} | {p for p, _ in have - want}
    if not todo:
        return 0
    norm = F.trim(F.regexp_replace("comment_text", r"\s+", " "))
    first = Window.partitionBy("source_path", "video_id", "norm").orderBy("record_idx")
    rows = (src.filter(in_list("source_path", todo)).withColumn("norm", norm)
            .withColumn("n_copies", F.count("*").over(Window.partitionBy("source_path", "video_id", "norm")))
            .withColumn("k", F.row_number().over(first)).filter("k = 1")
            .select(F.substring(F.sha2(F.concat_ws("\n", F.coalesce("video_id", "source_sha256"), "norm"), 256), 1, 16).alias("comment_id"),
                    "video_id", F.col("norm").alias("text"), F.coalesce("is_reply", F.lit(False)).alias("is_reply"), "reply_to",
                    "cited_s", F.col("n_copies").cast("int").alias("n_copies"), "source_path", "source_sha256",
                    F.col("record_idx").alias("first_line")))
    replace_where(spark, conf, "comments", rows, in_list("source_path", todo))
    stats = read_table(spark, conf, "comments").filter(in_list("source_path", todo)).agg(
        F.count("*").alias("n"), F.sum(F.col("n_copies") - 1).alias("dups")).collect()[0]
    ctx.step("comments: %d kept from %d source(s), %d duplicate(s) removed", stats["n"], len(todo), stats["dups"] or 0)
    return int(stats["dups"] or 0)


def run(ctx: StageContext) -> None:
    spark, conf, result = ctx.spark, ctx.conf, ctx.result
    raw = read_table(spark, conf, "raw_records")
    kept, dups = resolve_videos(raw, conf)
    kept = kept.persist()
    plan = ctx.plan_videos(kept.select("video_id", F.col("content_sha256").alias("upstream_hash")))
    changed, removed = plan.changed, plan.removed
    # Upload order can move without a video changing (a new, older video arrives), and so can its file
    # (a moved checkout): only the rank and the informative source_path are updated, nothing is rebuilt.
    old = read_table(spark, conf, "videos").select("video_id", F.col("upload_rank").alias("old_rank"),
                                                   F.col("source_path").alias("old_path"))
    reranked = sorted(r["video_id"] for r in kept.select("video_id", "upload_rank", "source_path").join(old, "video_id")
                      .filter(~F.col("video_id").isin(changed) & ((F.col("upload_rank") != F.col("old_rank"))
                                                                    | ~F.col("source_path").eqNullSafe(F.col("old_path")))).collect())
    ctx.step("%d video(s): %d new or changed, %d removed, %d re-ranked or moved, %d unchanged", len(changed) + plan.unchanged,
             len(changed), len(removed), len(reranked), plan.unchanged - len(reranked))
    dup_comments = _comments(spark, conf, raw, ctx)
    result.add(videos=len(changed) + plan.unchanged, videos_rebuilt=len(changed), videos_removed=len(removed))
    if not (changed or removed or reranked):
        result.add(segments_written=0, quarantined=0, comment_duplicates_removed=dup_comments)
        kept.unpersist()
        return

    touched = in_list("video_id", changed + removed)
    todo = kept.filter(in_list("video_id", changed))
    checked = validate_segments(todo, conf).persist()
    good = checked.filter(F.col("problem").isNull())
    n_segments = replace_where(spark, conf, "segments", good.select(
        "video_id", F.col("seg_idx").cast("int"), "start_s", "end_s", "text",
        F.size(F.split("text", " ")).cast("int").alias("n_words")), touched)
    stats = good.groupBy("video_id").agg(F.count("*").cast("int").alias("n_segments"), F.max("end_s").alias("duration_s"))
    ctx.step("segments written for %d video(s)", len(changed))

    chapters = (todo.select("video_id", "description").join(stats, "video_id", "left")
                .select("video_id", "description", "duration_s")
                .mapInArrow(chapter_rows, table_specs()["chapters"].spark_schema()))
    replace_where(spark, conf, "chapters", chapters, touched)

    seg_problems = checked.filter(F.col("problem").isNotNull() | F.col("repair").isNotNull()).select(
        "source_path", F.concat(F.col("record_ref"), F.lit(" segment "), F.col("pos").cast("string")).alias("record_ref"),
        "video_id", F.coalesce("problem", "repair").alias("reason"),
        F.when(F.col("problem").isNotNull(), "dropped").otherwise("repaired").alias("action"), "raw_excerpt")
    dup_problems = dups.filter(in_list("video_id", changed)).select(
        "source_path", "record_ref", "video_id",
        F.concat(F.lit("duplicate_video_id: also in "), F.col("kept_ref"), F.lit(" (earlier in manifest order), which is kept")).alias("reason"),
        F.lit("dropped").alias("action"), F.substring("title", 1, 300).alias("raw_excerpt"))
    problems = seg_problems.unionByName(dup_problems).withColumn("stage", F.lit(NAME)).withColumn("seen_at", F.current_timestamp())
    n_problems = replace_where(spark, conf, "quarantine", problems, f"stage = '{NAME}' AND " + touched)

    rebuilt = (todo.join(stats, "video_id", "left").select(
        "video_id", "title", "channel", "url", "description", "source_format", "source_path", "content_sha256",
        "duration_s", F.coalesce("n_segments", F.lit(0)).alias("n_segments"), "published_at", "upload_rank",
        F.current_timestamp().alias("ingested_at")))
    if reranked:
        moved = (read_table(spark, conf, "videos").filter(in_list("video_id", reranked)).drop("upload_rank", "source_path")
                 .join(kept.select("video_id", "upload_rank", "source_path"), "video_id"))
        rebuilt = rebuilt.unionByName(moved)
    merge_by_key(spark, conf, "videos", rebuilt, ["video_id"], delete_missing="t." + in_list("video_id", removed) if removed else None)
    checked.unpersist()
    kept.unpersist()
    result.add(segments_written=n_segments, quarantined=n_problems, comment_duplicates_removed=dup_comments)
    result.wrote += ["segments", "chapters", "quarantine", "videos"]


STAGE = Stage(
    name=NAME, run=run, settings=settings, per_video=True,
    inputs=("raw_records",), outputs=("videos", "segments", "chapters", "comments"), writes=("quarantine",),
    doc="raw_records -> videos, segments (exploded, validated, time-ordered), chapters, comments (silver).",
)
