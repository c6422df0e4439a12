"""WebVTT (.vtt), including YouTube auto-captions with inline ``<00:00:01.234><c> word</c>`` tags
and roll-up repeated cue text (de-duplicated by :func:`captions.cues_to_segments`)."""

from __future__ import annotations

import re
from typing import Iterator

from .captions import parse_cue_file

NAME = "webvtt"

_TIMING = re.compile(r"^\s*((?:\d+:)?\d{1,2}:\d{2}\.\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}\.\d{1,3})")


def sniff(head: str, path: str) -> bool:
    return head.lstrip("\ufeff \n").startswith("WEBVTT")


def parse(text: str, meta: dict) -> Iterator:
    # Cues end at an empty line. Not at a line of spaces: YouTube's auto-captions put " " lines inside cues.
    blocks = re.split(r"\n{2,}", text.lstrip("\ufeff"))
    # blocks[0] is the WEBVTT header and its metadata
    yield from parse_cue_file(enumerate(blocks[1:], start=2), _TIMING, NAME, meta)
