"""SubRip (.srt): numbered blocks ``1`` / ``00:00:01,000 --> 00:00:04,000`` / text lines."""

from __future__ import annotations

import re
from typing import Iterator

from .base import Problem, excerpt, parse_clock, single_video
from .captions import cues_to_segments

NAME = "srt"

_TIMING = re.compile(r"^\s*([\d:]+[,.]\d{1,3})\s*-->\s*([\d:]+[,.]\d{1,3})")


def sniff(head: str, path: str) -> bool:
    lines = [l.strip() for l in head.split("\n")[:10] if l.strip()]
    return len(lines) >= 2 and lines[0].isdigit() and bool(_TIMING.match(lines[1])) and "," in lines[1]


def parse(text: str, meta: dict) -> Iterator:
    cues = []
    for block_no, block in enumerate(re.split(r"\n\s*\n", text.strip()), start=1):
        lines = [l for l in block.split("\n") if l.strip()]
        if not lines:
            continue
        k = 1 if lines[0].strip().isdigit() else 0
        m = _TIMING.match(lines[k]) if k < len(lines) else None
        if not m:
            yield Problem(f"block {block_no}", "srt_block_without_timing: no `start --> end` line", excerpt(block))
            continue
        try:
            cues.append((parse_clock(m.group(1)), parse_clock(m.group(2)), lines[k + 1 :]))
        except ValueError as exc:
            yield Problem(f"block {block_no}", f"bad_timestamp: {exc}", excerpt(block))
    yield single_video(meta, cues_to_segments(cues))
