"""YouTube SubViewer (.sbv): ``0:00:00.378,0:00:11.378`` / text lines, cues apart by a blank line.

Read as webvtt-py reads it: a cue starts at its timing line (so no blank line is needed before the
next one) and its text runs to the next blank line; a field over its range carries over as in SRT
(``0:61:00.000`` is 1:01:00).
"""

from __future__ import annotations

import re
from typing import Iterator

from .base import Problem, excerpt, first_lines
from .captions import Cue, ms_seconds, parse_cue_file

NAME = "sbv"

TIMING = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})\.(\d{3}),(\d+):(\d{1,2}):(\d{1,2})\.(\d{3})\s*$")


def sniff(text: str, path: str) -> bool:
    lines = [line for line in first_lines(text.lstrip("\ufeff"), 20) if line.strip()]
    return bool(lines) and bool(TIMING.match(lines[0]))


def read_cues(text: str) -> Iterator[Cue | Problem]:
    """The cues of an SBV text; a Problem for text outside any cue or an unreadable time.

    >>> [(c.start_s, c.end_s, c.lines) for c in read_cues("0:00:01.000,0:00:02.500\\nhi\\n")]
    [(1.0, 2.5, ['hi'])]
    """
    cue: Cue | None = None
    stray: list[tuple[int, str]] = []  # text lines outside any cue
    for n, line in enumerate(text.lstrip("\ufeff").split("\n"), start=1):
        m = TIMING.match(line)
        if m:
            if cue:
                yield cue
            try:
                fields = [int(f) for f in m.groups()]
                cue = Cue(ms_seconds(*fields[:4]), ms_seconds(*fields[4:]), [], f"line {n}")
            except (ValueError, OverflowError):
                cue = None
                yield Problem(f"line {n}", "bad_timestamp: timestamp out of range", excerpt(line))
        elif not line.strip():
            if cue:
                yield cue
            cue = None
        elif cue:
            cue.lines.append(line)
        else:
            stray.append((n, line))
    if cue:
        yield cue
    if stray:
        yield Problem(f"line {stray[0][0]}", f"sbv_text_without_timing: {len(stray)} line(s) outside any cue",
                      excerpt("\n".join(line for _, line in stray)))


def parse(text: str, meta: dict) -> Iterator:
    yield from parse_cue_file(read_cues(text), NAME, meta)
