"""Stage ``windows`` (silver): ``segments`` + ``chapters`` -> ``windows``.

Segments are 3-5 s fragments; NLP needs context. A window is a contiguous run of one video's segments
that closes once it reaches ``windows.target_words`` words or ``windows.target_seconds`` seconds, and
always at a chapter boundary (``windows.align_chapters``). Built per video with a cogroup of
segments and chapters (pandas, in the Python workers); only videos whose segments changed, or whose
window settings changed, are rebuilt.
"""

from __future__ import annotations

import bisect

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ..config import Config
from ..incremental import commit_markers, plan_videos
from ..tables import in_list, read_table, replace_where
from . import StageResult, StageTimer

NAME = "windows"
INPUTS = ("videos", "segments", "chapters")  # tables read
OUTPUTS = ("windows",)  # tables this stage alone writes
CONFIG = ("windows",)  # conf sections its output depends on
SCHEMA = ("video_id string, window_idx int, start_s double, end_s double, seg_from int, seg_to int, "
          "chapter_idx int, text string, n_words int, seg_offsets array<int>")


def build_windows(segs: pd.DataFrame, chapters: pd.DataFrame, target_words: int, target_seconds: float,
                  align_chapters: bool) -> pd.DataFrame:
    """Windows of one video. ``segs``: seg_idx, start_s, end_s, text, n_words; ``chapters``: chapter_idx, start_s."""
    columns = ["video_id", "window_idx", "start_s", "end_s", "seg_from", "seg_to", "chapter_idx", "text", "n_words", "seg_offsets"]
    if segs.empty:
        return pd.DataFrame(columns=columns)
    video_id = segs["video_id"].iloc[0]
    segs = segs.sort_values("seg_idx")
    starts = sorted(chapters["start_s"].tolist()) if align_chapters and not chapters.empty else []
    idx_of = dict(zip(chapters["start_s"], chapters["chapter_idx"])) if starts else {}

    def chapter_of(t: float):
        k = bisect.bisect_right(starts, t) - 1
        return int(idx_of[starts[k]]) if k >= 0 else (int(idx_of[starts[0]]) if starts else None)

    out, cur = [], []

    def flush():
        texts = [s.text for s in cur]
        offsets, pos = [], 0
        for t in texts:
            offsets.append(pos)
            pos += len(t) + 1
        out.append({"video_id": video_id, "window_idx": len(out), "start_s": float(cur[0].start_s),
                    "end_s": float(cur[-1].end_s), "seg_from": int(cur[0].seg_idx), "seg_to": int(cur[-1].seg_idx),
                    "chapter_idx": chapter_of(cur[0].start_s), "text": " ".join(texts),
                    "n_words": int(sum(s.n_words for s in cur)), "seg_offsets": offsets})
        cur.clear()

    words = 0
    for seg in segs.itertuples(index=False):
        if cur:
            new_chapter = starts and chapter_of(seg.start_s) != chapter_of(cur[0].start_s)
            full = words >= target_words or (seg.start_s - cur[0].start_s) >= target_seconds
            if new_chapter or full:
                flush()
                words = 0
        cur.append(seg)
        words += seg.n_words
    if cur:
        flush()
    return pd.DataFrame(out, columns=columns)


def run(spark: SparkSession, conf: Config) -> StageResult:
    with StageTimer(NAME) as timer:
        result = timer.result
        settings = {k: conf.get(f"windows.{k}") for k in ("target_words", "target_seconds", "align_chapters")}
        upstream = read_table(spark, conf, "videos").select("video_id", F.col("content_sha256").alias("upstream_hash"))
        plan = plan_videos(spark, conf, NAME, upstream, settings)
        timer.step("%d video(s) to rebuild, %d removed, %d unchanged", len(plan.changed), len(plan.removed), plan.unchanged)
        result.add(videos_rebuilt=len(plan.changed), videos_removed=len(plan.removed))
        if plan.noop:
            result.add(windows_written=0)
            return result
        tw, ts, align = int(settings["target_words"]), float(settings["target_seconds"]), bool(settings["align_chapters"])

        def per_video(segs: pd.DataFrame, chapters: pd.DataFrame) -> pd.DataFrame:
            return build_windows(segs, chapters, tw, ts, align)

        changed = in_list("video_id", plan.changed)
        segs = read_table(spark, conf, "segments").filter(changed)
        chapters = read_table(spark, conf, "chapters").filter(changed).select("video_id", "chapter_idx", "start_s")
        windows = segs.groupBy("video_id").cogroup(chapters.groupBy("video_id")).applyInPandas(per_video, SCHEMA)
        replace_where(spark, conf, "windows", windows, in_list("video_id", plan.touched))
        n = read_table(spark, conf, "windows").filter(in_list("video_id", plan.touched)).count()
        commit_markers(spark, conf, plan)
        result.add(windows_written=n)
        result.wrote += ["windows", "stage_state"]
        return result
