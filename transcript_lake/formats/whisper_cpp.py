"""whisper.cpp console output: ``[HH:MM:SS.mmm --> HH:MM:SS.mmm]   text``, one segment a line.

No title, channel or id inside the file: they come from the manifest.
"""

from __future__ import annotations

import re
from typing import Iterator

from .base import Problem, Segment, excerpt, first_lines, parse_clock, single_video

NAME = "whisper_cpp"

_LINE = re.compile(r"^\s*\[\s*([\d:.,]+)\s*-->\s*([\d:.,]+)\s*\]\s?(.*)$")


def sniff(text: str, path: str) -> bool:
    lines = [l for l in first_lines(text, 20) if l.strip()]
    return bool(lines) and sum(1 for l in lines[:10] if _LINE.match(l)) >= min(3, len(lines[:10]))


def parse(text: str, meta: dict) -> Iterator:
    segments = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m:
            yield Problem(f"line {n}", "unparseable_line: not `[start --> end] text`", excerpt(line))
            continue
        try:
            start, end = parse_clock(m.group(1)), parse_clock(m.group(2))
        except ValueError as exc:
            yield Problem(f"line {n}", f"bad_timestamp: {exc}", excerpt(line))
            continue
        segments.append(Segment(start, end, m.group(3).strip()))
    yield single_video(meta, segments)
