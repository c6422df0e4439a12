"""YouTube auto-captions copied from a transcript web page: ``m:ss`` / caption pairs, "rolling".

Entries alternate between a two-line caption window and its second line alone::

    0:02  hi everyone today we are continuing our implementation of make more our favorite
    0:04  implementation of make more our favorite

The clean transcript is each distinct caption line once, at the time it first appears: an entry
equal to the last emitted line is a repeat; an entry that starts with it adds only its remainder.
End times are the next line's start (the last line: start + words / words_per_second).
"""

from __future__ import annotations

import re
from typing import Iterator

from .base import Problem, Segment, excerpt, first_lines, parse_clock, single_video

NAME = "rolling_captions"

_TS = re.compile(r"^\d{1,2}(:\d{2}){1,2}$")
_COUNT = re.compile(r"^(\d[\d,]*) segments?$")


def sniff(text: str, path: str) -> bool:
    lines = [l.strip() for l in first_lines(text, 60)]
    ts = [i for i, l in enumerate(lines) if _TS.match(l)]
    # Timestamps alone on a line, every other line.
    return len(ts) >= 5 and all(b - a == 2 for a, b in zip(ts[:5], ts[1:5]))


def parse(text: str, meta: dict) -> Iterator:
    lines = [l.strip() for l in text.split("\n")]
    first = next((i for i, l in enumerate(lines) if _TS.match(l)), None)
    if first is None:
        yield Problem("file", "no_timestamps: no m:ss lines found", excerpt(text))
        return
    header = lines[:first]
    declared = next((int(m.group(1).replace(",", "")) for l in header if (m := _COUNT.match(l))), None)
    title = None
    if "Loading player" in header:  # the web page puts the title right above the player
        k = header.index("Loading player")
        title = header[k - 1] if k >= 1 else None

    entries: list[tuple[float, str, int]] = []
    i = first
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        if not _TS.match(lines[i]):
            yield Problem(f"line {i + 1}", "caption_without_timestamp: text line where a m:ss line was expected", excerpt(lines[i]))
            i += 1
            continue
        if i + 1 >= len(lines) or not lines[i + 1] or _TS.match(lines[i + 1]):
            yield Problem(f"line {i + 1}", "timestamp_without_caption: m:ss line with no text after it", excerpt(lines[i]))
            i += 1
            continue
        try:
            entries.append((parse_clock(lines[i]), " ".join(lines[i + 1].split()), i))
        except ValueError as exc:
            yield Problem(f"line {i + 1}", f"bad_timestamp: {exc}", excerpt(lines[i]))
        i += 2
    if declared is not None and declared != len(entries):
        yield Problem("header", f"segment_count_mismatch: header declares {declared}, file holds {len(entries)}",
                      excerpt(" | ".join(header)), action="flagged")

    clean: list[tuple[float, str]] = []
    for t, caption, _ in entries:
        last = clean[-1][1] if clean else None
        if caption == last:
            continue
        if last and caption.startswith(last + " "):
            caption = caption[len(last) + 1 :]
        clean.append((t, caption))

    rate = float(meta.get("words_per_second", 2.5))
    segments = []
    for k, (t, caption) in enumerate(clean):
        end = clean[k + 1][0] if k + 1 < len(clean) else t + max(1.0, len(caption.split()) / rate)
        segments.append(Segment(t, max(end, t), caption))
    meta = dict(meta)
    meta.setdefault("title", title)
    yield single_video(meta, segments)
