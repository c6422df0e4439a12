"""Stage ``segments`` (silver): one row per video, segments exploded, validated and time-ordered,
chapters and comments; a changed file rebuilds exactly its video."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from conftest import build, load as table, small_manifest
from transcript_lake.catalog import register_lake
from transcript_lake.lake import table_path

SILVER = ["ingest", "segments"]


def rows(spark, conf, name, order):
    return [r.asDict() for r in table(spark, conf, name).orderBy(*order).collect()]


@pytest.fixture
def small_lake(spark, gold_lake, tmp_path):
    """The gold lake and its corpus copied elsewhere (sources re-keyed by the first run), for tests that edit files."""
    conf, _ = gold_lake
    corpus = shutil.copytree(Path(conf.get("inputs.manifest")).parent / "corpus", tmp_path / "corpus")
    shutil.copytree(conf.get("lake.root"), tmp_path / "lake")
    manifest = tmp_path / "sources.yaml"
    manifest.write_text(yaml.safe_dump({"sources": small_manifest(corpus)}), encoding="utf-8")
    mine = conf.with_overrides([f"lake.root={tmp_path / 'lake'}", f"inputs.manifest={manifest}"])
    return mine, build(spark, mine, SILVER), corpus


def test_small_corpus_lands_in_every_table(spark, gold_lake):
    conf, _ = gold_lake
    videos = {r["video_id"]: r for r in rows(spark, conf, "videos", ["upload_rank"])}
    assert set(videos) == {"OWvy-fCWTBQ", "mV7bhf6b2Hs", "uNe5QGOJykE", "t3YJ5hKiMQ0", "vAmKB7iPkWw"}
    # hf_viewer lists newest first: its last record is the oldest upload; then manifest order.
    assert [v for v in videos] == ["uNe5QGOJykE", "mV7bhf6b2Hs", "OWvy-fCWTBQ", "t3YJ5hKiMQ0", "vAmKB7iPkWw"]
    assert videos["vAmKB7iPkWw"]["n_segments"] == 40 and videos["vAmKB7iPkWw"]["source_format"] == "whisper_cpp"
    assert videos["t3YJ5hKiMQ0"]["url"] == "https://www.youtube.com/watch?v=t3YJ5hKiMQ0"
    seg = table(spark, conf, "segments")
    per_video = {r["video_id"]: r["count"] for r in seg.groupBy("video_id").count().collect()}
    assert per_video == {v: r["n_segments"] for v, r in videos.items()}
    # seg_idx is 0..n-1 in time order within each video
    check = seg.groupBy("video_id").agg(F.min("seg_idx").alias("lo"), F.max("seg_idx").alias("hi"), F.count("*").alias("n")).collect()
    assert all(r["lo"] == 0 and r["hi"] == r["n"] - 1 for r in check)
    first = seg.filter("video_id = 'vAmKB7iPkWw' AND seg_idx = 0").collect()[0]
    assert (first["start_s"], first["end_s"]) == (0.0, 4.72) and first["n_words"] == len(first["text"].split())
    chapters = table(spark, conf, "chapters").filter("video_id = 'OWvy-fCWTBQ'").orderBy("chapter_idx").collect()
    assert chapters[0]["title"] == "Intro - announcing the new series" and chapters[1]["start_s"] == 120.0
    assert table(spark, conf, "comments").count() == 40
    # SQL by name, as a user would (the session's catalog points at the lake it registered last)
    register_lake(spark, conf)
    assert spark.sql("SELECT count(*) AS n FROM transcripts.videos").collect()[0]["n"] == 5


def test_changed_file_replaces_exactly_that_video(spark, small_lake):
    conf, _, corpus = small_lake
    others_before = rows(spark, conf, "segments", ["video_id", "seg_idx"])
    others_before = [r for r in others_before if r["video_id"] != "vAmKB7iPkWw"]
    videos_before = {r["video_id"]: r for r in rows(spark, conf, "videos", ["video_id"])}
    with open(corpus / "paligemma-head.whisper.txt", "a", encoding="utf-8") as fh:
        fh.write("[00:03:00.000 --> 00:03:04.000]   And one more line about the vision encoder.\n")
    results = build(spark, conf, SILVER)
    assert results["ingest"].metrics["files_parsed"] == 1 and results["segments"].metrics["videos_rebuilt"] == 1
    after = rows(spark, conf, "segments", ["video_id", "seg_idx"])
    assert [r for r in after if r["video_id"] != "vAmKB7iPkWw"] == others_before
    assert sum(1 for r in after if r["video_id"] == "vAmKB7iPkWw") == 41
    videos_after = {r["video_id"]: r for r in rows(spark, conf, "videos", ["video_id"])}
    for vid, row in videos_before.items():
        if vid != "vAmKB7iPkWw":
            assert videos_after[vid] == row  # untouched, ingested_at included
    # raw_records replaced by source path only
    from delta.tables import DeltaTable

    last = DeltaTable.forPath(spark, table_path(conf, "raw_records")).history(1).collect()[0]
    assert "paligemma-head.whisper.txt" in last["operationParameters"]["predicate"]
    assert "epiphany3" not in last["operationParameters"]["predicate"]
