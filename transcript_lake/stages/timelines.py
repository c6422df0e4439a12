"""Stage ``timelines`` (gold): ``mentions`` + ``keyphrases`` + ``concept_aliases`` + ``videos`` ->
``concept_timeline``, ``concept_video``, ``concept_trend``, ``concept_cooccurrence``.

Every mention is counted under its canonical concept (``concept_aliases``); title mentions carry no
time and are left out. All four tables are aggregations in Spark SQL over the silver rows (seconds at
this scale), so a run recomputes them when any input's Delta version or the settings changed, and
writes them with :func:`~transcript_lake.tables.merge_changes`: a table is committed only when some
row differs (adding one video changes that video's rows plus the corpus-wide figures it moves: tf-idf,
trends, PMI), by a MERGE of the changed rows where the table is large and few changed, else by one
overwrite. Unchanged inputs and settings: the orchestrator skips the stage.

Example::

    run_pipeline(spark, conf, ["timelines"]).results["timelines"].metrics   # {'concept_timeline': '+812 ~0 -0', ...}
"""

from __future__ import annotations

import math
from functools import partial

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from ..config import Config
from ..stage import Settings, Stage, StageContext
from ..tables import merge_changes, read_table

NAME = "timelines"
# Doubles are rounded so a recomputation that sums in another order does not count as a change.
DIGITS = 6
YOUTUBE_ID = r"^[A-Za-z0-9_-]{11}$"


def settings(conf: Config) -> Settings:
    return Settings(output={k: conf.get(f"timelines.{k}") for k in ("bucket_seconds", "url_template", "cooccurrence", "trend")})


def _canonical(spark: SparkSession, conf: Config, rows: DataFrame) -> DataFrame:
    """``rows`` with ``concept`` replaced by its canonical concept. A key the concepts stage has not
    mapped yet (it ran before the latest terms) keeps its own name rather than being dropped."""
    aliases = read_table(spark, conf, "concept_aliases").select(F.col("alias").alias("concept"), F.col("concept").alias("canonical"))
    return rows.join(aliases, "concept", "left").withColumn("concept", F.coalesce("canonical", "concept")).drop("canonical")


def canonical_mentions(spark: SparkSession, conf: Config) -> DataFrame:
    """Spoken mentions under their canonical concept: video_id, window_idx, start_s, concept, kind."""
    spoken = read_table(spark, conf, "mentions").filter(F.col("start_s").isNotNull())
    return _canonical(spark, conf, spoken.select("video_id", "window_idx", "start_s", "concept", "kind"))


def canonical_keyphrases(spark: SparkSession, conf: Config, mentions: DataFrame) -> DataFrame:
    """Keyphrases under their canonical concept, placed at the concept's first mention in the window."""
    first = mentions.groupBy("video_id", "window_idx", "concept").agg(F.min("start_s").alias("at_s"))
    kp = _canonical(spark, conf, read_table(spark, conf, "keyphrases").select(
        "video_id", "window_idx", F.col("start_s").alias("window_start_s"), "concept", "score"))
    return (kp.join(first, ["video_id", "window_idx", "concept"], "left")
            .select("video_id", "window_idx", "concept", "score", F.coalesce("at_s", "window_start_s").alias("at_s")))


def video_links(conf: Config, videos: DataFrame) -> DataFrame:
    """video_id, upload_rank, channel and ``url_template`` with the video id filled in (null: no YouTube id)."""
    template = conf.get("timelines.url_template")
    has_id = F.col("video_id").rlike(YOUTUBE_ID) & (F.col("url").isNull() | F.col("url").rlike("youtu"))
    url = F.when(has_id & F.lit(bool(template)), F.replace(F.lit(str(template or "")), F.lit("{video_id}"), F.col("video_id")))
    return videos.select("video_id", "upload_rank", F.coalesce("channel", F.lit("unknown")).alias("channel"),
                         url.alias("url_template"))


def build_timeline(mentions: DataFrame, keyphrases: DataFrame, links: DataFrame, bucket_s: float) -> DataFrame:
    def bucket(col: str):
        return (F.floor(F.col(col) / bucket_s) * bucket_s).cast("double")

    m = mentions.groupBy("concept", "video_id", bucket("start_s").alias("bucket_start_s")).agg(
        F.count("*").alias("mentions"), F.min("start_s").alias("first_mention_s"))
    k = keyphrases.groupBy("concept", "video_id", bucket("at_s").alias("bucket_start_s")).agg(
        F.sum("score").alias("keyphrase_score"))
    return (m.join(k, ["concept", "video_id", "bucket_start_s"], "left").join(links, "video_id")
            .select("concept", "video_id", "upload_rank", "bucket_start_s",
                    (F.col("bucket_start_s") + F.lit(float(bucket_s))).alias("bucket_end_s"), "mentions",
                    F.round(F.coalesce("keyphrase_score", F.lit(0.0)), DIGITS).alias("keyphrase_score"),
                    "first_mention_s",
                    F.replace("url_template", F.lit("{seconds}"), F.floor("first_mention_s").cast("string")).alias("url")))


def build_concept_video(mentions: DataFrame, keyphrases: DataFrame, links: DataFrame, bucket_s: float) -> DataFrame:
    per = mentions.groupBy("concept", "video_id").agg(
        F.count("*").alias("mentions"), F.min("start_s").alias("first_mention_s"),
        F.max("start_s").alias("last_mention_s"),
        F.countDistinct(F.floor(F.col("start_s") / bucket_s)).alias("buckets"))
    kp = keyphrases.groupBy("concept", "video_id").agg(F.countDistinct("window_idx").alias("keyphrases"))
    by_video = Window.partitionBy("video_id")
    by_concept = Window.partitionBy("concept")
    n_videos = mentions.select("video_id").distinct().count()
    ranked = Window.partitionBy("video_id").orderBy(F.desc("tfidf"), F.desc("mentions"), "concept")
    return (per.join(kp, ["concept", "video_id"], "left").join(links, "video_id")
            .withColumn("tf", F.col("mentions") / F.sum("mentions").over(by_video))
            .withColumn("df", F.count("*").over(by_concept))
            .withColumn("tfidf", F.round(F.col("tf") * F.log(F.lit(float(n_videos)) / F.col("df")), DIGITS))
            .withColumn("rank_in_video", F.row_number().over(ranked))
            .select("concept", "video_id", "upload_rank", "mentions",
                    F.coalesce("keyphrases", F.lit(0)).alias("keyphrases"), "first_mention_s", "last_mention_s",
                    F.round(F.col("buckets") * bucket_s / 60.0, DIGITS).alias("minutes_covered"), "tfidf", "rank_in_video"))


def build_trend(concept_video: DataFrame, links: DataFrame, trend: dict) -> DataFrame:
    """Per channel: shares along the channel's upload order and an emerging / fading call per concept."""
    eps, ratio = 1e-4, math.log2(float(trend["ratio"]))
    channel_videos = (links.join(concept_video.select("video_id").distinct(), "video_id")
                      .withColumn("channel_rank", F.row_number().over(Window.partitionBy("channel").orderBy("upload_rank", "video_id")))
                      .withColumn("channel_size", F.count("*").over(Window.partitionBy("channel")))
                      .withColumn("n_recent", F.least(F.lit(int(trend["recent_videos"])), F.floor(F.col("channel_size") / 3)).cast("int"))
                      .withColumn("recent", F.col("channel_rank") > F.col("channel_size") - F.col("n_recent")))
    totals = concept_video.groupBy("video_id").agg(F.sum("mentions").alias("video_mentions"))
    rows = (concept_video.select("concept", "video_id", "mentions").join(totals, "video_id").join(channel_videos, "video_id")
            .withColumn("share", F.col("mentions") / F.col("video_mentions")))
    per_concept = Window.partitionBy("concept", "channel")
    along = per_concept.orderBy("channel_rank").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    recent_mean = F.sum(F.when(F.col("recent"), F.col("share")).otherwise(0.0)).over(per_concept) / F.col("n_recent")
    earlier_mean = (F.sum(F.when(~F.col("recent"), F.col("share")).otherwise(0.0)).over(per_concept)
                    / (F.col("channel_size") - F.col("n_recent")))
    recent_videos = F.sum(F.col("recent").cast("int")).over(per_concept)
    earlier_videos = F.sum((~F.col("recent")).cast("int")).over(per_concept)
    score = F.when(F.col("n_recent") > 0, F.log2((recent_mean + eps) / (earlier_mean + eps)))
    min_videos = int(trend["min_videos"])
    return (rows.withColumn("n_videos", F.count("*").over(per_concept))
            .withColumn("trend_score", F.round(score, DIGITS))
            .withColumn("trend", F.when(F.col("n_recent") == 0, "too_few_videos")
                        .when(F.col("n_videos") == 1, "one_off")
                        .when((F.col("trend_score") >= ratio) & (recent_videos >= min_videos), "emerging")
                        .when((F.col("trend_score") <= -ratio) & (earlier_videos >= min_videos), "fading")
                        .otherwise("steady"))
            .select("concept", "channel", "video_id", "upload_rank", "channel_rank", "mentions",
                    F.round("share", DIGITS).alias("share"),
                    F.count("*").over(along).alias("cumulative_videos"),
                    F.min("channel_rank").over(per_concept).alias("first_seen_rank"),
                    "n_videos", "trend_score", "trend"))


def build_cooccurrence(mentions: DataFrame, keyphrases: DataFrame, settings: dict) -> DataFrame:
    # terms said as themselves: a nested term always shares its window with the term it sits in
    per_window = (mentions.filter(F.col("kind") != "nested").select("video_id", "window_idx", "concept")
                  .unionByName(keyphrases.select("video_id", "window_idx", "concept")).distinct())
    n_windows = per_window.select("video_id", "window_idx").distinct().count()
    counts = per_window.groupBy("concept").agg(F.count("*").alias("n"))
    kept = (per_window.join(counts.filter(F.col("n") >= int(settings["min_windows"])), "concept")
            .select("video_id", "window_idx", "concept", "n"))
    a, b = kept.alias("a"), kept.alias("b")
    pairs = (a.join(b, (F.col("a.video_id") == F.col("b.video_id")) & (F.col("a.window_idx") == F.col("b.window_idx"))
                    & (F.col("a.concept") < F.col("b.concept")))
             .groupBy(F.col("a.concept").alias("x"), F.col("b.concept").alias("y"))
             .agg(F.count("*").alias("together"), F.first("a.n").alias("nx"), F.first("b.n").alias("ny"))
             .filter(F.col("together") >= int(settings["min_pair_windows"])))
    both = pairs.select(F.col("x").alias("concept"), F.col("y").alias("other_concept"), "together",
                        F.col("nx").alias("windows_concept"), F.col("ny").alias("windows_other")).unionByName(
        pairs.select(F.col("y").alias("concept"), F.col("x").alias("other_concept"), "together",
                     F.col("ny").alias("windows_concept"), F.col("nx").alias("windows_other")))
    n = float(n_windows)
    together = F.col("windows_together")
    pmi = F.log(together * F.lit(n) / (F.col("windows_concept") * F.col("windows_other")))
    # A pair in every window has P(both) = 1 and -ln P(both) = 0: NPMI is defined as 1 there.
    npmi = F.when(together < n, pmi / -F.log(together / F.lit(n))).otherwise(1.0)
    ranked = Window.partitionBy("concept").orderBy(F.desc("npmi"), F.desc("windows_together"), "other_concept")
    return (both.withColumnRenamed("together", "windows_together")
            .withColumn("pmi", F.round(pmi, DIGITS)).withColumn("npmi", F.round(npmi, DIGITS))
            .withColumn("rank", F.row_number().over(ranked))
            .filter(F.col("rank") <= int(settings["top_n"]))
            .select("concept", "other_concept", "windows_together", "windows_concept", "windows_other", "pmi", "npmi", "rank"))


def run(ctx: StageContext) -> None:
    spark, conf, result, settings = ctx.spark, ctx.conf, ctx.result, ctx.settings.output
    bucket_s = float(settings["bucket_seconds"])
    mentions = canonical_mentions(spark, conf).cache()
    keyphrases = canonical_keyphrases(spark, conf, mentions).cache()
    links = video_links(conf, read_table(spark, conf, "videos")).cache()
    concept_video = build_concept_video(mentions, keyphrases, links, bucket_s).cache()
    outputs = {
        "concept_timeline": (build_timeline(mentions, keyphrases, links, bucket_s), ["concept", "video_id", "bucket_start_s"]),
        "concept_video": (concept_video, ["concept", "video_id"]),
        "concept_trend": (build_trend(concept_video, links, settings["trend"]), ["concept", "video_id"]),
        "concept_cooccurrence": (build_cooccurrence(mentions, keyphrases, settings["cooccurrence"]), ["concept", "other_concept"]),
    }
    # four tables from the same cached inputs, none reading another's: written at once
    written = ctx.at_once(*[partial(merge_changes, spark, conf, name, df, keys) for name, (df, keys) in outputs.items()])
    changed = 0
    for name, counts in zip(outputs, written):
        changed += sum(counts.values())
        result.add(**{name: f"+{counts['inserted']} ~{counts['updated']} -{counts['deleted']}"})
        if sum(counts.values()):
            result.wrote.append(name)
        ctx.step("%s: %d inserted, %d updated, %d deleted", name, counts["inserted"], counts["updated"], counts["deleted"])
    for df in (mentions, keyphrases, links, concept_video):
        df.unpersist()
    result.add(rows_changed=changed)


STAGE = Stage(
    name=NAME, run=run, settings=settings,
    inputs=("mentions", "keyphrases", "concept_aliases", "videos"),
    outputs=("concept_timeline", "concept_video", "concept_trend", "concept_cooccurrence"),
    doc="Gold concept tables: per concept, video and minute; per concept and video; trends; co-occurrence.",
)
