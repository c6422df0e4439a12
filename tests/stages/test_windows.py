"""Stage ``windows``: contiguous, sized, chapter-aligned NLP documents; per-video rebuilds."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import functions as F

from conftest import CORPUS, load
from transcript_lake.formats import VideoRecord, parse_bytes
from transcript_lake.stages.windows import build_windows


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


def test_windows_cover_every_segment_once_and_carry_their_offsets(spark, gold_lake):
    conf, results = gold_lake
    windows = load(spark, conf, "windows")
    assert windows.count() == results["windows"].metrics["windows_written"] > 0
    segs = load(spark, conf, "segments").groupBy("video_id").agg(F.count("*").alias("n"))
    spans = windows.groupBy("video_id").agg(F.sum(F.col("seg_to") - F.col("seg_from") + 1).alias("covered"))
    assert segs.join(spans, "video_id").filter("n != covered").count() == 0
    assert windows.filter(F.size("seg_offsets") != F.col("seg_to") - F.col("seg_from") + 1).count() == 0
