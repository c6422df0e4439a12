"""SubRip (.srt), read as cdown/srt reads it: ``1`` / ``00:00:01,000 --> 00:00:04,000`` / text lines.

A cue starts at its timing line (with the index line right above it, if any) and runs to the next
cue's start: no blank line is needed between cues, and a blank line inside a cue's text keeps the
text after it. Accepted as the reference parsers accept them: indexes that are negative, dotted
(``12.5``) or missing; ``,`` ``.`` ``:`` and their full-width forms (``，．。：``) as separators;
missing milliseconds; ``- >`` arrows; cue settings after the end time. Milliseconds are an integer
count, as srt and pysrt read them: ``00:00:01,5`` is 1.005 s.
"""

from __future__ import annotations

import re
from typing import Iterator

from .base import Problem, excerpt, first_lines
from .captions import Cue, ms_seconds, parse_cue_file

NAME = "srt"

_SEP = "[,.:\uff0c\uff0e\u3002\uff1a]"  # , . : and the full-width ， ． 。 ：
_TS = rf"\d+{_SEP}\d+{_SEP}\d+{_SEP}?\d*"
TIMING = re.compile(rf"^\s*({_TS})[ \t]*-[ -][ \t]*>[ \t]*({_TS})")
_FIELDS = re.compile(rf"(\d+){_SEP}(\d+){_SEP}(\d+){_SEP}?(\d*)")
INDEX = re.compile(r"^\s*-?\d+\.?\d*\s*$")


def timestamp_seconds(value: str) -> float:
    """An SRT timestamp -> seconds. Raises ValueError for one that cannot be a time.

    >>> timestamp_seconds("00:01:02,5"), timestamp_seconds("01:00:00"), timestamp_seconds("0：0：1，250")
    (62.005, 3600.0, 1.25)
    """
    m = _FIELDS.fullmatch(value)
    if not m:
        raise ValueError(f"not an SRT timestamp: {value!r}")
    try:  # thousands of digits exceed int()'s limit and float's range
        return ms_seconds(*(int(field or 0) for field in m.groups()))
    except (ValueError, OverflowError):
        raise ValueError(f"timestamp out of range: {excerpt(value, 40)!r}") from None


def sniff(text: str, path: str) -> bool:
    lines = [line for line in first_lines(text.lstrip("\ufeff"), 20) if line.strip()]
    if not lines:
        return False
    return bool(TIMING.match(lines[0]) or (len(lines) >= 2 and INDEX.match(lines[0]) and TIMING.match(lines[1])))


def read_cues(text: str) -> Iterator[Cue | Problem]:
    """The cues of an SRT text, in file order; a Problem for text outside any cue or a bad time.

    >>> [(c.start_s, c.lines) for c in read_cues("1\\n00:00:01,000 --> 00:00:02,000\\nhi\\n2\\n00:00:02.5 --> 00:00:03\\nyo")]
    [(1.0, ['hi']), (2.005, ['yo'])]
    """
    lines = text.lstrip("\ufeff").split("\n")
    timings = [(i, m) for i, line in enumerate(lines) if "-" in line and (m := TIMING.match(line))]
    if not timings:
        yield Problem("file", "srt_no_cue: no `start --> end` timing line", excerpt(text))
        return
    # A cue begins at its index line: the last non-blank line above the timing line, if it looks like
    # one (srt lets blank lines stand between the two, so a lone number there is an index, not text).
    begins = []
    for k, (i, _) in enumerate(timings):
        above = i - 1
        while above > (timings[k - 1][0] if k else -1) and not lines[above].strip():
            above -= 1
        after_previous = above > (timings[k - 1][0] if k else -1)
        begins.append(above if after_previous and INDEX.match(lines[above]) else i)
    before = "\n".join(lines[:begins[0]]).strip()
    if before:
        yield Problem("line 1", "srt_text_before_first_cue: text without a timing line", excerpt(before))
    for k, (i, m) in enumerate(timings):
        end = begins[k + 1] if k + 1 < len(timings) else len(lines)
        text_lines = lines[i + 1:end]
        while text_lines and not text_lines[-1].strip():
            text_lines.pop()
        try:
            yield Cue(timestamp_seconds(m.group(1)), timestamp_seconds(m.group(2)), text_lines, f"line {i + 1}")
        except ValueError as exc:
            yield Problem(f"line {i + 1}", f"bad_timestamp: {exc}", excerpt("\n".join(lines[i:end])))


def parse(text: str, meta: dict) -> Iterator:
    yield from parse_cue_file(read_cues(text), NAME, meta)
