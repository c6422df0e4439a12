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

from ..config import Config
from ..schemas import table_specs
from ..sqltext import in_list
from ..stage import Settings, Stage, StageContext
from ..tables import read_table, replace_where

NAME = "windows"


def settings(conf: Config) -> Settings:
    return Settings(output={k: conf.get(f"windows.{k}") for k in ("target_words", "target_seconds", "align_chapters")})


def build_windows(segs: pd.DataFrame, chapters: pd.DataFrame, target_words: int, target_seconds: float,
                  align_chapters: bool) -> pd.DataFrame:
    """Windows of one video. ``segs``: seg_idx, start_s, end_s, text, n_words; ``chapters``: chapter_idx, start_s."""
    columns = table_specs()["windows"].column_names
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


def run(ctx: StageContext) -> None:
    spark, conf, result = ctx.spark, ctx.conf, ctx.result
    plan = ctx.plan_videos(ctx.upstream("segments"))
    ctx.step("%d video(s) to rebuild, %d removed, %d unchanged", len(plan.changed), len(plan.removed), plan.unchanged)
    result.add(videos_rebuilt=len(plan.changed), videos_removed=len(plan.removed))
    if plan.noop:
        result.add(windows_written=0)
        return
    tw, ts = int(ctx.settings["target_words"]), float(ctx.settings["target_seconds"])
    align = bool(ctx.settings["align_chapters"])

    def per_video(segs: pd.DataFrame, chapters: pd.DataFrame) -> pd.DataFrame:
        return build_windows(segs, chapters, tw, ts, align)

    changed = in_list("video_id", plan.changed)
    segs = read_table(spark, conf, "segments").filter(changed)
    chapters = read_table(spark, conf, "chapters").filter(changed).select("video_id", "chapter_idx", "start_s")
    windows = (segs.groupBy("video_id").cogroup(chapters.groupBy("video_id"))
               .applyInPandas(per_video, table_specs()["windows"].spark_schema()))
    n = replace_where(spark, conf, "windows", windows, in_list("video_id", plan.touched))
    result.add(windows_written=n)
    result.wrote += ["windows"]


STAGE = Stage(
    name=NAME, run=run, settings=settings, per_video=True,
    inputs=("videos", "segments", "chapters"), outputs=("windows",),
    doc="segments + chapters -> windows: ~150-word / 60 s NLP documents that never cross a chapter (silver).",
)
