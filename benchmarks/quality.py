"""Quality checks of the terms against the authors' own words (chapter titles, video titles).

``chapter_recall``: for every chapter whose title yields at least one concept (same spaCy
normalisation and alias merges as the transcript), is one of those concepts *spoken* or picked as a
keyphrase of a spoken window inside the chapter's time span? A chapter titled "Residual Vector
Quantization" is a hit when the transcript of that chapter mentions ``residual vector quantization``
(or an alias of it). Written text (titles, descriptions, the vocabulary) may name and alias concepts
(``concept_aliases`` maps written keys too) but never counts as a mention here: only rows with a time
(``start_s``) of ``mentions`` and ``keyphrases`` do, so the vocabulary cannot score itself.

``top_concepts``: a video's top 10 as the ``top_concepts_per_video`` view ranks them (names of the
video's title first, then tf-idf x salience), with their labels.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from transcript_lake.config import Config
from transcript_lake.schemas import table_specs
from transcript_lake.stages.terms import (MENTION_COLUMNS, independent_nested, settings as terms_settings, spacy_mentions,
                                          worker_settings)
from transcript_lake.tables import read_table


def _canonical(spark: SparkSession, conf: Config, df: DataFrame, column: str = "concept") -> DataFrame:
    aliases = read_table(spark, conf, "concept_aliases").select(F.col("alias").alias(column), F.col("concept").alias("canonical"))
    return df.join(aliases, column, "left").withColumn("canonical", F.coalesce("canonical", column))


def chapter_recall(spark: SparkSession, conf: Config) -> dict:
    chapters = read_table(spark, conf, "chapters")
    as_windows = chapters.select("video_id", F.col("chapter_idx").alias("window_idx"), F.lit(0).alias("seg_from"),
                                 F.array(F.lit(0)).alias("seg_offsets"), F.col("title").alias("text"))
    title_terms = as_windows.mapInArrow(spacy_mentions(worker_settings(conf, terms_settings(conf))),
                                        table_specs()["mentions"].spark_schema(MENTION_COLUMNS))
    # a name nested in a chapter title counts as the pipeline counts it: where the video says it alone
    title_terms = independent_nested(title_terms, read_table(spark, conf, "mentions").filter("kind != 'nested'"))
    title_terms = _canonical(spark, conf, title_terms.withColumnRenamed("window_idx", "chapter_idx")).select(
        "video_id", "chapter_idx", "canonical").distinct()
    spoken = _canonical(spark, conf, read_table(spark, conf, "mentions").filter(F.col("start_s").isNotNull())) \
        .select("video_id", "start_s", "canonical")
    picked = _canonical(spark, conf, read_table(spark, conf, "keyphrases").filter(
        F.col("start_s").isNotNull() & F.col("window_idx").isNotNull())).select("video_id", "start_s", "canonical")
    said = spoken.unionByName(picked)
    spans = chapters.select("video_id", "chapter_idx", "start_s", F.coalesce("end_s", F.lit(1e9)).alias("end_s"), "title")
    hits = (title_terms.join(spans, ["video_id", "chapter_idx"])
            .join(said.withColumnRenamed("start_s", "t"), ["video_id", "canonical"], "left")
            .withColumn("inside", (F.col("t") >= F.col("start_s") - 1) & (F.col("t") < F.col("end_s")))
            .groupBy("video_id", "chapter_idx", "title", "canonical").agg(F.max(F.coalesce("inside", F.lit(False))).alias("found")))
    per_chapter = hits.groupBy("video_id", "chapter_idx", "title").agg(
        F.max(F.col("found").cast("int")).alias("hit"), F.collect_list(F.struct("canonical", "found")).alias("terms")).cache()
    n = per_chapter.count()
    n_hit = per_chapter.filter("hit = 1").count()
    terms = hits.count()
    terms_hit = hits.filter("found").count()
    misses = [(r["title"], [t["canonical"] for t in r["terms"]]) for r in per_chapter.filter("hit = 0").limit(15).collect()]
    total = chapters.count()
    per_chapter.unpersist()
    return {"chapters": total, "chapters_with_title_concepts": n, "chapter_recall": n_hit / n if n else None,
            "title_concepts": terms, "title_concept_recall": terms_hit / terms if terms else None, "sample_misses": misses}


def top_concepts(spark: SparkSession, conf: Config, video_id: str, k: int = 10) -> list[tuple[str, str, float]]:
    """``(concept, label, tf-idf)`` of the video's top ``k`` as the ``top_concepts_per_video`` view ranks them."""
    rows = spark.sql("SELECT concept, label, tfidf FROM transcripts.top_concepts_per_video WHERE video_id = :v "
                     "ORDER BY rank_in_video", args={"v": video_id}).limit(k).collect()
    return [(r["concept"], r["label"], round(r["tfidf"], 4)) for r in rows]


def topic_report(spark: SparkSession, conf: Config, video_ids: list[str], n_largest: int = 15, k: int = 3) -> dict:
    """The current topic run's figures (from ``topic_runs``), its largest topics, and the top topics of
    the given videos by share of their windows."""
    topics = read_table(spark, conf, "topics")
    run_id = topics.select("run_id").first()["run_id"]
    run = read_table(spark, conf, "topic_runs").filter(F.col("run_id") == run_id).first().asDict()
    largest = [(r["topic_id"], r["label"], r["size"]) for r in
               topics.filter("topic_id >= 0").orderBy(F.desc("size"), "topic_id").limit(n_largest).collect()]
    timeline = read_table(spark, conf, "topic_timeline").join(topics.select("topic_id", "label"), "topic_id")
    per_video = {}
    for vid in video_ids:
        rows = timeline.filter(F.col("video_id") == vid).orderBy(F.desc("share"), "topic_id").limit(k).collect()
        per_video[vid] = [(r["topic_id"], r["label"], round(r["share"], 2)) for r in rows]
    keep = ("run_id", "backend", "n_windows", "n_fit", "n_topics", "outlier_share_before", "outlier_share", "diversity",
            "npmi_coherence", "fit_seconds")
    return {"run": {key: run[key] for key in keep}, "largest_topics": largest, "top_topics_of_videos": per_video}
