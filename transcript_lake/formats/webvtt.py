"""WebVTT (.vtt), including YouTube auto-captions with inline ``<00:00:01.234><c> word</c>`` tags
and roll-up repeated cue text (de-duplicated by :func:`captions.cues_to_segments`)."""

from __future__ import annotations

import re
from typing import Iterator

from .base import Problem, excerpt, parse_clock, single_video
from .captions import cues_to_segments

NAME = "webvtt"

_TIMING = re.compile(r"^\s*((?:\d+:)?\d{1,2}:\d{2}\.\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}\.\d{1,3})")


def sniff(head: str, path: str) -> bool:
    return head.lstrip("\ufeff \n").startswith("WEBVTT")


def parse(text: str, meta: dict) -> Iterator:
    # Cues end at an empty line. Not at a line of spaces: YouTube's auto-captions put " " lines inside cues.
    blocks = re.split(r"\n{2,}", text.lstrip("\ufeff"))
    cues = []
    for block_no, block in enumerate(blocks[1:], start=2):  # blocks[0]: WEBVTT header + metadata
        lines = [l for l in block.split("\n") if l.strip()]
        if not lines or lines[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        k = next((i for i, l in enumerate(lines[:2]) if "-->" in l), None)
        m = _TIMING.match(lines[k]) if k is not None else None
        if not m:
            yield Problem(f"block {block_no}", "vtt_cue_without_timing: no `start --> end` line", excerpt(block))
            continue
        try:
            cues.append((parse_clock(m.group(1)), parse_clock(m.group(2)), lines[k + 1 :]))
        except ValueError as exc:
            yield Problem(f"block {block_no}", f"bad_timestamp: {exc}", excerpt(block))
    yield single_video(meta, cues_to_segments(cues))
