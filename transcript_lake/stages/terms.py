"""Stage ``terms`` (silver): ``windows`` -> ``mentions``, ``window_embeddings``, ``phrase_embeddings``, ``keyphrases``.

All NLP runs in Spark's Python workers over Arrow batches (``mapInArrow``), models loaded once per
worker (``nlp.models``), inputs batched:

1. spaCy ``nlp.pipe`` over the windows of changed videos -> mentions, each mapped to its segment
   (terms nested in longer terms included where the video also says them alone, or its author writes
   them alone in the video's title or a chapter title, ``nlp.mentions``).
2. Each window embedded once -> ``window_embeddings``; a window whose text already has a vector of the
   lake's encoding keeps it (a changed terms setting or a rebuilt window of the same text embeds nothing).
3. Each distinct phrase / concept key not yet in ``phrase_embeddings`` (for this model) embedded once
   and appended (the cache survives runs).
4. KeyBERT per window with its own phrases as candidates and the stored embeddings
   (``doc_embeddings`` / ``word_embeddings``): no re-encoding -> ``keyphrases``.
Steps 1 + 3 and step 2 run at once (they read the windows, not each other; ``run.parallel_stages: 1``
runs them one after another). Only videos whose windows or terms settings changed are processed (``stage_state``); the speed knobs
(``nlp.device``, threads, batch sizes) change no row and rerun nothing.
"""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from ..config import Config
from ..embedding import check as check_encoding, lake_encoding
from ..faults import writing
from ..schemas import table_specs
from ..sqltext import in_list
from ..stage import Settings, Stage, StageContext, file_digest
from ..tables import ensure_table, merge_by_key, read_table, replace_where

NAME = "terms"
NORMALISATION_VERSION = 8  # bump when concept_key() or mention extraction changes: every video is re-processed
# Pseudo-windows: the video's title (its mentions are stored, kind 'title') and its chapter titles
# (read like spoken text, used only as evidence that a nested name stands alone; never stored).
TITLE_WINDOW, CHAPTER_WINDOW = -1, -2
MENTION_COLUMNS = ["video_id", "window_idx", "seg_idx", "char_start", "surface", "concept", "phrase", "kind", "label"]


def spacy_model_identity(name: str) -> str:
    """A spaCy model by what it is, not where it lies: a package name as given, a model folder by the
    name and version in its meta.json (the same model copied elsewhere is the same model)."""
    import json
    from pathlib import Path

    meta = Path(name).expanduser() / "meta.json"
    if meta.is_file():
        m = json.loads(meta.read_text(encoding="utf-8"))
        return f"{m.get('lang', '')}_{m.get('name', '')}-{m.get('version', '')}"
    return name


def settings(conf: Config) -> Settings:
    """What the terms depend on (models, the lake's embedding encoding, stop list by content, KeyBERT
    settings), and the speed knobs that never change a row (device, threads, batch sizes)."""
    encoding, _, _ = lake_encoding(conf)
    return Settings(
        output={"spacy_model": spacy_model_identity(str(conf.get("nlp.spacy_model"))),
                "encoding": encoding.key,  # model by content hash + backend + precision: what makes the vectors
                "stop_concepts": file_digest(conf.path("terms.stop_concepts")),
                "top_k": int(conf.get("terms.keybert_top_k")), "diversity": float(conf.get("terms.mmr_diversity")),
                "max_words": int(conf.get("terms.max_phrase_words")), "normalisation": NORMALISATION_VERSION,
                "nested_max_zipf": float(conf.get("terms.nested_max_zipf") or 0)},
        speed={"device": conf.get("nlp.device"), "torch_threads": int(conf.get("nlp.torch_threads")),
               "spacy_batch_size": int(conf.get("nlp.spacy_batch_size")),
               "embed_batch_size": int(conf.get("nlp.embed_batch_size")),
               "windows_per_partition": int(conf.get("nlp.windows_per_partition"))})


def worker_settings(conf: Config, s: Settings) -> dict:
    """The plain dict shipped to the Python workers: every setting, plus the stop list's words (read
    on the driver: executors of a cluster need not see conf/)."""
    from ..nlp.concepts import load_stop_concepts

    encoding, _, _ = lake_encoding(conf)
    return {**s.output, **s.speed, "stop": load_stop_concepts(str(conf.path("terms.stop_concepts"))),
            # what to load (the settings hold what it is)
            "spacy_model": str(conf.get("nlp.spacy_model")), "embedding_model": str(conf.get("nlp.embedding_model")),
            "encoding_json": encoding.to_json()}


def spacy_mentions(s: dict):
    """``mapInArrow`` body factory: windows -> mention rows (one spaCy load per worker)."""
    stop = s["stop"]  # a StopList: filler keys, and its .edge adjectives
    schema = table_specs()["mentions"].arrow_schema(MENTION_COLUMNS)

    def fn(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from ..nlp.mentions import extract_mentions, extract_title_mentions, names_written_alone
        from ..nlp.models import load_spacy

        nlp = load_spacy(s["spacy_model"])
        for batch in batches:
            rows = []
            items = batch.to_pylist()
            windows = [w for w in items if w["window_idx"] >= 0 or w["window_idx"] == CHAPTER_WINDOW]
            for t in (w for w in items if w["window_idx"] == TITLE_WINDOW):
                for m in extract_title_mentions(nlp, t["text"], stop, s["nested_max_zipf"]):
                    rows.append({"video_id": t["video_id"], "window_idx": -1, **m})
            docs = nlp.pipe((w["text"] for w in windows), batch_size=s["spacy_batch_size"])
            for w, doc in zip(windows, docs):
                if w["window_idx"] == CHAPTER_WINDOW:  # evidence only: the names it writes on their own
                    found = names_written_alone(doc, stop, s["nested_max_zipf"], w["seg_from"], w["seg_offsets"])
                else:
                    found = extract_mentions(doc, w["seg_from"], w["seg_offsets"], stop, s["nested_max_zipf"])
                for m in found:
                    rows.append({"video_id": w["video_id"], "window_idx": w["window_idx"], **m})
            yield pa.RecordBatch.from_pylist(rows, schema=schema)

    return fn


def independent_nested(mentions: DataFrame, said_alone: DataFrame | None = None) -> DataFrame:
    """Nested names (``kind = 'nested'``) only where the video also says them on their own: a word
    that appears only inside one longer name ("Monte" of "Monte Carlo") is part of that name, not a
    name of its own (C-value's independence test, per video, so incremental runs agree). The author's
    own words count as on their own too: the terms stage passes the video's title and chapter titles
    through with the windows ("explicit graph Laplacian regularization methods" mentions ``graph
    laplacian regularization method`` in a chapter titled "Graph Laplacian regularization methods";
    a chapter title vouches only for the names that end a phrase in it, ``nlp.mentions.names_written_alone``). The test is
    against ``said_alone`` (``video_id``, ``concept`` of non-nested mentions) when given, else against
    ``mentions`` itself (one window pass: no second spaCy run)."""
    nested = F.col("kind") == "nested"
    if said_alone is not None:
        keep = mentions.filter(nested).join(said_alone.select("video_id", "concept").distinct(),
                                            ["video_id", "concept"], "left_semi")
        return mentions.filter(~nested).unionByName(keep)
    alone = F.max((~nested).cast("int")).over(Window.partitionBy("video_id", "concept"))
    return mentions.withColumn("_alone", alone).filter(~nested | (F.col("_alone") == 1)).drop("_alone")


def embed_rows(s: dict, key_columns: list[str], text_column: str):
    """``mapInArrow`` body factory: rows with ``text_column`` -> ``key_columns`` (passed through) + ``vector``."""

    def fn(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from ..nlp.encoders import Encoding, encode

        encoding = Encoding.from_json(s["encoding_json"])
        for batch in batches:
            schema = pa.schema([batch.schema.field(n) for n in key_columns] + [("vector", pa.list_(pa.float32()))])
            texts = batch.column(text_column).to_pylist()
            vectors = encode(texts, encoding, s["device"], s["torch_threads"], s["embed_batch_size"], model=s["embedding_model"])
            arrays = [batch.column(name) for name in key_columns]
            flat = pa.array(vectors.reshape(-1), type=pa.float32())
            offsets = pa.array([i * vectors.shape[1] for i in range(len(texts) + 1)], type=pa.int32())
            arrays.append(pa.ListArray.from_arrays(offsets, flat))
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return fn


def keybert_rows(s: dict):
    """``mapInArrow`` body factory: window + its vector + its candidates (phrase, concept, vector) -> keyphrases."""
    schema = table_specs()["keyphrases"].arrow_schema()

    def fn(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import numpy as np

        from ..nlp.keyphrases import keybert_model, window_keyphrases

        kw = keybert_model()
        for batch in batches:
            rows = []
            for w in batch.to_pylist():
                cands = w["candidates"] or []
                phrases = [c["phrase"] for c in cands]
                concept_of = {c["phrase"]: c["concept"] for c in cands}
                vectors = np.asarray([c["vector"] for c in cands], dtype="float32") if cands else np.zeros((0, 1), "float32")
                found = window_keyphrases(kw, w["text"], np.asarray(w["vector"], dtype="float32"), phrases, vectors,
                                          s["top_k"], s["diversity"], s["max_words"])
                for rank, (phrase, score) in enumerate(found, start=1):
                    rows.append({"video_id": w["video_id"], "window_idx": w["window_idx"], "start_s": w["start_s"],
                                 "end_s": w["end_s"], "phrase": phrase, "concept": concept_of.get(phrase, phrase),
                                 "score": score, "rank": rank})
            yield pa.RecordBatch.from_pylist(rows, schema=schema)

    return fn


def _partitions(n_rows: int, s: dict, spark: SparkSession) -> int:
    """Several tasks per core: windows differ in length, and with one task per core the slowest
    decides the step's time. Python workers are reused, so models load once per worker anyway."""
    return max(4 * spark.sparkContext.defaultParallelism, -(-n_rows // int(s["windows_per_partition"])))


def insert_new_phrases(spark: SparkSession, conf: Config, phrases: DataFrame, s: dict, ctx: StageContext) -> int:
    """Embed the phrases the cache lacks for this model and insert them (MERGE, insert-only: idempotent)."""
    from delta.tables import DeltaTable

    model = s["encoding"]
    path = ensure_table(spark, conf, "phrase_embeddings")
    cached = spark.read.format("delta").load(path).filter(F.col("model") == model).select("phrase")
    todo = phrases.distinct().join(cached, "phrase", "left_anti").persist()
    n = todo.count()
    if n:
        vectors = (todo.repartition(_partitions(n * 10 // 100, s, spark))
                   .mapInArrow(embed_rows(s, ["phrase"], "phrase"), table_specs()["phrase_embeddings"].spark_schema(["phrase", "vector"]))
                   .select("phrase", F.lit(model).alias("model"), "vector", F.current_timestamp().alias("created_at")))
        with writing("phrase_embeddings"):
            (DeltaTable.forPath(spark, path).alias("t")
             .merge(vectors.alias("s"), "t.phrase = s.phrase AND t.model = s.model")
             .whenNotMatchedInsertAll().execute())
    todo.unpersist()
    ctx.step("phrase cache: %d new phrase(s) embedded for %s", n, model)
    return n


def embed_windows(ctx: StageContext, windows: DataFrame, n_windows: int, plan, s: dict) -> tuple[int, int, int]:
    """Make ``window_embeddings`` hold one vector per window of the changed videos (``windows``, ``n_windows``
    of them), by the lake's encoding;
    returns (windows embedded, windows that kept their stored vector, videos rewritten).

    A vector depends on the window's text and the encoding only: a window whose text (``text_sha256``)
    already has a vector of this encoding among the changed videos' stored rows keeps it, so a terms
    setting that changes mentions or keyphrases (stop list, KeyBERT settings, a new extraction rule)
    embeds nothing again, and rebuilt windows embed only the texts that changed. A video whose stored
    rows already equal the new ones (same windows, texts and encoding) is not rewritten, so the table
    keeps its version and the stages reading it (topics) have nothing to redo. Removed videos' rows go.
    Rows of a lake written before ``text_sha256`` existed count as made from the current text where the
    video's last terms run read the windows it has now."""
    spark, conf = ctx.spark, ctx.conf
    model = s["encoding"]
    texts = windows.select("video_id", "window_idx", "text", F.sha2("text", 256).alias("text_sha256"))
    stored = (read_table(spark, conf, "window_embeddings").filter(in_list("video_id", plan.changed))
              .select("video_id", "window_idx", "model", F.col("text_sha256").alias("_stored_sha256"), "vector"))
    # rows written before text_sha256 existed: their text is the current one where the video's last terms
    # run read the windows it has now (its marker says so), else unknown (embedded again)
    made_from_now = ctx.same_upstream_as_last_run(ctx.upstream("windows"), plan.changed)
    now_sha = texts.filter(in_list("video_id", made_from_now)).select("video_id", "window_idx", F.col("text_sha256").alias("_now"))
    stored = (stored.join(now_sha, ["video_id", "window_idx"], "left")
              .withColumn("_stored_sha256", F.coalesce("_stored_sha256", "_now")).drop("_now"))
    # videos whose rows would change: a window added, gone, of another text, or of another encoding
    current = stored.filter(F.col("model") == model)
    differ = (texts.join(current, ["video_id", "window_idx"], "full_outer")
              .filter(~F.col("text_sha256").eqNullSafe(F.col("_stored_sha256")) | F.col("_stored_sha256").isNull())
              .select("video_id")
              .union(stored.filter(F.col("model") != model).select("video_id")))
    rewrite = sorted({r["video_id"] for r in differ.distinct().collect()})
    if not rewrite and not plan.removed:
        return 0, n_windows, 0
    todo = texts.filter(in_list("video_id", rewrite))
    known = (current.filter(F.col("_stored_sha256").isNotNull())
             .select(F.col("_stored_sha256").alias("text_sha256"), "vector").dropDuplicates(["text_sha256"]))
    kept_rows = todo.join(known, "text_sha256").select("video_id", "window_idx", "text_sha256", "vector")
    new = todo.join(known, "text_sha256", "left_anti").persist()
    n_new = new.count()
    keys = table_specs()["window_embeddings"]
    made = (new.select("video_id", "window_idx", "text_sha256", "text").repartition(_partitions(n_new, s, spark))
            .mapInArrow(embed_rows(s, ["video_id", "window_idx", "text_sha256"], "text"),
                        keys.spark_schema(["video_id", "window_idx", "text_sha256", "vector"])))
    rows = made.unionByName(kept_rows).withColumn("model", F.lit(model))
    # replaced per video whatever made them: after a re-embed no vector of the old encoding stays
    replace_where(spark, conf, "window_embeddings", rows, in_list("video_id", rewrite + plan.removed))
    new.unpersist()
    return n_new, n_windows - n_new, len(rewrite)


def _record_encoding(ctx: StageContext) -> None:
    """A new lake (or a re-embed) records its encoding as current; every later vector is made by it."""
    from ..nlp.encoders import export_dir

    encoding, why, new = lake_encoding(ctx.conf)
    export_dir(encoding, model=str(ctx.conf.get("nlp.embedding_model")))
    if not new:
        return
    spark = ctx.spark
    table = read_table(spark, ctx.conf, "encodings")
    old = table.filter(F.col("key") != encoding.key).withColumn("current", F.lit(False))
    row = spark.createDataFrame([(encoding.key, True, encoding.model, encoding.model_sha256, encoding.backend,
                                  encoding.precision, encoding.calibration, encoding.to_json(), why)],
                                table.drop("created_at").schema).withColumn("created_at", F.current_timestamp())
    merge_by_key(spark, ctx.conf, "encodings", old.unionByName(row).localCheckpoint(), ["key"])
    ctx.step("embedding encoding %s recorded as the lake's (%s)", encoding.key, why)
    ctx.result.wrote.append("encodings")


def _mentions_and_phrases(ctx: StageContext, windows: DataFrame, n_windows: int, plan, parts: int, s: dict):
    """Step 1: spaCy -> ``mentions`` (segment start time joined from segments); then the phrase cache:
    candidate phrases and concept keys, each embedded once ever per model. Returns (mentions written,
    the changed videos' mentions).

    The video's title and chapter titles go through the same pipeline as pseudo-windows: the author's own
    words for the subject of the video. Title mentions are stored; chapter titles only vouch for nested
    names, in the same pass (one spaCy run, one window function), and are dropped after."""
    spark, conf = ctx.spark, ctx.conf
    touched = in_list("video_id", plan.touched)

    def pseudo(table: str, window_idx: int) -> DataFrame:
        return (read_table(spark, conf, table).filter(in_list("video_id", plan.changed))
                .select("video_id", F.lit(window_idx).alias("window_idx"), F.lit(0).alias("seg_from"),
                        F.array(F.lit(0)).alias("seg_offsets"), F.coalesce("title", F.lit("")).alias("text")))

    docs = (windows.select("video_id", "window_idx", "seg_from", "seg_offsets", "text")
            .unionByName(pseudo("videos", TITLE_WINDOW)).unionByName(pseudo("chapters", CHAPTER_WINDOW)))
    raw = independent_nested(docs.repartition(parts)
                             .mapInArrow(spacy_mentions(s), table_specs()["mentions"].spark_schema(MENTION_COLUMNS)))
    raw = raw.filter(F.col("window_idx") != CHAPTER_WINDOW)
    is_title = F.col("window_idx") == TITLE_WINDOW
    raw = (raw.withColumn("kind", F.when(is_title, F.lit("title")).otherwise(F.col("kind")))
           .withColumn("seg_idx", F.when(is_title, F.lit(None).cast("int")).otherwise(F.col("seg_idx")))
           .withColumn("window_idx", F.when(is_title, F.lit(None).cast("int")).otherwise(F.col("window_idx"))))
    seg_times = read_table(spark, conf, "segments").filter(in_list("video_id", plan.changed)).select("video_id", "seg_idx", "start_s")
    n_mentions = replace_where(spark, conf, "mentions", raw.join(seg_times, ["video_id", "seg_idx"], "left"), touched)
    mentions = read_table(spark, conf, "mentions").filter(in_list("video_id", plan.changed))
    ctx.step("spaCy: %d mention(s) in %d window(s)", n_mentions, n_windows)
    phrases = mentions.select("phrase").union(mentions.select(F.col("concept").alias("phrase")))
    ctx.result.add(phrases_embedded=insert_new_phrases(spark, conf, phrases, s, ctx))
    return n_mentions, mentions


def run(ctx: StageContext) -> None:
    spark, conf, result = ctx.spark, ctx.conf, ctx.result
    s = worker_settings(conf, ctx.settings)
    plan = ctx.plan_videos(ctx.upstream("windows"))
    ctx.step("%d video(s) to process, %d removed, %d unchanged", len(plan.changed), len(plan.removed), plan.unchanged)
    result.add(videos_processed=len(plan.changed), videos_removed=len(plan.removed))
    if plan.noop:
        result.add(mentions=0, keyphrases=0, phrases_embedded=0)
        return
    touched = in_list("video_id", plan.touched)
    windows = read_table(spark, conf, "windows").filter(in_list("video_id", plan.changed))
    n_windows = windows.count()
    parts = _partitions(n_windows, s, spark)

    # Steps 1 + 3 (spaCy -> mentions -> phrase cache) and step 2 (the window embeddings) read the windows,
    # not each other, so they run at once (ctx.at_once); the lake's encoding is recorded (and exported on
    # the driver) first, so neither step's workers queue on the export lock.
    _record_encoding(ctx)
    model = s["encoding"]
    (n_mentions, mentions), (embedded, kept, rewritten) = ctx.at_once(
        lambda: _mentions_and_phrases(ctx, windows, n_windows, plan, parts, s),
        lambda: embed_windows(ctx, windows, n_windows, plan, s))
    result.add(windows_embedded=embedded, windows_kept=kept)
    ctx.step("embedded %d window(s), kept the vectors of %d (text and encoding unchanged), %d video(s) rewritten",
             embedded, kept, rewritten)

    # 4. KeyBERT with stored embeddings
    cache = read_table(spark, conf, "phrase_embeddings").filter(F.col("model") == model).select("phrase", "vector")
    per_window = (mentions.filter(F.col("window_idx").isNotNull()).groupBy("video_id", "window_idx", "phrase")
                  .agg(F.mode("concept", deterministic=True).alias("concept"))
                  .join(cache, "phrase")
                  .groupBy("video_id", "window_idx")
                  .agg(F.collect_list(F.struct("phrase", "concept", "vector")).alias("candidates")))
    wv = read_table(spark, conf, "window_embeddings").filter(F.col("model") == model).filter(in_list("video_id", plan.changed))
    inputs = (windows.select("video_id", "window_idx", "start_s", "end_s", "text")
              .join(wv.select("video_id", "window_idx", "vector"), ["video_id", "window_idx"])
              .join(per_window, ["video_id", "window_idx"], "left").repartition(parts))
    keyphrases = inputs.mapInArrow(keybert_rows(s), table_specs()["keyphrases"].spark_schema())
    n_kp = replace_where(spark, conf, "keyphrases", keyphrases, touched)
    ctx.step("KeyBERT: %d keyphrase(s)", n_kp)
    result.add(windows=n_windows, mentions=n_mentions, keyphrases=n_kp)
    result.wrote += ["mentions", "phrase_embeddings", "keyphrases"] + (["window_embeddings"] if rewritten or plan.removed else [])


STAGE = Stage(
    name=NAME, run=run, settings=settings, per_video=True,
    inputs=("windows", "videos", "segments", "chapters"),
    outputs=("mentions", "window_embeddings", "phrase_embeddings", "keyphrases", "encodings"),
    preflight=check_encoding,
    doc="windows -> spaCy mentions, window and phrase embeddings, KeyBERT keyphrases (silver).",
)
