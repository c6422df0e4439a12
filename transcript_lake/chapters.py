"""Chapter lists in video descriptions: ``"⌚️ Timetable: 00:00 Intro 02:05 Paper overview ..."``.

Descriptions in the bundled corpus are flattened to one line, so a chapter title ends where the next
timestamp starts; the last title ends at a separator (``▬``, ``|``, an emoji, a URL) or after
``MAX_TITLE`` characters. A chapter list is the longest run of increasing timestamps that starts at
0:00 with at least two entries, or elsewhere with at least three (some authors skip the intro).
"""

from __future__ import annotations

import re
from typing import Optional

from .formats.base import parse_clock

MAX_TITLE = 120
_TS = re.compile(r"(?<![\d:.,/=])(\d{1,2}:\d{2}(?::\d{2})?)(?![\d:]|[.,]\d)")
_STOP = re.compile(r"[▬━═|\n]|https?://|[\U0001F000-\U0001FFFF\u2600-\u27BF\u2B50\u231A\u231B\u23F0-\u23FA]")
_EDGE = " \t-–—:•·,;"


def _clean_title(text: str) -> str:
    stop = _STOP.search(text)
    if stop:
        text = text[: stop.start()]
    text = text.strip(_EDGE)
    if len(text) > MAX_TITLE:
        text = text[:MAX_TITLE].rsplit(" ", 1)[0]
    return text.strip(_EDGE)


def parse_chapters(description: Optional[str], duration_s: Optional[float] = None) -> list[tuple[float, Optional[float], str]]:
    """``[(start_s, end_s, title)]``; end_s is the next start, the last one ``duration_s``."""
    if not description:
        return []
    marks = []
    for m in _TS.finditer(description):
        try:
            marks.append((parse_clock(m.group(1)), m.start(), m.end()))
        except ValueError:
            continue
    best: list[tuple[float, str]] = []
    for i, (t0, _, _) in enumerate(marks):
        run: list[tuple[float, str]] = []
        for j in range(i, len(marks)):
            t, _, end = marks[j]
            if run and t <= run[-1][0]:
                break
            nxt = marks[j + 1][1] if j + 1 < len(marks) else len(description)
            gap = description[end:nxt]
            title = _clean_title(gap)
            if not title:
                break
            run.append((t, title))
            if _STOP.search(gap):  # the list ended inside this gap
                break
        # A list from 0:00 (YouTube's rule) needs 2 entries; one starting later (some authors skip
        # the intro) needs 3, so that stray times in prose ("at 7:06") are not taken for chapters.
        if len(run) >= (2 if t0 == 0 else 3) and len(run) > len(best):
            best = run
    if not best:
        return []
    out = []
    for k, (t, title) in enumerate(best):
        end = best[k + 1][0] if k + 1 < len(best) else duration_s
        if end is not None and end < t:
            end = t
        out.append((t, end, title))
    return out
