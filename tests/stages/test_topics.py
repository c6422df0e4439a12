"""Topics stage: BERTopic fit on a sample, assignment of the rest in Spark by the saved model,
backend selection, reuse of a finished run. Small corpus cut from the real one, real models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import functions as F

from conftest import ROOT, SMALL_TOPICS, build, copy_lake, load, versions
from transcript_lake.errors import ConfigError
from transcript_lake.lake import resolve_in_lake
from transcript_lake.nlp.topic_model import build_model, diversity, npmi_coherence, read_stop_words, resolve_backend
from transcript_lake.stages.topics import topic_settings

@pytest.fixture(scope="module")
def topics_lake(gold_lake, tmp_path_factory):
    """The session's gold lake (topics fitted on a 60 % sample), copied: these tests refit and switch backends."""
    conf, results = gold_lake
    return copy_lake(conf, tmp_path_factory.mktemp("topics") / "lake"), results


def test_sample_fit_and_distributed_assignment_cover_every_window(spark, topics_lake):
    conf, results = topics_lake
    m = results["topics"].metrics
    n_windows = load(spark, conf, "windows").count()
    wt = load(spark, conf, "window_topics")
    assert wt.count() == n_windows == wt.select("video_id", "window_idx").distinct().count()
    by = {r["assigned_by"]: r["count"] for r in wt.groupBy("assigned_by").count().collect()}
    assert by["fit"] == m["n_fit"] and by["transform"] == n_windows - m["n_fit"] and 0 < m["n_fit"] < n_windows
    topics = load(spark, conf, "topics")
    assert m["n_topics"] >= 2 and topics.filter("topic_id >= 0").count() == m["n_topics"]
    assert wt.join(topics, "topic_id", "left_anti").count() == 0          # every assignment names a real topic
    assert wt.filter("assigned_by = 'transform' AND topic_id = -1").count() == 0
    assert wt.filter("probability < -1.0001 OR probability > 1.0001").count() == 0
    assert topics.agg(F.sum("size")).collect()[0][0] == n_windows
    top = topics.filter("topic_id >= 0").orderBy(F.desc("size")).first()
    assert len(top["top_terms"]) > 0 and top["label"] and top["representative_windows"]
    # timeline: shares of each video's windows add up to 1
    shares = load(spark, conf, "topic_timeline").groupBy("video_id").agg(F.sum("share").alias("s")).collect()
    assert shares and all(abs(r["s"] - 1) < 1e-9 for r in shares)
    assert load(spark, conf, "topics_over_time").count() > 0
    run = load(spark, conf, "topic_runs").collect()
    assert len(run) == 1 and run[0]["backend"] == "cpu" and run[0]["n_fit"] == m["n_fit"]
    assert not Path(run[0]["model_path"]).is_absolute()  # stored relative to the lake: a moved lake finds it
    model_dir = Path(resolve_in_lake(conf, run[0]["model_path"]))
    assert (model_dir / "topic_embeddings.safetensors").is_file() and not list(model_dir.glob("*.pkl")) \
        and not list(model_dir.glob("*.bin"))
    report_dir = Path(resolve_in_lake(conf, run[0]["report_path"]))
    figures = sorted(p.name for p in report_dir.glob("*.html"))
    assert figures == ["hierarchy.html", "intertopic_distance_map.html", "term_barchart.html", "topics_over_time.html"]
    page = (report_dir / "term_barchart.html").read_text()
    assert "plotly.js" in page and '<script src="http' not in page  # self-contained


def test_rerun_is_skipped_and_writes_nothing(spark, topics_lake):
    conf, _ = topics_lake
    before = versions(spark, conf)
    result = build(spark, conf, ["topics"])["topics"]
    assert result.status == "skipped"
    assert versions(spark, conf) == before


def test_gpu_backend_without_cuda_is_one_clear_error_or_a_recorded_fallback(spark, topics_lake):
    with pytest.raises(ConfigError, match="topics.backend=gpu but torch sees no CUDA device"):
        resolve_backend("gpu", "error")
    backend, reason = resolve_backend("gpu", "cpu")
    assert backend == "cpu" and reason.startswith("torch sees no CUDA device (cuML: not importable")
    with pytest.raises(ConfigError, match="must be cpu or gpu"):
        resolve_backend("tpu", "error")
    conf, _ = topics_lake
    gpu_conf = conf.with_overrides(["topics.backend=gpu"])
    with pytest.raises(ConfigError, match="topics.backend=gpu"):
        build(spark, gpu_conf, ["topics"])
    # the documented fallback runs on CPU and says so in the run record
    fallback = build(spark, gpu_conf.with_overrides(["topics.gpu_fallback=cpu"]), ["topics"])["topics"]
    assert fallback.metrics["refit"] == 1 and fallback.metrics["backend"].startswith("cpu (fallback: torch sees no CUDA device")
    recorded = load(spark, conf, "topic_runs").filter(F.col("run_id") == fallback.metrics["run_id"]).first()
    assert recorded["backend"] == fallback.metrics["backend"]
    # back to the first settings: its saved run exists, but the tables now hold the fallback's topics -> fit again
    back = build(spark, conf, ["topics"])["topics"]
    assert back.metrics["refit"] == 1 and back.metrics["run_id"] != fallback.metrics["run_id"]
    assert {r["run_id"] for r in load(spark, conf, "window_topics").select("run_id").distinct().collect()} == {back.metrics["run_id"]}


def test_same_input_gives_the_same_topics(spark, topics_lake):
    conf, _ = topics_lake
    rows = (load(spark, conf, "windows").join(load(spark, conf, "window_embeddings"), ["video_id", "window_idx"])
            .orderBy("video_id", "window_idx").select("text", "vector").collect())
    docs, X = [r["text"] for r in rows], np.asarray([r["vector"] for r in rows], dtype="float32")
    settings = topic_settings(conf)
    stop = read_stop_words(ROOT / "conf" / "topic_stop_words.txt")
    first = build_model(settings, "cpu", stop).fit_transform(docs, X)[0]
    second = build_model(settings, "cpu", stop).fit_transform(docs, X)[0]
    assert first == second


def test_the_torchdr_reduction_fits_bertopic(spark, topics_lake):
    """The GPU reduction that needs no RAPIDS (TorchDR's UMAP), run on the CPU here: BERTopic takes it as
    its umap_model and finds topics in the small lake's windows."""
    conf, _ = topics_lake
    rows = (load(spark, conf, "windows").join(load(spark, conf, "window_embeddings"), ["video_id", "window_idx"])
            .orderBy("video_id", "window_idx").select("text", "vector").collect())
    docs, X = [r["text"] for r in rows], np.asarray([r["vector"] for r in rows], dtype="float32")
    settings = topic_settings(conf)
    model = build_model(settings, "gpu:torchdr", read_stop_words(ROOT / "conf" / "topic_stop_words.txt"), device="cpu")
    model.umap_model.params["max_iter"] = 100  # enough to separate the small corpus's subjects on a CPU
    topics, _ = model.fit_transform(docs, X)
    assert len(topics) == len(docs) and len(set(topics) - {-1}) >= 2


def test_quality_measures():
    assert diversity([["a", "b"], ["b", "c"]]) == 0.75
    docs = [{"graph", "node"}, {"graph", "node"}, {"audio", "speech"}, {"audio", "speech"}]
    assert npmi_coherence([["graph", "node"]], docs) == pytest.approx(1.0)
    assert npmi_coherence([["graph", "audio"]], docs) == -1.0


def test_a_new_video_is_assigned_by_the_saved_model_without_refitting(spark, gold_lake, gold_plus_one, tmp_path):
    """One more video (well under topics.refit_share of the windows): the saved model assigns its
    windows in Spark, sizes and the timeline follow, the fit is untouched; running again changes nothing."""
    fitted = load(spark, gold_lake[0], "topic_runs").collect()[0]
    conf, results = gold_plus_one
    m = results["topics"].metrics
    assert m["refit"] == 0 and m["model_run_id"] == fitted["run_id"] and m["videos_assigned"] == 1
    wt = load(spark, conf, "window_topics")
    new = wt.filter("video_id = 'makemore-intro'").collect()
    assert new and {r["assigned_by"] for r in new} == {"transform"} and {r["run_id"] for r in new} == {fitted["run_id"]}
    assert wt.count() == load(spark, conf, "windows").count()
    assert load(spark, conf, "topics").agg(F.sum("size")).collect()[0][0] == wt.count()
    assert load(spark, conf, "topic_timeline").filter("video_id = 'makemore-intro'").count() >= 1
    runs = {r["run_id"]: r for r in load(spark, conf, "topic_runs").collect()}
    assert runs[m["run_id"]]["model_run_id"] == fitted["run_id"] and len(runs) == 2
    again = copy_lake(conf, tmp_path / "lake")
    before = versions(spark, again)
    assert build(spark, again, ["topics"])["topics"].status == "skipped"
    assert versions(spark, again) == before
    forced = build(spark, again.with_overrides(["run.full_refresh=true"]), ["topics"])["topics"]
    assert forced.metrics["refit"] == 1  # --full-refresh refits whatever the share


def test_assignment_when_outlier_reduction_emptied_topic_minus_one():
    """Seen on the 25-video benchmark: every outlier was reassigned, so ``get_topics()`` has no -1 while
    ``topic_embeddings_`` keeps its first row for it. Rows must still line up with topic ids."""
    from types import SimpleNamespace

    from transcript_lake.nlp.topic_model import assign_by_similarity

    emb = np.eye(3, dtype="float32")                     # rows: topic -1, topic 0, topic 1
    model = SimpleNamespace(get_topics=lambda: {0: [], 1: []}, topic_embeddings_=emb)
    topics, sims = assign_by_similarity(model, np.asarray([[0, 0, 1], [0, 1, 0], [1, 0.1, 0]], dtype="float32"))
    assert topics.tolist() == [1, 0, 0] and sims[0] == pytest.approx(1.0)


def test_workers_read_the_saved_model_as_bertopic_loads_it(spark, gold_lake):
    """Spark workers read the saved model's topics and topic embeddings without importing BERTopic
    (``load_saved``); they must read what ``BERTopic.load`` does and assign every window alike."""
    from bertopic import BERTopic

    from transcript_lake.nlp.topic_model import assign_by_similarity, load_saved

    conf, _ = gold_lake
    run = load(spark, conf, "topic_runs").first()
    model_dir = resolve_in_lake(conf, run["model_path"])
    saved, loaded = load_saved(model_dir), BERTopic.load(model_dir)
    assert saved.get_topics() == loaded.get_topics()
    assert np.array_equal(saved.topic_embeddings_, np.asarray(loaded.topic_embeddings_))
    vectors = np.stack([np.asarray(r["vector"], dtype="float32") for r in load(spark, conf, "window_embeddings").collect()])
    mine, theirs = assign_by_similarity(saved, vectors), assign_by_similarity(loaded, vectors)
    assert np.array_equal(mine[0], theirs[0]) and np.array_equal(mine[1], theirs[1])


def test_a_new_process_loads_umaps_compiled_code_instead_of_compiling_it(gold_lake):
    """``build_model`` turns on numba's on-disk cache for umap-learn and pynndescent, which they leave
    off: the gold lake's fit compiled UMAP and kept the machine code, so a new process (the next run)
    loads it instead of compiling for ~18 s. Counted by numba itself (``Dispatcher.stats``), over the fit."""
    import json
    import subprocess
    import sys

    script = """
import json, sys
import numpy as np
from numba.core.dispatcher import Dispatcher
from transcript_lake.config import load_config
from transcript_lake.nlp.topic_model import build_model
from transcript_lake.stages.topics import topic_settings

def counts():
    jitted = [f for name, m in list(sys.modules.items()) if m and name.split(".")[0] in ("umap", "pynndescent")
              for f in vars(m).values() if isinstance(f, Dispatcher)]
    return [sum(sum(getattr(f.stats, k).values()) for f in jitted) for k in ("cache_hits", "cache_misses")]

model = build_model(topic_settings(load_config("test", sys.argv[1:])), "cpu", [])
before = counts()
model.umap_model.fit_transform(np.random.RandomState(0).randn(60, 384).astype("float32"))
after = counts()
print(json.dumps({"hits": after[0] - before[0], "compiled": after[1] - before[1]}))
"""
    conf, _ = gold_lake
    p = subprocess.run([sys.executable, "-c", script, f"lake.root={conf.get('lake.root')}", *SMALL_TOPICS], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    fit = json.loads(p.stdout.strip().splitlines()[-1])
    assert fit["hits"] >= 1 and fit["compiled"] == 0, fit
