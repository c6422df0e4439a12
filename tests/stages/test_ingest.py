"""Stage ``ingest`` (bronze) with Spark and Delta for real, on fixtures cut from the corpus: re-runs,
files identified by content (moved files re-keyed, not parsed again), new files, bad input."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import yaml

import pytest
from pyspark.sql import functions as F

from conftest import FIXTURES, build, load as table, make_conf, small_manifest, versions
from transcript_lake.lake import table_path

SILVER = ["ingest", "segments"]


def rows(spark, conf, name, order):
    return [r.asDict() for r in table(spark, conf, name).orderBy(*order).collect()]


@pytest.fixture
def moved_lake(gold_lake, tmp_path):
    """A copy of the gold lake and of its corpus in another folder: the same files under other paths."""
    conf, _ = gold_lake
    corpus = shutil.copytree(Path(conf.get("inputs.manifest")).parent / "corpus", tmp_path / "corpus")
    shutil.copytree(conf.get("lake.root"), tmp_path / "lake")
    manifest = tmp_path / "sources.yaml"
    manifest.write_text(yaml.safe_dump({"sources": small_manifest(corpus)}), encoding="utf-8")
    return conf.with_overrides([f"lake.root={tmp_path / 'lake'}", f"inputs.manifest={manifest}"]), corpus


@pytest.fixture
def small_lake(spark, moved_lake):
    """A private lake over a private corpus copy, for tests that edit input files: the moved gold lake,
    once its sources were re-keyed to the copied files."""
    conf, corpus = moved_lake
    return conf, build(spark, conf, SILVER), corpus


def test_the_same_files_under_other_paths_are_re_keyed_not_parsed_again(spark, moved_lake):
    conf, corpus = moved_lake
    first = build(spark, conf, SILVER)
    assert first["ingest"].reason == "input files changed"
    assert first["ingest"].metrics["files_parsed"] == 0 and first["ingest"].metrics["files_moved"] == 4
    paths = {r["source_path"] for r in table(spark, conf, "source_files").collect()}
    assert paths == {str(corpus / Path(e["path"]).name) for e in small_manifest(corpus)}
    assert {r["source_path"] for r in table(spark, conf, "raw_records").select("source_path").distinct().collect()} <= paths
    seg = first["segments"]  # the videos moved with their files: their rows stay, their source_path follows
    assert seg.metrics["videos_rebuilt"] == 0
    assert {r["source_path"] for r in table(spark, conf, "videos").collect()} <= paths
    assert table(spark, conf, "quarantine").filter(F.col("reason").startswith("duplicate")).count() == 0
    before = versions(spark, conf)
    results = build(spark, conf, SILVER)
    assert versions(spark, conf) == before
    assert {r.status for r in results.values()} == {"skipped"}
    forced = build(spark, conf.with_overrides(["run.full_refresh=true"]), ["segments"])["segments"]
    assert forced.metrics["videos_rebuilt"] == 5  # a full refresh rebuilds every video, to the same rows


def test_new_file_adds_only_its_rows(spark, small_lake, tmp_path):
    conf, _, corpus = small_lake
    before = rows(spark, conf, "segments", ["video_id", "seg_idx"])
    srt = FIXTURES / "formats" / "makemore-intro.srt"
    conf2 = conf.with_overrides([]).with_overrides([f"inputs.extra=[{json.dumps(str(srt))}]"])
    results = build(spark, conf2, SILVER)
    assert results["ingest"].metrics["files_parsed"] == 1
    after = rows(spark, conf2, "segments", ["video_id", "seg_idx"])
    new = [r for r in after if r["video_id"] == "makemore-intro"]
    assert len(new) == 4 and [r for r in after if r["video_id"] != "makemore-intro"] == before
    video = table(spark, conf2, "videos").filter("video_id = 'makemore-intro'").collect()[0]
    assert video["source_format"] == "srt" and video["upload_rank"] == 6


def _write(path, data: bytes):
    path.write_bytes(data)
    return str(path)


def test_bad_input_is_quarantined_with_reasons_and_the_rest_is_kept(spark, tmp_path, small_corpus):
    bad = tmp_path / "bad"
    bad.mkdir()
    segs = [
        {"start": 0.0, "end": 2.0, "text": " fine one"},
        {"start": 2.0, "end": 4.0, "text": "   "},                       # empty text
        {"start": -1.0, "end": 1.0, "text": "negative"},                  # negative
        {"start": 9.0, "end": 5.0, "text": "reversed"},                   # reversed
        {"start": 4.0, "end": 7.5, "text": "overlaps the next one"},      # overlap -> clipped
        {"start": 6.0, "end": 8.0, "text": "fine two"},
        {"start": float("nan"), "end": 9.0, "text": "nan start"},         # NaN
        {"start": 1e12, "end": 1e12 + 1, "text": "absurd"},               # absurdly large
    ]
    hf = (small_corpus / "epiphany3.hf-viewer.txt").read_bytes()
    whisper = (small_corpus / "paligemma-head.whisper.txt").read_bytes()
    sources = [
        {"path": _write(bad / "odd.whisper.json", json.dumps({"segments": segs}).encode()), "video_id": "oddvideo001"},
        {"path": _write(bad / "truncated.hf-viewer.txt", hf[: len(hf) - 5000]), "listing": "newest_first"},
        {"path": _write(bad / "broken.yt-api.json", b'[{"text": "a", "start": 0, "duration": 1}, {"text": "b", "start": 1, "dur')},
        {"path": _write(bad / "latin1.whisper.txt", whisper.replace(b"Hello guys", "Hélló guys".encode("latin-1"))),
         "video_id": "latin1video"},
        {"path": _write(bad / "bom-crlf.srt", b"\xef\xbb\xbf" + (FIXTURES / "formats" / "makemore-intro.srt").read_bytes().replace(b"\n", b"\r\n")),
         "video_id": "bomcrlfvid1"},
        {"path": _write(bad / "mystery.dat", bytes(range(256)) * 4)},
        {"path": _write(bad / "empty.srt", b"")},
        # the same video id as the truncated HF file's first record, in a second file
        {"path": _write(bad / "dup.whisper.txt", whisper), "video_id": "OWvy-fCWTBQ"},
    ]
    conf = make_conf(tmp_path / "lake", sources)
    build(spark, conf, SILVER)
    q = table(spark, conf, "quarantine").collect()
    reasons = {(r["source_path"].rsplit("/", 1)[-1], r["reason"].split(":")[0], r["action"]) for r in q}
    expected = {
        ("odd.whisper.json", "empty_text", "dropped"),
        ("odd.whisper.json", "negative_timestamp", "dropped"),
        ("odd.whisper.json", "reversed_timestamps", "dropped"),
        ("odd.whisper.json", "overlapping_segments", "repaired"),
        ("odd.whisper.json", "missing_timestamp", "dropped"),
        ("odd.whisper.json", "timestamp_out_of_range", "dropped"),
        ("truncated.hf-viewer.txt", "invalid_segments_json", "repaired"),
        ("broken.yt-api.json", "invalid_json", "repaired"),
        ("latin1.whisper.txt", "non_utf8", "repaired"),
        ("mystery.dat", "unknown_format", "dropped"),
        ("empty.srt", "empty_file", "dropped"),
        ("dup.whisper.txt", "duplicate_video_id", "dropped"),
    }
    assert expected <= reasons, expected - reasons
    assert not [r for r in q if r["source_path"].endswith("bom-crlf.srt")]  # BOM + CRLF are not problems
    seg = table(spark, conf, "segments")
    odd = seg.filter("video_id = 'oddvideo001'").orderBy("seg_idx").collect()
    assert [(r["text"], r["start_s"], r["end_s"]) for r in odd] == [
        ("fine one", 0.0, 2.0), ("overlaps the next one", 4.0, 6.0), ("fine two", 6.0, 8.0)]
    assert seg.filter("video_id = 'bomcrlfvid1'").count() == 4
    assert seg.filter("video_id = 'latin1video'").count() == 40
    assert seg.filter(F.col("text").contains("\ufffd")).count() == 1
    videos = {r["video_id"]: r for r in table(spark, conf, "videos").collect()}
    assert videos["OWvy-fCWTBQ"]["source_format"] == "hf_viewer"  # the earlier source in manifest order wins
    assert len(videos) == 7  # 3 HF (last one salvaged) + odd + broken + latin1 + bom-crlf
    broken = [v for v in videos.values() if v["source_path"].endswith("broken.yt-api.json")][0]
    assert broken["n_segments"] == 1
    assert all(not math.isnan(r["start_s"]) for r in seg.select("start_s").collect())
    # a re-run on the same bad input changes nothing either, even when forced to look again
    before = versions(spark, conf)
    build(spark, conf, SILVER)
    assert versions(spark, conf) == before


def test_second_reader_reads_the_tables(spark, gold_lake):
    """The tables are plain Delta: the Rust-based ``deltalake`` reader (no JVM) sees the same rows."""
    from deltalake import DeltaTable as RustDeltaTable

    conf, _ = gold_lake
    for name in ("videos", "segments", "chapters", "comments"):
        arrow = RustDeltaTable(table_path(conf, name)).to_pyarrow_table()
        assert arrow.num_rows == table(spark, conf, name).count() > 0
    seg = RustDeltaTable(table_path(conf, "segments")).to_pyarrow_table().to_pylist()
    assert {r["video_id"] for r in seg} >= {"t3YJ5hKiMQ0", "vAmKB7iPkWw"}
