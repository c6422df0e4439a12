"""Stage ``topics`` (gold): ``windows`` + ``window_embeddings`` -> ``topics``, ``window_topics``,
``topic_timeline``, ``topics_over_time`` (+ ``topic_runs``, the saved model and HTML figures).

BERTopic is single-node: the fit runs on the driver, which collects only keys + vectors + text of the
windows it fits on (all of them, or ``topics.fit_sample``). Stored embeddings are reused, never
recomputed. With a sample, the other windows are assigned in Spark (``mapInPandas``) by the saved
model, loaded once per Python worker from its safetensors artifact. A run id hashes the inputs' Delta
versions + settings. When only a few videos changed (``topics.refit_share``) and the settings are those
of the saved model, their windows are assigned by that model instead of refitting.

``run`` reads top-down as named steps, like ``BERTopic.fit_transform``: :func:`_fit`,
:func:`_save_model`, :func:`_assign`, :func:`_write_tables`, :func:`_record_run` (or
:func:`_assign_incrementally` for a few new videos). The model folder and the figures are stored in
``topic_runs`` relative to the lake root, so a copied or moved lake still finds them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

from ..config import Config
from ..embedding import check as check_encoding, lake_encoding
from ..faults import writing
from ..lake import lake_relative, lake_root, resolve_in_lake, table_path
from ..nlp.topic_model import (assign_by_similarity, build_model, diversity, load_saved, npmi_coherence,
                               read_stop_words, resolve_backend)
from ..sqltext import in_list
from ..stage import Settings, Stage, StageContext, file_digest
from ..tables import merge_by_key, read_table, replace_where, table_version

NAME = "topics"
KEYS = ["video_id", "window_idx"]
ASSIGNED = "video_id string, window_idx int, topic_id int, probability double"
log = logging.getLogger("transcript_lake")


def settings(conf: Config) -> Settings:
    keys = ("backend", "gpu_fallback", "fit_sample", "random_state", "umap", "hdbscan", "min_topic_size", "vectorizer",
            "reduce_frequent_words", "outlier_threshold", "top_n_words", "representative_windows")
    out = {k: conf.get(f"topics.{k}") for k in keys}
    stop = file_digest(conf.path("topics.stop_words"))
    out["stop_words_sha256"] = stop["sha256"] if stop else None
    out["embedding_model"] = lake_encoding(conf)[0].key  # the encoding of the vectors it clusters
    return Settings(output=out, speed={"refit_share": float(conf.get("topics.refit_share", 0.1))})


def topic_settings(conf: Config) -> dict:
    """The topic-model settings as one dict (what ``topic_runs.parameters`` records)."""
    return settings(conf).output


def sample_filter(fit_sample, n_rows: int):
    """Deterministic sample (hash of the key), so two runs fit on the same windows."""
    if fit_sample in (None, "", 0):
        return None
    fraction = float(fit_sample) if float(fit_sample) <= 1 else min(1.0, float(fit_sample) / max(n_rows, 1))
    if fraction >= 1:
        return None
    bucket = F.abs(F.xxhash64("video_id", "window_idx")) % 1_000_000
    return bucket < int(fraction * 1_000_000)


@contextmanager
def _quiet_bertopic():
    logger = logging.getLogger("BERTopic")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def assign_rows(model_dir: str):
    """``mapInPandas`` body: windows (keys + vector) -> topic by similarity to the saved model's topics."""

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = load_saved(model_dir)
        for pdf in batches:
            if pdf.empty:
                continue
            vectors = np.stack(pdf["vector"].to_numpy()).astype("float32")
            topics, sims = assign_by_similarity(model, vectors)
            yield pd.DataFrame({"video_id": pdf["video_id"], "window_idx": pdf["window_idx"].astype("int32"),
                                "topic_id": topics.astype("int32"), "probability": sims.astype("float64")})

    return fn


def _write_figures(model, docs, tot, folder: Path) -> list[str]:
    """BERTopic's interactive figures as self-contained HTML (plotly.js inlined)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    figures = {
        "intertopic_distance_map.html": lambda: model.visualize_topics(),
        "term_barchart.html": lambda: model.visualize_barchart(top_n_topics=min(16, len(model.get_topics()) - 1)),
        "topics_over_time.html": lambda: model.visualize_topics_over_time(tot, top_n_topics=12),
        "hierarchy.html": lambda: model.visualize_hierarchy(),
    }
    for name, make in figures.items():
        try:
            make().write_html(str(folder / name), include_plotlyjs=True, full_html=True)
            written.append(name)
        except Exception as exc:  # a figure BERTopic cannot draw (too few topics) must not fail the run
            (folder / f"{name}.error.txt").write_text(f"{type(exc).__name__}: {exc}\n")
    return written


def write_topic_timeline(spark: SparkSession, conf: Config, wt, data, run_id: str):
    """``topic_timeline``: per topic and video, in upload order (small: rewritten whole). Returns ``videos``."""
    videos = read_table(spark, conf, "videos").select("video_id", "upload_rank")
    per_video = (wt.join(data.select(*KEYS, "start_s", "end_s"), KEYS)
                 .withColumn("n_video", F.count("*").over(Window.partitionBy("video_id")))
                 .groupBy("topic_id", "video_id").agg(F.count("*").alias("n_windows"), F.first("n_video").alias("n_video"),
                                                      F.sum(F.col("end_s") - F.col("start_s")).alias("seconds"))
                 .join(videos, "video_id", "left")
                 .select("topic_id", "video_id", "upload_rank", "n_windows", (F.col("n_windows") / F.col("n_video")).alias("share"),
                         (F.col("seconds") / 60).alias("minutes"), F.lit(run_id).alias("run_id")))
    replace_where(spark, conf, "topic_timeline", per_video, "true")
    return videos


def changed_videos(spark: SparkSession, conf: Config, runs: dict, model_run: str) -> list[str] | None:
    """Videos whose windows differ from those the current assignments were made for (Delta time
    travel to the ``windows`` version the latest run of ``model_run`` read); None when that version
    cannot be read any more (vacuumed): then the caller refits."""
    latest = max((r for r in runs.values() if (r.get("model_run_id") or r["run_id"]) == model_run),
                 key=lambda r: r["created_at"])
    base = json.loads(latest["input_versions"]).get("windows")
    cur = read_table(spark, conf, "windows").select(*KEYS, "text")
    try:
        old = spark.read.format("delta").option("versionAsOf", int(base)).load(table_path(conf, "windows")).select(*KEYS, "text")
        changed = cur.exceptAll(old).select("video_id").union(old.exceptAll(cur).select("video_id")).distinct()
        return sorted(r["video_id"] for r in changed.collect())
    except Exception as exc:  # version vacuumed / unreadable
        log.warning("[topics] windows version %s unreadable (%s): refitting", base, str(exc).splitlines()[0][:200])
        return None


@dataclass
class Fit:
    """What one BERTopic fit produced, handed from step to step."""

    model: object
    rows: list                 # fitted windows (keys, text, vector), in key order
    docs: list[str]
    X: np.ndarray
    topics: np.ndarray         # topic per fitted window, after outlier reduction
    outliers_before: float
    seconds: float
    backend: str
    fallback_reason: str | None


def run(ctx: StageContext) -> None:
    spark, conf, s = ctx.spark, ctx.conf, ctx.settings.output
    versions = {t: table_version(spark, conf, t) for t in ("windows", "window_embeddings")}
    run_id = hashlib.sha256(json.dumps({"versions": versions, "settings": s}, sort_keys=True, default=str)
                            .encode()).hexdigest()[:16]
    runs = {r["run_id"]: r.asDict() for r in read_table(spark, conf, "topic_runs").collect()}  # one row per run: small
    data = (read_table(spark, conf, "windows").select(*KEYS, "text", "start_s", "end_s")
            .join(read_table(spark, conf, "window_embeddings").filter(F.col("model") == s["embedding_model"])
                  .select(*KEYS, "vector"), KEYS))
    n_rows = data.count()

    # A few new or changed videos are assigned by the saved model instead of refitting everything.
    prev = _current_run(spark, conf, runs)
    if prev and not ctx.full_refresh and prev["parameters"] == json.dumps(s, sort_keys=True, default=str):
        touched = changed_videos(spark, conf, runs, prev["run_id"])
        n_touched = data.filter(in_list("video_id", touched)).count() if touched else 0
        if touched is not None and n_touched <= ctx.settings["refit_share"] * n_rows:
            _assign_incrementally(ctx, prev, run_id, versions, data, touched, n_touched, set(runs))
            return
        if touched is not None:
            ctx.step("%d of %d window(s) new or changed (> topics.refit_share=%s): refitting", n_touched, n_rows,
                     ctx.settings["refit_share"])

    cond = sample_filter(s["fit_sample"], n_rows)
    fit = _fit(ctx, data.filter(cond) if cond is not None else data, n_rows)
    model_dir = _save_model(conf, fit, run_id)
    wt = _assign(ctx, fit, data, cond, model_dir, run_id)
    tot = _write_tables(ctx, fit, wt, data, run_id)
    _record_run(ctx, fit, wt, tot, run_id, versions)


def _current_run(spark: SparkSession, conf: Config, runs: dict) -> dict | None:
    """The run whose topics the tables hold now, if its saved model is still there."""
    current = {r["run_id"] for r in read_table(spark, conf, "topics").select("run_id").distinct().collect()}
    prev = runs.get(next(iter(current))) if len(current) == 1 else None
    if prev and (Path(resolve_in_lake(conf, prev["model_path"])) / "config.json").is_file():
        return prev
    return None


def _fit(ctx: StageContext, fit_df, n_rows: int) -> Fit:
    """BERTopic on the driver (it is single-node): collect keys + vectors + text of the fitted windows
    only, fit, then reduce outliers by embedding similarity."""
    s = ctx.settings.output
    backend, fallback_reason = resolve_backend(s["backend"], s["gpu_fallback"])
    rows = fit_df.select(*KEYS, "text", "vector").orderBy(*KEYS).collect()
    docs = [r["text"] for r in rows]
    X = np.asarray([r["vector"] for r in rows], dtype="float32")
    ctx.step("fitting BERTopic (%s) on %d of %d window(s)", backend, len(rows), n_rows)
    t0 = time.perf_counter()
    model = build_model(s, backend, read_stop_words(ctx.conf.path("topics.stop_words")))
    topics, _ = model.fit_transform(docs, X)
    before = float(np.mean(np.asarray(topics) == -1))
    if s["outlier_threshold"] is not None and -1 in topics and len(set(topics)) > 1:
        topics = model.reduce_outliers(docs, topics, strategy="embeddings", embeddings=X, threshold=float(s["outlier_threshold"]))
        with _quiet_bertopic():  # it warns that custom assignments must be the last step: they are
            model.update_topics(docs, topics=topics, vectorizer_model=model.vectorizer_model,
                                ctfidf_model=model.ctfidf_model, top_n_words=s["top_n_words"])
    seconds = time.perf_counter() - t0
    topics = np.asarray(topics)
    ctx.step("fit done in %.1f s: %d topic(s), outliers %.1f%% -> %.1f%%", seconds,
             len(set(topics.tolist()) - {-1}), 100 * before, 100 * float(np.mean(topics == -1)))
    return Fit(model, rows, docs, X, topics, before, seconds, backend, fallback_reason)


def _save_model(conf: Config, fit: Fit, run_id: str) -> str:
    """Save beside, then rename into place: a crash mid-save never leaves a half model where
    ``topic_runs.model_path`` points. safetensors + JSON only: loading it executes no pickle."""
    model_dir = Path(f"{lake_root(conf)}/models/topics/{run_id}")
    staging = model_dir.with_name(model_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with writing("topic_model"), _quiet_bertopic():  # it warns about the missing embedding model
        fit.model.save(str(staging), serialization="safetensors", save_ctfidf=True, save_embedding_model=False)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    staging.rename(model_dir)
    return str(model_dir)


def _assign(ctx: StageContext, fit: Fit, data, cond, model_dir: str, run_id: str):
    """``window_topics``: the fit's own topics for fitted windows; the saved model, in Spark workers,
    for the windows outside the fitted sample."""
    spark, conf = ctx.spark, ctx.conf
    ids = [r["video_id"] for r in fit.rows], [r["window_idx"] for r in fit.rows]
    has_topics = len(set(fit.topics.tolist()) - {-1})
    _, sims = assign_by_similarity(fit.model, fit.X) if has_topics else (None, np.zeros(len(fit.rows)))
    assigned = spark.createDataFrame(pd.DataFrame({
        "video_id": ids[0], "window_idx": np.asarray(ids[1], dtype="int32"), "topic_id": fit.topics.astype("int32"),
        "probability": np.asarray(sims, dtype="float64")})).withColumn("assigned_by", F.lit("fit"))
    if cond is not None:
        rest = (data.filter(~cond).select(*KEYS, "vector").repartition(4 * spark.sparkContext.defaultParallelism)
                .mapInPandas(assign_rows(model_dir), ASSIGNED).withColumn("assigned_by", F.lit("transform")))
        assigned = assigned.unionByName(rest)
    replace_where(spark, conf, "window_topics", assigned.withColumn("run_id", F.lit(run_id)), "true")
    wt = read_table(spark, conf, "window_topics")
    ctx.step("assigned %d window(s) (%d by the saved model in Spark)", wt.count(), wt.filter("assigned_by = 'transform'").count())
    return wt


def _write_tables(ctx: StageContext, fit: Fit, wt, data, run_id: str) -> pd.DataFrame:
    """``topics`` (words, sizes, representative windows), ``topic_timeline`` and ``topics_over_time``
    (BERTopic's, with upload_rank as the time axis). Returns topics over time, for the figures."""
    spark, conf, s = ctx.spark, ctx.conf, ctx.settings.output
    model, docs = fit.model, fit.docs
    ids = [r["video_id"] for r in fit.rows], [r["window_idx"] for r in fit.rows]
    sizes = {r["topic_id"]: r["n"] for r in wt.groupBy("topic_id").agg(F.count("*").alias("n")).collect()}
    doc_index = {d: i for i, d in reversed(list(enumerate(docs)))}
    topic_rows = []
    for tid, words in model.get_topics().items():
        reps = (model.get_representative_docs(tid) or [])[: s["representative_windows"]] if tid != -1 else []
        rep_rows = [{"video_id": ids[0][doc_index[d]], "window_idx": int(ids[1][doc_index[d]]), "text": d[:500]}
                    for d in reps if d in doc_index]
        terms = [{"term": w, "weight": float(v)} for w, v in words if w][: s["top_n_words"]]
        label = " / ".join(t["term"] for t in terms[:4]) or "outliers"
        topic_rows.append((int(tid), "outliers" if tid == -1 else label, terms, int(sizes.get(tid, 0)), rep_rows, run_id))
    replace_where(spark, conf, "topics", spark.createDataFrame(topic_rows, read_table(spark, conf, "topics").schema), "true")

    videos = write_topic_timeline(spark, conf, wt, data, run_id)
    rank_of = {r["video_id"]: r["upload_rank"] for r in videos.collect()}
    stamps = [int(rank_of.get(v, 0) or 0) for v in ids[0]]
    tot = model.topics_over_time(docs, stamps, topics=fit.topics.tolist(), nr_bins=min(20, len(set(stamps)))) \
        if len(set(stamps)) > 1 else pd.DataFrame(columns=["Topic", "Words", "Frequency", "Timestamp"])
    tot_rows = [(int(r.Topic), float(r.Timestamp), str(r.Words), int(r.Frequency), run_id) for r in tot.itertuples()]
    replace_where(spark, conf, "topics_over_time",
                  spark.createDataFrame(tot_rows, read_table(spark, conf, "topics_over_time").schema), "true")
    return tot


def _record_run(ctx: StageContext, fit: Fit, wt, tot: pd.DataFrame, run_id: str, versions: dict) -> None:
    """Quality figures, the HTML figures and the ``topic_runs`` row (written last: it marks the run done)."""
    spark, conf, s = ctx.spark, ctx.conf, ctx.settings.output
    model = fit.model
    root = lake_root(conf)
    analyzer = model.vectorizer_model.build_analyzer()
    top_words = [[w for w, _ in ws][:10] for t, ws in model.get_topics().items() if t != -1]
    figures_dir = Path(f"{root}/reports/topics/{run_id}")
    written = _write_figures(model, fit.docs, tot, figures_dir) if "://" not in root else []
    n_topics = len([t for t in model.get_topics() if t != -1])
    record = {
        "run_id": run_id, "model_path": lake_relative(conf, f"{root}/models/topics/{run_id}"),
        "report_path": lake_relative(conf, str(figures_dir)), "input_versions": json.dumps(versions),
        "parameters": json.dumps(s, sort_keys=True, default=str),
        "backend": fit.backend if not fit.fallback_reason else f"cpu (fallback: {fit.fallback_reason})",
        "n_windows": wt.count(), "n_fit": len(fit.rows), "n_topics": n_topics,
        "outlier_share": float(np.mean(fit.topics == -1)), "outlier_share_before": fit.outliers_before,
        "diversity": diversity(top_words), "npmi_coherence": npmi_coherence(top_words, [set(analyzer(d)) for d in fit.docs]),
        "fit_seconds": fit.seconds, "model_run_id": run_id, "created_at": datetime.now(timezone.utc),
    }
    schema = read_table(spark, conf, "topic_runs").schema
    merge_by_key(spark, conf, "topic_runs", spark.createDataFrame([tuple(record.get(f.name) for f in schema.fields)], schema),
                 ["run_id"])
    ctx.result.add(run_id=run_id, refit=1, backend=record["backend"], n_topics=n_topics, n_fit=len(fit.rows),
                   outlier_share=round(record["outlier_share"], 3), diversity=round(record["diversity"], 3),
                   npmi=round(record["npmi_coherence"], 3), fit_seconds=round(fit.seconds, 1), figures=len(written))
    ctx.result.wrote += ["window_topics", "topics", "topic_timeline", "topics_over_time", "topic_runs"]


def _assign_incrementally(ctx: StageContext, prev: dict, run_id: str, versions: dict, data, touched: list[str],
                          n_touched: int, recorded: set[str]) -> None:
    """Assign the windows of ``touched`` videos with the saved model of ``prev`` (in Spark, like the
    sampled path); topic sizes and ``topic_timeline`` follow. Topic words, representative windows and
    ``topics_over_time`` still describe the fit. ``topic_runs`` gets a row for ``run_id`` pointing at
    the model that made the assignments (``model_run_id``)."""
    spark, conf, result = ctx.spark, ctx.conf, ctx.result
    model_run = prev["run_id"]
    ctx.step("%d new or changed video(s), %d window(s): assigning them with the model of run %s (no refit)",
             len(touched), n_touched, model_run)
    if touched:
        assigned = (data.filter(in_list("video_id", touched)).select(*KEYS, "vector")
                    .repartition(4 * spark.sparkContext.defaultParallelism)
                    .mapInPandas(assign_rows(resolve_in_lake(conf, prev["model_path"])), ASSIGNED)
                    .withColumn("assigned_by", F.lit("transform")).withColumn("run_id", F.lit(model_run)))
        replace_where(spark, conf, "window_topics", assigned, in_list("video_id", touched))
        wt = read_table(spark, conf, "window_topics")
        sizes = wt.groupBy("topic_id").agg(F.count("*").alias("n"))
        topics = read_table(spark, conf, "topics")
        resized = (topics.join(sizes, "topic_id", "left")
                   .withColumn("size", F.coalesce("n", F.lit(0)).cast(topics.schema["size"].dataType))
                   .select(*topics.columns)).localCheckpoint()  # read and overwrite the same table: cut the lineage
        replace_where(spark, conf, "topics", resized, "true")
        write_topic_timeline(spark, conf, wt, data, model_run)
        result.wrote += ["window_topics", "topics", "topic_timeline"]
    if run_id in recorded:  # nothing new since this run was recorded (a repeat after a crash)
        result.add(run_id=run_id, refit=0, model_run_id=model_run)
        return
    wt = read_table(spark, conf, "window_topics")
    schema = read_table(spark, conf, "topic_runs").schema
    record = {**prev, "run_id": run_id, "input_versions": json.dumps(versions), "n_windows": wt.count(),
              "fit_seconds": 0.0, "model_run_id": model_run, "created_at": datetime.now(timezone.utc)}
    merge_by_key(spark, conf, "topic_runs", spark.createDataFrame([tuple(record.get(f.name) for f in schema.fields)], schema),
                 ["run_id"])
    result.add(run_id=run_id, refit=0, model_run_id=model_run, videos_assigned=len(touched), windows_assigned=n_touched)
    result.wrote += ["topic_runs"]


STAGE = Stage(
    name=NAME, run=run, settings=settings,
    inputs=("windows", "window_embeddings", "videos"),
    outputs=("topics", "window_topics", "topic_timeline", "topics_over_time", "topic_runs"),
    preflight=check_encoding,
    doc="BERTopic over the stored window embeddings (fit on the driver, assignment in Spark) (gold).",
)
