"""Shared cue handling for SRT and WebVTT: tag stripping and roll-up de-duplication."""

from __future__ import annotations

import html
import re

from typing import Iterable, Iterator

from .base import Problem, Segment, excerpt, parse_clock

_TAG = re.compile(r"<[^>]*>")
_ASS = re.compile(r"\{\\[^}]*\}")  # {\an8} positioning codes some SRT files carry


def clean_line(line: str) -> str:
    """Drop inline tags (``<i>``, ``<00:00:01.234>``, ``<c>``), decode entities, collapse spaces."""
    return " ".join(html.unescape(_ASS.sub("", _TAG.sub("", line))).split())


def cues_to_segments(cues: list[tuple[float, float, list[str]]]) -> list[Segment]:
    """One segment per distinct caption line, at the cue where it first appears.

    Roll-up captions (YouTube auto VTT) repeat the previous cue's line on top of the new one and
    insert 10 ms cues repeating it again; a line also present in the previous cue is a repeat.
    Plain captions have no such repeats and pass through unchanged (multi-line cues are joined).
    """
    segments: list[Segment] = []
    previous: set[str] = set()
    for start, end, raw_lines in cues:
        lines = [l for l in (clean_line(x) for x in raw_lines) if l]
        fresh = [l for l in lines if l not in previous]
        if fresh:
            segments.append(Segment(start, end, " ".join(fresh)))
        if lines:
            previous = set(lines)
    # A roll-up line is on screen until the next line appears: end = next start where cues overlap.
    for a, b in zip(segments, segments[1:]):
        if a.end_s is not None and b.start_s is not None and a.end_s > b.start_s:
            a.end_s = b.start_s
    return segments


def read_cues(blocks: Iterable[tuple[int, str]], timing: re.Pattern, fmt: str) -> Iterator[tuple | Problem]:
    """``(block_no, block)`` -> ``(start_s, end_s, text_lines)`` per cue, or a Problem for a bad block.

    The timing line is the first or second line (SRT numbers its cues; WebVTT may name them).
    """
    for block_no, block in blocks:
        lines = [l for l in block.split("\n") if l.strip()]
        if not lines or lines[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        k = next((i for i, l in enumerate(lines[:2]) if "-->" in l), None)
        m = timing.match(lines[k]) if k is not None else None
        if not m:
            yield Problem(f"block {block_no}", f"{fmt}_cue_without_timing: no `start --> end` line", excerpt(block))
            continue
        try:
            yield parse_clock(m.group(1)), parse_clock(m.group(2)), lines[k + 1:]
        except ValueError as exc:
            yield Problem(f"block {block_no}", f"bad_timestamp: {exc}", excerpt(block))


def parse_cue_file(blocks: Iterable[tuple[int, str]], timing: re.Pattern, fmt: str, meta: dict) -> Iterator:
    """Problems as they come, then the one video made of the de-duplicated cues."""
    from .base import single_video

    cues = []
    for item in read_cues(blocks, timing, fmt):
        if isinstance(item, Problem):
            yield item
        else:
            cues.append(item)
    yield single_video(meta, cues_to_segments(cues))
