"""Stage ``vocabulary`` (silver): ``videos`` + ``chapters`` + ``comments`` + ``conf/glossary.yaml`` ->
``vocabulary``.

The names as *written*: video titles, descriptions, chapter titles, the channel name of the manifest,
source file names and comments, each parsed in Spark's Python workers (``mapInArrow``, one spaCy load
per worker) into names, noun phrases and acronym definitions
(:func:`~transcript_lake.nlp.vocabulary.written_terms`), keyed exactly like spoken mentions. The
concepts stage uses them to label concepts with their written form, to link acronyms to their
expansions and to recognise mis-heard names; written text never creates a mention.

Incremental per video: a video's rows are rebuilt when its record (title, description, chapters, file)
or its comments changed. Corpus-wide text (comments of no known video, the glossary) is planned as one
pseudo-video, ``(corpus)``, whose rows have ``video_id`` null: editing the glossary re-parses only the
glossary (its content is the stage's ``sources`` fingerprint, not a setting, so no video is redone).

Example::

    run_pipeline(spark, conf, ["vocabulary"]).results["vocabulary"].metrics
    # {'videos_rebuilt': 1, 'videos_removed': 0, 'terms_written': 214, 'definitions': 2}
    spark.sql("SELECT term, expansion FROM transcripts.vocabulary WHERE kind = 'definition'")
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ..config import Config
from ..schemas import table_specs
from ..sqltext import in_list
from ..stage import Settings, Stage, StageContext, file_digest, stable_json
from ..tables import read_table, replace_where

NAME = "vocabulary"
CORPUS = "(corpus)"  # the pseudo-video of corpus-wide written text (rows with video_id null)
EXTRACTOR_VERSION = 3  # bump when written_terms() changes what it finds: every video is re-parsed
TERM_COLUMNS = ["video_id", "source", "kind", "term", "key", "expansion", "expansion_key"]


def glossary_path(conf: Config):
    value = conf.get("concepts.glossary", None)
    return conf.path("concepts.glossary") if value else None


def settings(conf: Config) -> Settings:
    """What the written terms depend on: the spaCy model, the stop list (by content) and the extractor."""
    return Settings(output={"spacy_model": conf.get("nlp.spacy_model"),
                            "stop_concepts": file_digest(conf.path("terms.stop_concepts")),
                            "extractor": EXTRACTOR_VERSION},
                    speed={"spacy_batch_size": int(conf.get("nlp.spacy_batch_size"))})


def glossary_fingerprint(conf: Config) -> str:
    """The glossary's content (not its path): a change makes the stage run, and only the corpus-wide
    rows are rebuilt (the glossary is part of the ``(corpus)`` pseudo-video's hash, not a setting)."""
    path = glossary_path(conf)
    return stable_json({"glossary": file_digest(path) if path else None})


def preflight(conf: Config) -> None:
    """A malformed glossary is one ``error:`` line before any JVM starts."""
    from ..nlp.identity import load_glossary

    load_glossary(glossary_path(conf))


def written_rows(s: dict):
    """``mapInArrow`` body factory: (video_id, source, text) -> vocabulary term rows (uncounted)."""
    stop = s["stop"]  # keys as the terms stage makes them: filler keys and edge adjectives
    schema = table_specs()["vocabulary"].arrow_schema(TERM_COLUMNS)

    def fn(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from ..nlp.models import load_spacy
        from ..nlp.vocabulary import file_terms, written_terms

        nlp = load_spacy(s["spacy_model"])
        for batch in batches:
            rows = []
            for item in batch.to_pylist():
                if item["source"] == "source_file":
                    found = file_terms(nlp, item["text"], stop)
                else:
                    found = written_terms(nlp, item["text"], item["source"], stop)
                rows += [{"video_id": item["video_id"], "source": item["source"], **f} for f in found]
            yield pa.RecordBatch.from_pylist(rows, schema=schema)

    return fn


def glossary_rows(conf: Config, stop) -> list[dict]:
    """Rows of the glossary (keys computed with spaCy on the driver: a handful of names)."""
    from ..nlp.identity import load_glossary
    from ..nlp.models import load_spacy
    from ..nlp.vocabulary import key_of

    g = load_glossary(glossary_path(conf))
    if g.empty:
        return []
    nlp = load_spacy(conf.get("nlp.spacy_model"))
    forms = sorted({f for name, aliases in g.concepts for f in [name, *aliases]} | {f for pair in g.never for f in pair})
    keys = {f: key_of(doc, stop) or " ".join(f.lower().split()) for f, doc in zip(forms, nlp.pipe(forms))}
    rows = []

    def row(term, kind, expansion=None):
        return {"video_id": None, "source": "glossary", "kind": kind, "term": term, "key": keys[term],
                "expansion": expansion, "expansion_key": keys[expansion] if expansion else None, "count": 1}

    for name, aliases in g.concepts:
        rows.append(row(name, "glossary"))
        rows += [row(a, "glossary_alias", name) for a in aliases]
    rows += [row(a, "never_merge", b) for a, b in g.never]
    return rows


def upstream_hashes(ctx: StageContext, comments: DataFrame) -> DataFrame:
    """(video_id, upstream_hash): each video's record (title, description, chapters, file, channel) and
    its comments; plus the ``(corpus)`` pseudo-video: comments of no video and the glossary."""
    videos = read_table(ctx.spark, ctx.conf, "videos").select(
        "video_id", F.concat_ws("|", "content_sha256", F.coalesce("title", F.lit("")), F.coalesce("channel", F.lit("")),
                                F.coalesce("source_path", F.lit(""))).alias("record"))
    per_video = (comments.filter(F.col("video_id").isNotNull()).groupBy("video_id")
                 .agg(F.sha2(F.concat_ws(",", F.sort_array(F.collect_list("comment_id"))), 256).alias("comments")))
    hashes = (videos.join(per_video, "video_id", "left")
              .select("video_id", F.sha2(F.concat_ws("|", "record", F.coalesce("comments", F.lit(""))), 256).alias("upstream_hash")))
    corpus_ids = sorted(r["comment_id"] for r in comments.filter(F.col("video_id").isNull()).select("comment_id").collect())
    corpus = hashlib.sha256(json.dumps([corpus_ids, glossary_fingerprint(ctx.conf)]).encode()).hexdigest()
    return hashes.unionByName(ctx.spark.createDataFrame([(CORPUS, corpus)], "video_id string, upstream_hash string"))


def run(ctx: StageContext) -> None:
    from ..nlp.concepts import load_stop_concepts

    spark, conf, result = ctx.spark, ctx.conf, ctx.result
    comments = read_table(spark, conf, "comments").select("comment_id", "video_id", "text")
    plan = ctx.plan_videos(upstream_hashes(ctx, comments))
    ctx.step("%d video(s) to rebuild, %d removed, %d unchanged", len(plan.changed), len(plan.removed), plan.unchanged)
    result.add(videos_rebuilt=len([v for v in plan.changed if v != CORPUS]), videos_removed=len(plan.removed),
               corpus_rebuilt=CORPUS in plan.changed)
    if plan.noop:
        result.add(terms_written=0)
        return
    stop = load_stop_concepts(str(conf.path("terms.stop_concepts")))
    s = {**ctx.settings.output, **ctx.settings.speed, "stop": stop}  # the StopList itself: its .edge adjectives too
    videos = [v for v in plan.changed if v != CORPUS]
    schema = table_specs()["vocabulary"].spark_schema()
    columns = table_specs()["vocabulary"].column_names
    if videos or [v for v in plan.removed if v != CORPUS]:
        changed = in_list("video_id", videos) if videos else "false"
        v = read_table(spark, conf, "videos").filter(changed)
        texts = (v.select("video_id", F.lit("title").alias("source"), F.col("title").alias("text"))
                 .unionByName(v.select("video_id", F.lit("description").alias("source"), F.col("description").alias("text")))
                 .unionByName(v.select("video_id", F.lit("manifest").alias("source"), F.col("channel").alias("text")))
                 .unionByName(v.select("video_id", F.lit("source_file").alias("source"), F.col("source_path").alias("text")))
                 .unionByName(read_table(spark, conf, "chapters").filter(changed)
                              .select("video_id", F.lit("chapter").alias("source"), F.col("title").alias("text")))
                 .unionByName(comments.filter(F.col("video_id").isNotNull()).filter(changed)
                              .select("video_id", F.lit("comment").alias("source"), "text"))
                 .filter(F.col("text").isNotNull() & (F.length(F.trim("text")) > 0)))
        terms = (texts.repartition(max(2, spark.sparkContext.defaultParallelism))
                 .mapInArrow(written_rows(s), table_specs()["vocabulary"].spark_schema(TERM_COLUMNS))
                 .groupBy(*TERM_COLUMNS).agg(F.count("*").alias("count")).select(*columns))
        touched = [x for x in plan.touched if x != CORPUS]
        replace_where(spark, conf, NAME, terms, in_list("video_id", touched))
        ctx.step("written terms of %d video(s)", len(videos))
    if CORPUS in plan.touched:
        rows = glossary_rows(conf, stop) if CORPUS in plan.changed else []
        loose = comments.filter(F.col("video_id").isNull()).select(
            F.lit(None).cast("string").alias("video_id"), F.lit("comment").alias("source"), "text")
        parsed = (loose.repartition(max(2, spark.sparkContext.defaultParallelism))
                  .mapInArrow(written_rows(s), table_specs()["vocabulary"].spark_schema(TERM_COLUMNS))
                  .groupBy(*TERM_COLUMNS).agg(F.count("*").alias("count")).select(*columns))
        corpus = parsed.unionByName(spark.createDataFrame([tuple(r[c] for c in columns) for r in rows], schema)) \
            if rows else parsed
        if CORPUS in plan.removed:
            corpus = corpus.limit(0)
        # Corpus rows are small: compared first, so an unchanged corpus (a new comment-less video) commits nothing.
        current = read_table(spark, conf, NAME).filter(F.col("video_id").isNull()).select(*columns)
        if not (corpus.exceptAll(current).isEmpty() and current.exceptAll(corpus).isEmpty()):
            replace_where(spark, conf, NAME, corpus, "video_id IS NULL")
        ctx.step("corpus-wide written terms (comments of no video, glossary: %d row(s))", len(rows))
    table = read_table(spark, conf, NAME)
    result.add(terms_written=table.filter(F.col("video_id").isNull() | F.col("video_id").isin(plan.changed)).count(),
               definitions=table.filter(F.col("kind") == "definition").count())
    result.wrote += [NAME]


STAGE = Stage(
    name=NAME, run=run, settings=settings, per_video=True, sources=glossary_fingerprint, preflight=preflight,
    inputs=("videos", "chapters", "comments"), outputs=(NAME,),
    doc="titles, descriptions, chapters, comments, file names, glossary -> the written vocabulary (silver).",
)
