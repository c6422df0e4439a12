"""WebVTT (.vtt), read as webvtt-py reads it, including YouTube auto-captions (inline
``<00:00:01.234><c> word</c>`` tags, roll-up repeated lines: see :func:`captions.cues_to_segments`).

Blocks end at an empty line (not at a line of spaces: YouTube puts ``" "`` lines inside cues), and a
``-->`` line that cannot be the current block's timing line starts a new block, so cues need no
blank line between them. A block is a cue when its first line, or its second after an identifier,
is the timing line: a cue named ``NOTES`` or ``STYLE-1`` is a cue. ``NOTE``, ``STYLE`` and
``REGION`` are keywords: a block starting with one of them alone (or followed by a space) is
skipped. Timestamps may have short fields (MS Teams writes ``0:0:1.5``): a fraction is padded on
the right, so ``.5`` is 500 ms, as webvtt-py reads it.
"""

from __future__ import annotations

import re
from typing import Iterator

from .base import Problem, excerpt
from .captions import Cue, ms_seconds, parse_cue_file

NAME = "webvtt"

_TS = r"(?:\d+:)?\d{1,2}:\d{1,2}\.\d{1,3}"
TIMING = re.compile(rf"\s*({_TS})\s*-->\s*({_TS})")
_FIELDS = re.compile(r"(?:(\d{1,10}):)?(\d{1,2}):(\d{1,2})\.(\d{1,3})")
_KEYWORD = re.compile(r"(NOTE|STYLE|REGION)(?:[ \t].*)?")


def timestamp_seconds(value: str) -> float:
    """A WebVTT timestamp -> seconds. Raises ValueError for minutes or seconds over 59.

    >>> timestamp_seconds("0:0:1.5"), timestamp_seconds("01:02.003")
    (1.5, 62.003)
    """
    m = _FIELDS.fullmatch(value)
    if not m or int(m.group(2)) > 59 or int(m.group(3)) > 59:
        raise ValueError(f"not a WebVTT timestamp: {excerpt(value, 40)!r}")
    hours, minutes, seconds, fraction = m.groups()
    return ms_seconds(int(hours or 0), int(minutes), int(seconds), int(fraction.ljust(3, "0")))


def sniff(text: str, path: str) -> bool:
    return text[:4096].lstrip("\ufeff \t\n").startswith("WEBVTT")


def _blocks(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    """``(first line number, lines)`` of each block, the header block first."""
    block: list[str] = []
    first = 0
    in_header = True
    for n, line in enumerate(lines, start=1):
        # a timing line can only be a block's first line, or its second after an identifier
        new_cue = bool(block) and "-->" in line and (in_header or len(block) > 1 or "-->" in block[0])
        if not line or new_cue:
            if block:
                yield first, block
                block = []
                in_header = False
        if line:
            if not block:
                first = n
            block.append(line)
    if block:
        yield first, block


def _timing_index(block: list[str]) -> int | None:
    """Which line of the block is its timing line (0, or 1 after an identifier), if any."""
    for k in (0, 1):
        if k < len(block) and TIMING.match(block[k]) and (k == 0 or "-->" not in block[0]):
            return k
    return None


def read_cues(text: str) -> Iterator[Cue | Problem]:
    """The cues of a WebVTT text, in file order; a Problem for each block that is neither a cue nor
    a keyword block (NOTE, STYLE, REGION), and for a cue whose times are invalid.

    >>> [(c.start_s, c.end_s, c.lines) for c in read_cues("WEBVTT\\n\\nNOTES\\n00:01.000 --> 00:02.000\\nhi")]
    [(1.0, 2.0, ['hi'])]
    """
    lines = text.lstrip("\ufeff \t\n").split("\n")
    if not lines[0].startswith("WEBVTT"):
        yield Problem("line 1", "webvtt_header_missing: a WebVTT file starts with `WEBVTT`", excerpt(lines[0]))
        return
    blocks = _blocks(lines)
    next(blocks)  # the header: WEBVTT and its metadata lines
    for first, block in blocks:
        k = _timing_index(block)
        if k is None:
            if _KEYWORD.fullmatch(block[0]) or not "".join(block).strip():  # a comment, style, region or spaces
                continue
            reason = ("webvtt_bad_timing: a `-->` line that is not `start --> end`" if any("-->" in l for l in block)
                      else "webvtt_block_without_timing: text outside any cue")
            yield Problem(f"line {first}", reason, excerpt("\n".join(block)))
            continue
        m = TIMING.match(block[k])
        try:
            yield Cue(timestamp_seconds(m.group(1)), timestamp_seconds(m.group(2)), block[k + 1:], f"line {first + k}")
        except ValueError as exc:
            yield Problem(f"line {first + k}", f"bad_timestamp: {exc}", excerpt("\n".join(block)))


def parse(text: str, meta: dict) -> Iterator:
    yield from parse_cue_file(read_cues(text), NAME, meta)
