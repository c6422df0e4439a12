"""Concept identity rules (transcript_lake.nlp.identity, transcript_lake.nlp.vocabulary) on real forms
of the bundled corpus: each rule, its guards, the never-merge pairs, the glossary and acronym lemmas.
Pure Python (spaCy for the keys): no Spark."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from transcript_lake.config import load_config
from transcript_lake.errors import ConfigError
from transcript_lake.nlp import identity as ident
from transcript_lake.nlp.vocabulary import acronym_definitions, file_name_parts, name_tokens, written_terms

CONF = load_config("test")
S = {k: CONF.get(f"concepts.{k}") for k in ("variant", "acronyms", "initials", "misheard", "salience")}


@pytest.fixture(scope="module")
def nlp():
    from transcript_lake.nlp.models import load_spacy

    return load_spacy(CONF.get("nlp.spacy_model"))


@pytest.fixture(scope="module")
def stop():
    from transcript_lake.nlp.concepts import load_stop_concepts

    return load_stop_concepts(str(CONF.path("terms.stop_concepts")))


# ----------------------------------------------------------------------------------------- variants

def test_spacing_hyphen_case_variants_merge_without_an_embedding_gate():
    pairs = [("soft max", "softmax"), ("pin sage", "pinsage"), ("lp ips", "lpips"), ("p uct", "puct"),
             ("monte carlo", "montecarlo"), ("graph neural networks", "graph neural network"), ("vq gan", "vqgan")]
    for a, b in pairs:
        edges = ident.variant_edges([b, a], S["variant"])
        assert [(e.a, e.b, e.rule) for e in edges] == [(a, b, "variant")], (a, b)


def test_variant_guards_short_forms_ordinary_word_pairs_and_numbers():
    assert ident.variant_blocked("a i", "ai", 4, 3.5) == "short"
    assert ident.variant_blocked("every one", "everyone", 4, 3.5) == "ordinary words"
    assert ident.variant_blocked("data set", "dataset", 4, 3.5) is None   # a technical compound
    assert ident.variant_edges(["v13", "v1 3"], S["variant"]) == []        # 13 is not 1 and 3
    assert ident.squash("lens") == "lens"                                  # never "len"


# ---------------------------------------------------------------------------------- acronyms

def test_schwartz_hearst_definitions_in_real_titles_and_descriptions():
    assert acronym_definitions("Vision Transformer (ViT) - An image is worth 16x16 words | Paper Explained") == \
        [("ViT", "Vision Transformer")]
    assert acronym_definitions("NeuroEvolution of Augmenting Topologies (NEAT) and Compositional Pattern Producing "
                               "Networks (CPPN)") == [("NEAT", "NeuroEvolution of Augmenting Topologies"),
                                                      ("CPPN", "Compositional Pattern Producing Networks")]
    assert acronym_definitions("RMA: Rapid Motor Adaptation for Legged Robots | Paper Explained") == \
        [("RMA", "Rapid Motor Adaptation")]
    assert acronym_definitions("NTK - neural tangent kernel recap") == [("NTK", "neural tangent kernel")]
    # a headline that is not a definition, and Schwartz-Hearst's classic false positive
    assert acronym_definitions("DQN - Playing Atari with Deep Reinforcement Learning | RL Paper Explained") == []
    assert acronym_definitions("Learn ML (middle-level intro) course") == []
    assert name_tokens("PaliGemma vs. GPT-3, #convnext, U-Net and MCTS, not Open-Ended") == \
        ["PaliGemma", "GPT-3", "convnext", "U-Net", "MCTS"]
    assert file_name_parts("data/corpus/paligemma-from-scratch.whisper.txt") == ["paligemma"]


def test_acronyms_are_never_lemmatised(nlp, stop):
    from transcript_lake.nlp.mentions import extract_mentions

    def keys(text):
        return {m["surface"]: m["concept"] for m in extract_mentions(nlp(text), 0, [0], stop)}

    found = keys("We run MCTS with LPIPS scores, then train the GNNs and two ViTs on TPUs.")
    assert found.get("MCTS") == "mcts" and found.get("LPIPS scores", "lpips score").startswith("lpips")
    assert "gnn" in found.values() and "vit" in found.values() and "tpu" in found.values()


def test_written_terms_key_names_like_mentions_and_find_definitions(nlp, stop):
    rows = written_terms(nlp, "Vision Transformer (ViT) - An image is worth 16x16 words | Paper Explained", "title", stop)
    by_kind = {(r["kind"], r["key"]) for r in rows}
    assert ("definition", "vit") in by_kind and ("name", "vision transformer") in by_kind
    assert next(r for r in rows if r["kind"] == "definition")["expansion_key"] == "vision transformer"


def test_a_short_form_that_is_an_ordinary_word_needs_capitals_to_be_the_acronym():
    vocab = pd.DataFrame([{"video_id": "v", "source": "description", "kind": "definition", "term": "ZeRO", "key": "zero",
                           "expansion": "zero redundancy optimizer", "expansion_key": "zero redundancy optimizer", "count": 1},
                          {"video_id": "v", "source": "title", "kind": "definition", "term": "GAT", "key": "gat",
                           "expansion": "Graph Attention Networks", "expansion_key": "graph attention network", "count": 1}])
    edges = ident.definition_edges(vocab, {"zero": 0.0, "gat": 0.9}, S["acronyms"])
    assert [(e.a, e.b, e.rule) for e in edges] == [("gat", "graph attention network", "definition")]
    assert "title of v" in edges[0].evidence


def test_initials_need_transcript_evidence_and_an_unambiguous_expansion():
    s = S["initials"]
    strong = ident.initials_edges({("rl", "reinforcement learning"): (6, 0.71)}, s)
    assert [(e.a, e.b, e.rule) for e in strong] == [("rl", "reinforcement learning", "initials")]
    assert ident.initials_edges({("rl", "rl loop"): (1, 0.3)}, s) == []                     # contexts disagree
    assert ident.initials_edges({("gan", "generative adversarial network"): (4, 0.70),
                                 ("gan", "graph attention network"): (3, 0.68)}, s) == []  # ambiguous
    candidates = ident.initials_candidates({"rl": {"upper_share": 0.9}, "reinforcement learning": {}},
                                           ["rl", "reinforcement learning"], set(), {**S["acronyms"], **s})
    assert candidates == [("rl", "reinforcement learning")]


# ------------------------------------------------------------------------------------- mis-hearing

def _ok(spoken, written, level="video", names=frozenset()):
    return ident.misheard_ok(spoken, written, ident.misheard_score(spoken, written), S["misheard"], level, names)


def test_misheard_names_of_the_corpus_are_recognised():
    assert _ok("polygamma", "paligemma")            # PaliGemma video (file name)
    assert _ok("comnext", "convnext")               # ConvNeXt video (title)
    assert _ok("sheaf loplation", "sheaf laplacian")
    assert _ok("vat", "vit") and _ok("cpn", "cppn")  # short: same sound code, written in the same video
    assert _ok("optex", "optax")


def test_misheard_guards_keep_distinct_names_apart():
    assert not _ok("vat", "vit", level="channel")                      # short parts need the same video
    assert not _ok("unit", "unet")                                     # "unit" is ordinary English
    assert not _ok("linformer", "transformer")                         # another name, not another sound
    assert not _ok("gpt 4", "gpt 3") and not _ok("alphago zero", "alphago")
    assert not _ok("rescaling", "scaling") and not _ok("qbert", "bert")          # affix forms
    assert _ok("detre", "detr") and not _ok("detre", "detr", level="channel")   # a lost / added last letter
    assert not _ok("resnext", "resnet", names=frozenset({"esresnext", "resnet"}))  # written inside a name
    assert not _ok("transcribe", "transcription")                      # a derivation
    assert not _ok("multinomial", "multimodal", level="channel")
    assert not _ok("neighboring node", "neighborhood")                 # ordinary words, not a mis-heard name


def test_a_real_word_needs_agreeing_contexts_or_to_be_transcribed_as_a_name():
    cands = pd.DataFrame([{"key": "vat", "target": "vit", "video_id": "a", "level": "video", "n": 48, "score": 0.83,
                           "spelling": 0.67, "sound": 1.0, "needs_context": True}])
    s, said = S["misheard"], {"vat": 48, "vit": 13}
    assert ident.misheard_edges(cands, said, {}, s, {"vat": 0.1}) == []
    assert ident.misheard_edges(cands, said, {("vat", "vit"): 0.2}, s, {"vat": 0.1}) == []
    edges = ident.misheard_edges(cands, said, {("vat", "vit"): 0.65}, s, {"vat": 0.1})
    assert [(e.a, e.b, e.rule) for e in edges] == [("vat", "vit", "misheard")] and "contexts cosine 0.65" in edges[0].evidence
    # "Flex" for Flax: written as a name by the transcript, in the video that writes Flax
    assert ident.misheard_edges(cands, said, {}, s, {"vat": 0.9})
    simpler = cands.assign(key="simpler", target="simclr")
    assert ident.misheard_edges(simpler, {"simpler": 3}, {}, s, {"simpler": 0.0}) == []


def test_misheard_candidates_prefer_the_video_then_the_channel():
    names = pd.DataFrame([{"key": "paligemma", "joined": "paligemma", "sound": ident.sound("paligemma"), "videos": ["p"],
                           "channels": ["umar"], "glossary": False},
                          {"key": "convnext", "joined": "convnext", "sound": ident.sound("convnext"), "videos": ["c"],
                           "channels": ["ai"], "glossary": False}])
    keys = pd.DataFrame({"key": ["polygamma", "comnext"], "n": [29, 6]})
    found = ident.misheard_candidates("p", "umar", keys, names, S["misheard"])
    # ConvNeXt is written only in another channel's video: a corpus-level match needs a higher score
    assert [(f["key"], f["target"], f["level"]) for f in found] == [("polygamma", "paligemma", "video")]
    found = ident.misheard_candidates("c", "ai", keys, names, S["misheard"])
    assert [(f["key"], f["target"], f["level"]) for f in found] == [("comnext", "convnext", "video")]


# -------------------------------------------------------------------------------------- merging

def test_resolve_never_merges_across_numbers_refinements_or_glossary_pairs():
    E = ident.Edge
    edges = [E("gpt3", "gpt 3", "variant", 1.0, ""), E("gpt 2", "gpt 3", "embedding", 0.95, ""),
             E("vat", "vit", "misheard", 0.83, ""), E("vit", "vision transformer", "definition", 1.0, ""),
             E("encoder", "decoder", "embedding", 0.93, "")]
    pref = {"vision transformer": (1, -100, 0, "vision transformer"), "vit": (1, -13, 0, "vit"), "vat": (3, -116, 0, "vat")}
    merged = ident.resolve(["gpt3", "gpt 3", "gpt 2", "vat", "vit", "vision transformer", "encoder", "decoder"], edges, pref,
                           {frozenset(("encoder", "decoder"))})
    assert merged["gpt3"].concept == "gpt 3" and merged["gpt 2"].concept == "gpt 2"
    assert {merged[k].concept for k in ("vat", "vit", "vision transformer")} == {"vision transformer"}
    assert merged["vat"].rule == "misheard" and merged["vit"].rule == "definition"   # the rule that joined each key
    assert merged["encoder"].concept != merged["decoder"].concept
    assert ident.opposite_stems("text encoder", "text decoder") and ident.refines("alphago", "alphago zero")


def test_similarity_rules_do_not_chain():
    E = ident.Edge
    edges = [E("text encoder", "encoder", "embedding", 0.95, ""), E("text decoder", "text encoder", "embedding", 0.96, "")]
    merged = ident.resolve([], edges, {"encoder": (2, -30, 0, "encoder"), "text encoder": (2, -4, 0, "text encoder"),
                                       "text decoder": (2, -3, 0, "text decoder")}, set())
    assert merged["text decoder"].concept != "encoder"


def test_glossary_forces_aliases_and_never_merge_pairs(tmp_path):
    path = tmp_path / "glossary.yaml"
    path.write_text("concepts:\n  - name: U-Net\n    aliases: [unet, u net]\nnever_merge:\n  - [GPT-2, GPT-3]\n")
    g = ident.load_glossary(path)
    assert g.concepts == [("U-Net", ["unet", "u net"])] and g.never == [("GPT-2", "GPT-3")]
    E = ident.Edge
    merged = ident.resolve(["unit"], [E("unit", "unet", "glossary", 1.0, "")], {"unet": (0, 0, 0, "unet")}, set())
    assert merged["unit"].concept == "unet" and merged["unit"].rule == "glossary"


@pytest.mark.parametrize("text, message", [
    ("concepts: [name: x\n", "not valid YAML"),
    ("concept:\n  - name: x\n", "unknown key"),
    ("concepts:\n  - name: X\n    alias: [y]\n", "unknown key"),
    ("concepts:\n  - {name: U-Net, aliases: [unet]}\nnever_merge:\n  - [U-Net, unet]\n", "contradicts"),
    ("concepts:\n  - {name: A, aliases: [x]}\n  - {name: B, aliases: [x]}\n", "listed under both"),
    ("never_merge:\n  - [only one]\n", "pair of names"),
])
def test_a_malformed_glossary_is_one_config_error_line(tmp_path, text, message):
    path = tmp_path / "glossary.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        ident.load_glossary(path)
    assert "\n" not in str(info.value)


def test_the_shipped_glossary_is_empty():
    assert ident.load_glossary(CONF.path("concepts.glossary")).empty


def test_salience_kinds():
    artefacts = ident.compile_patterns(S["salience"]["artefacts"])
    assert ident.salience_kind("f5", False, 90, 3, 0, artefacts, 4) == "artefact"
    assert ident.salience_kind("breakpoint", False, 120, 5, 2, artefacts, 4) == "artefact"
    assert ident.salience_kind("vision transformer", True, 100, 9, 10, artefacts, 4) == "name"
    assert ident.salience_kind("visualization kudos", False, 1, 1, 0, artefacts, 4) == "phrase"
    assert ident.salience_kind("attention", False, 300, 50, 20, artefacts, 4) == "term"
    w = S["salience"]["weights"]
    assert ident.salience_score("artefact", 90, 0, w) < ident.salience_score("phrase", 1, 0, w) < ident.salience_score("term", 10, 0, w)


def test_identity_benchmark_counts_merges_and_wrong_merges():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from concepts_identity import evaluate

    labelled = {"groups": [{"class": "variant", "forms": ["soft max", "softmax"]},
                           {"class": "misheard", "forms": ["vit", "vat"]},
                           {"class": "acronym", "forms": ["gnn", "graph neural network"]}],
                "distinct": [["encoder", "decoder"]]}
    concept_of = {"soft max": "softmax", "softmax": "softmax", "vit": "vit", "vat": "vit", "gnn": "gnn",
                  "graph neural network": "graph neural network", "encoder": "coder", "decoder": "coder"}
    report = evaluate(concept_of, labelled)
    assert report["total"]["merged"] == 2 and report["per_class"]["acronym"]["merged"] == 0
    assert report["wrong_merges"] == 1
