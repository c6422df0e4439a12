"""SubRip (.srt): numbered blocks ``1`` / ``00:00:01,000 --> 00:00:04,000`` / text lines."""

from __future__ import annotations

import re
from typing import Iterator

from .captions import parse_cue_file

NAME = "srt"

_TIMING = re.compile(r"^\s*([\d:]+[,.]\d{1,3})\s*-->\s*([\d:]+[,.]\d{1,3})")


def sniff(head: str, path: str) -> bool:
    lines = [l.strip() for l in head.split("\n")[:10] if l.strip()]
    return len(lines) >= 2 and lines[0].isdigit() and bool(_TIMING.match(lines[1])) and "," in lines[1]


def parse(text: str, meta: dict) -> Iterator:
    blocks = re.split(r"\n\s*\n", text.strip())
    yield from parse_cue_file(enumerate(blocks, start=1), _TIMING, NAME, meta)
