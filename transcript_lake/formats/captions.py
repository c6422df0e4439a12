"""Shared cue handling for SRT and WebVTT: the :class:`Cue` both readers produce, the text policy
(tags stripped, entities decoded, lines joined) and the roll-up policy that turns cues into segments.

The readers (``srt.read_cues``, ``webvtt.read_cues``) only find cues, as the reference parsers do;
everything that changes text or merges cues lives here, once, so the conformance comparison can apply
the very same policy to the reference parsers' cues (see docs/formats.md).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from .base import Problem, Segment, single_video

_TAG = re.compile(r"<(?:/?[A-Za-z]|\d)[^<>]*>")  # <i>, </c>, <c.x>, <v Name>, <00:00:01.234>; not "2 < 3"
_ASS = re.compile(r"\{\\[^}]*\}")  # {\an8} positioning codes some SRT files carry

# A roll-up line is repeated by a cue that starts where the previous one ends (or earlier); a
# millisecond of slack absorbs writers that round the two times differently.
_TOUCH_S = 0.001


@dataclass
class Cue:
    """One cue as written: times in seconds, text lines untouched (tags, entities, blank lines)."""

    start_s: float
    end_s: float
    lines: list[str]
    ref: str = ""  # where its timing line is, e.g. "line 12"


def clean_line(line: str) -> str:
    """Drop inline tags (``<i>``, ``<00:00:01.234>``, ``<c>``, ``{\\an8}``), decode entities, collapse spaces.

    >>> clean_line("<i>Tom &amp; Jerry</i>  {\\\\an8}run")
    'Tom & Jerry run'
    """
    return " ".join(html.unescape(_ASS.sub("", _TAG.sub("", line))).split())


def cue_text(lines: Iterable[str]) -> str:
    """A cue's text: its cleaned lines that have words, joined by one space.

    >>> cue_text(["<b>Hello</b>", " ", "world"])
    'Hello world'
    """
    return " ".join(cleaned for cleaned in map(clean_line, lines) if cleaned)


def shows_rollup(cues: list[Cue], cleaned: list[list[str]]) -> bool:
    """Whether the file repeats lines the way roll-up writers do.

    YouTube auto-captions show the previous line above the new one and add 10 ms cues that repeat it;
    Whisper's ``--highlight_words`` repeats a subtitle once per word (only the underline moves). Both
    make most cues start where the previous one ends with a line it already showed. Ordinary subtitles
    repeat a line now and then ("- Non!" twice): that is speech, kept as it is. At least two such
    cues, and half of those that could be, are the pattern.

    >>> c = [Cue(0, 1, ["a"]), Cue(1, 2, ["a", "b"]), Cue(2, 3, ["b", "c"])]
    >>> shows_rollup(c, [x.lines for x in c])
    True
    """
    eligible = repeats = 0
    previous: Cue | None = None
    previous_lines: set[str] = set()
    for cue, lines in zip(cues, cleaned):
        if not lines:
            continue
        if previous is not None:
            eligible += 1
            if lines[0] in previous_lines and cue.start_s <= previous.end_s + _TOUCH_S:
                repeats += 1
        previous, previous_lines = cue, set(lines)
    return repeats >= 2 and 2 * repeats >= eligible


def cues_to_segments(cues: list[Cue]) -> list[Segment]:
    """Cues -> segments: one per cue, or, where the file shows the roll-up pattern
    (:func:`shows_rollup`), one per distinct caption line.

    In a roll-up file a line also shown by the previous cue is a repeat: it is not emitted again, and
    the segment that holds it lasts until its last repeat ends (then up to the next line's start,
    as the lines of a roll-up file overlap). Cues of ordinary files pass through one to one, an
    empty one as an empty segment (the segments stage quarantines it with a reason).

    >>> [(s.start_s, s.end_s, s.text) for s in cues_to_segments([Cue(0.32, 0.37, ["<u>Hi</u> all"]),
    ...     Cue(0.37, 0.5, ["Hi <u>all</u>"]), Cue(0.5, 4.99, ["Hi all"])])]
    [(0.32, 4.99, 'Hi all')]
    """
    cleaned = [[line for line in map(clean_line, cue.lines) if line] for cue in cues]
    if not shows_rollup(cues, cleaned):
        return [Segment(cue.start_s, cue.end_s, " ".join(lines)) for cue, lines in zip(cues, cleaned)]
    segments: list[Segment] = []
    holder: dict[str, Segment] = {}  # each line of the previous cue -> the segment that holds it
    for cue, lines in zip(cues, cleaned):
        if not lines:
            continue
        shown: dict[str, Segment] = {}
        fresh = []
        for line in lines:
            segment = holder.get(line)
            if segment is None:
                fresh.append(line)
            else:
                segment.end_s = max(segment.end_s, cue.end_s)
                shown[line] = segment
        if fresh:
            segment = Segment(cue.start_s, cue.end_s, " ".join(fresh))
            segments.append(segment)
            shown.update(dict.fromkeys(fresh, segment))
        holder = shown
    for a, b in zip(segments, segments[1:]):
        if a.end_s > b.start_s:
            a.end_s = b.start_s
    return segments


def parse_cue_file(cues_and_problems: Iterable[Cue | Problem], fmt: str, meta: dict) -> Iterator:
    """Problems as they come, then the one video made of the cues (an explained one if empty)."""
    cues: list[Cue] = []
    problems = 0
    for item in cues_and_problems:
        if isinstance(item, Problem):
            problems += 1
            yield item
        else:
            cues.append(item)
    segments = cues_to_segments(cues)
    if not any(segment.text for segment in segments):
        why = (f"all {len(cues)} cue(s) are empty" if cues else
               f"no readable cue ({problems} unreadable block(s) quarantined)" if problems else "the file holds no cue")
        yield Problem("file", f"no_segments: {fmt} file yields a video without segments: {why}", action="flagged")
    yield single_video(meta, segments)


def ms_seconds(hours: int, minutes: int, seconds: int, milliseconds: int) -> float:
    """Clock fields -> seconds, exact to the millisecond (one division, no float drift).

    >>> ms_seconds(1, 2, 3, 5)
    3723.005
    """
    return (((hours * 60 + minutes) * 60 + seconds) * 1000 + milliseconds) / 1000
