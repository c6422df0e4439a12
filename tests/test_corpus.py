"""The whole bundled corpus, end to end (the issue's acceptance figures)."""

from __future__ import annotations

import time

import pytest
from pyspark.sql import functions as F

from conftest import build, make_conf, versions
from transcript_lake.lake import table_path

pytestmark = pytest.mark.slow


def test_full_corpus_counts_and_noop_rerun(spark, tmp_path):
    conf = make_conf(tmp_path / "lake")  # the bundled manifest conf/sources.yaml
    t0 = time.perf_counter()
    build(spark, conf, ["ingest", "segments"])
    cold = time.perf_counter() - t0
    load = lambda name: spark.read.format("delta").load(table_path(conf, name))  # noqa: E731

    videos = load("videos")
    assert videos.count() == 102
    by_format = {r["source_format"]: r["n"] for r in videos.groupBy("source_format").agg(F.sum("n_segments").alias("n")).collect()}
    assert by_format == {"hf_viewer": 48126, "rolling_captions": 1559, "whisper_cpp": 4355}
    assert load("segments").count() == 48126 + 1559 + 4355
    assert videos.filter("upload_rank IS NULL").count() == 0
    assert sorted(r[0] for r in videos.select("upload_rank").collect()) == list(range(1, 103))
    assert load("chapters").select("video_id").distinct().count() == 100
    comments = load("comments")
    assert comments.count() == 229 and comments.agg(F.sum("n_copies")).collect()[0][0] == 279
    q = load("quarantine").collect()
    assert [(r["reason"].split(":")[0], r["action"]) for r in q] == [("overlapping_segments", "repaired")]

    before = versions(spark, conf)
    t0 = time.perf_counter()
    build(spark, conf, ["ingest", "segments"])
    warm = time.perf_counter() - t0
    assert versions(spark, conf) == before
    assert warm < cold
    print(f"\nfull corpus ingest: cold {cold:.1f} s, warm no-op {warm:.1f} s")
