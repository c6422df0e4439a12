"""Stage ``search`` (gold): ``windows`` + ``segments`` + ``chapters`` + ``mentions`` + ``keyphrases`` ->
``search_windows``, ``search_terms``, ``search_concepts``: the search index, per video.

- ``search_windows``: each window with its segments' times and text offsets (a result jumps to the best
  segment) and its BM25 length;
- ``search_terms``: the inverted index, term frequencies per window of the analysed text
  (:func:`transcript_lake.search.analyze`) and of its chapter title (searched only when
  ``search.chapter_titles`` is on, at query time);
- ``search_concepts``: the concept keys spoken per window (as in ``mentions``, before alias merges) with
  mentions and KeyBERT salience; queries map them through ``concept_aliases`` at query time, so better
  aliases (a new concepts run) change results without re-indexing.

Per video and incremental like every per-video stage: only videos whose ``terms`` output changed (their
markers) are re-indexed, removed videos are dropped (``replaceWhere`` on the touched videos, so a re-run
writes the same rows), and the orchestrator writes the markers after the rows. Corpus statistics (idf,
average length) are not stored: the query engine computes them from the rows, so one new video never
rewrites the others. Window vectors are not copied: the engine reads ``window_embeddings``.

Example::

    run_pipeline(spark, conf, ["search"]).results["search"].metrics
    # {'videos_indexed': 1, 'videos_removed': 0, 'windows_indexed': 52, 'terms_written': 3911, ...}
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Iterator

import pandas as pd
import pyarrow as pa
from pyspark.sql import functions as F

from ..config import Config
from ..schemas import table_specs
from ..search import ANALYZER_VERSION, STOP_WORDS
from ..sqltext import in_list
from ..stage import Settings, Stage, StageContext
from ..tables import read_table, replace_where

NAME = "search"


def settings(conf: Config) -> Settings:
    """What the index rows depend on: the analyser (version, stop words, stemmer). Ranking settings
    (``search.weights``, ``search.chapter_titles``, ...) apply at query time and re-index nothing."""
    stop = hashlib.sha256(" ".join(sorted(STOP_WORDS)).encode()).hexdigest()[:16]
    return Settings(output={"analyzer": ANALYZER_VERSION, "stop_words": stop, "stemmer": "snowball-english"})


def index_windows(wins: pd.DataFrame, segs: pd.DataFrame) -> pd.DataFrame:
    """``search_windows`` rows of one video: ``wins`` (windows + chapter_title), ``segs`` (seg_idx, start_s, end_s)."""
    from ..search import analyze

    columns = table_specs()["search_windows"].column_names
    if wins.empty:
        return pd.DataFrame(columns=columns)
    start = dict(zip(segs["seg_idx"], segs["start_s"]))
    end = dict(zip(segs["seg_idx"], segs["end_s"]))
    rows = []
    for w in wins.sort_values("window_idx").itertuples(index=False):
        ids = range(int(w.seg_from), int(w.seg_to) + 1)
        rows.append({"video_id": w.video_id, "window_idx": int(w.window_idx), "start_s": float(w.start_s),
                     "end_s": float(w.end_s), "seg_from": int(w.seg_from),
                     "seg_starts": [float(start.get(i, w.start_s)) for i in ids],
                     "seg_ends": [float(end.get(i, w.end_s)) for i in ids],
                     "seg_offsets": [int(o) for o in w.seg_offsets], "text": w.text,
                     "n_terms": len(analyze(w.text)),
                     "chapter_idx": None if pd.isna(w.chapter_idx) else int(w.chapter_idx),
                     "chapter_title": None if w.chapter_title is None or pd.isna(w.chapter_title) else str(w.chapter_title)})
    out = pd.DataFrame(rows, columns=columns)
    out["chapter_idx"] = out["chapter_idx"].astype("Int32")
    return out


def term_rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` body: search_windows rows -> ``search_terms`` rows (text and chapter fields)."""
    from ..search import analyze

    schema = table_specs()["search_terms"].arrow_schema()
    for batch in batches:
        out = {"video_id": [], "window_idx": [], "field": [], "term": [], "tf": []}
        for w in batch.to_pylist():
            for fld, text in (("text", w["text"]), ("chapter", w["chapter_title"])):
                for term, tf in Counter(analyze(text or "")).items():
                    out["video_id"].append(w["video_id"])
                    out["window_idx"].append(w["window_idx"])
                    out["field"].append(fld)
                    out["term"].append(term)
                    out["tf"].append(tf)
        yield pa.RecordBatch.from_pydict(out, schema=schema)


def run(ctx: StageContext) -> None:
    spark, conf, result = ctx.spark, ctx.conf, ctx.result
    plan = ctx.plan_videos(ctx.upstream("terms"))
    ctx.step("%d video(s) to index, %d removed, %d unchanged", len(plan.changed), len(plan.removed), plan.unchanged)
    result.add(videos_indexed=len(plan.changed), videos_removed=len(plan.removed))
    if plan.noop:
        result.add(windows_indexed=0, terms_written=0, concepts_written=0)
        return
    changed, touched = in_list("video_id", plan.changed), in_list("video_id", plan.touched)

    # 1. documents: windows + their segments' times + their chapter's title
    titles = read_table(spark, conf, "chapters").filter(changed).select("video_id", "chapter_idx", F.col("title").alias("chapter_title"))
    wins = (read_table(spark, conf, "windows").filter(changed)
            .select("video_id", "window_idx", "start_s", "end_s", "seg_from", "seg_to", "seg_offsets", "text", "chapter_idx")
            .join(titles, ["video_id", "chapter_idx"], "left"))
    segs = read_table(spark, conf, "segments").filter(changed).select("video_id", "seg_idx", "start_s", "end_s")
    docs = (wins.groupBy("video_id").cogroup(segs.groupBy("video_id"))
            .applyInPandas(index_windows, table_specs()["search_windows"].spark_schema()))

    def documents_and_terms() -> tuple[int, int]:
        n_windows = replace_where(spark, conf, "search_windows", docs, touched)
        written = read_table(spark, conf, "search_windows").filter(changed)
        ctx.step("documents: %d window(s)", n_windows)
        # 2. term postings, from the rows just written (analysed once more in the Python workers)
        terms = written.select("video_id", "window_idx", "text", "chapter_title").mapInArrow(
            term_rows, table_specs()["search_terms"].spark_schema())
        n_terms = replace_where(spark, conf, "search_terms", terms, touched)
        ctx.step("terms: %d posting(s)", n_terms)
        return n_windows, n_terms

    # 3. concept postings: keys as spoken per window, with KeyBERT salience (they need nothing of 1 and 2:
    #    written at the same time)
    spoken = (read_table(spark, conf, "mentions").filter(changed).filter(F.col("window_idx").isNotNull())
              .groupBy("video_id", "window_idx", "concept")
              .agg(F.count("*").cast("int").alias("mentions"), F.min("seg_idx").cast("int").alias("first_seg_idx")))
    salience = (read_table(spark, conf, "keyphrases").filter(changed)
                .groupBy("video_id", "window_idx", "concept").agg(F.max("score").alias("salience")))
    concepts = (spoken.filter(F.col("first_seg_idx").isNotNull())
                .join(salience, ["video_id", "window_idx", "concept"], "left")
                .withColumn("salience", F.coalesce("salience", F.lit(0.0)).cast("double")))
    (n_windows, n_terms), n_concepts = ctx.at_once(
        documents_and_terms, lambda: replace_where(spark, conf, "search_concepts", concepts, touched))
    ctx.step("concepts: %d posting(s)", n_concepts)
    result.add(windows_indexed=n_windows, terms_written=n_terms, concepts_written=n_concepts)
    result.wrote += ["search_windows", "search_terms", "search_concepts"]


STAGE = Stage(
    name=NAME, run=run, settings=settings, per_video=True,
    inputs=("windows", "segments", "chapters", "mentions", "keyphrases"),
    outputs=("search_windows", "search_terms", "search_concepts"),
    doc="windows + mentions + keyphrases -> the search index: documents, term and concept postings per window (gold).",
)
