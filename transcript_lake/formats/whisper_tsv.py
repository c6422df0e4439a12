"""OpenAI Whisper's TSV output (``--output_format tsv``): a ``start<TAB>end<TAB>text`` header, then one
segment a line with times in integer milliseconds."""

from __future__ import annotations

from typing import Iterator

from .base import Problem, Segment, excerpt, first_lines, single_video

NAME = "whisper_tsv"
HEADER = "start\tend\ttext"


def sniff(text: str, path: str) -> bool:
    return first_lines(text.lstrip("\ufeff"), 1)[0].rstrip() == HEADER


def parse(text: str, meta: dict) -> Iterator:
    segments = []
    for n, line in enumerate(text.lstrip("\ufeff").split("\n"), start=1):
        if n == 1 and line.rstrip() == HEADER or not line.strip():
            continue
        fields = line.split("\t", 2)
        try:
            start, end = (int(f) / 1000 for f in fields[:2])
            segments.append(Segment(start, end, fields[2].strip() if len(fields) > 2 else ""))
        except (ValueError, OverflowError):
            yield Problem(f"line {n}", "unparseable_line: not `start_ms<TAB>end_ms<TAB>text`", excerpt(line))
    if not segments:
        yield Problem("file", "no_segments: whisper_tsv file holds no segment line", action="flagged")
    yield single_video(meta, segments)
