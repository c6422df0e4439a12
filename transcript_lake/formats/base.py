"""What every format adapter produces, and the helpers they share.

An adapter is a module with ``NAME``, ``sniff(text, path) -> bool`` and
``parse(text, meta) -> Iterator[VideoRecord | CommentRecord | Problem]``. ``sniff`` gets the whole
text and judges it by structure: line formats read their first lines (:func:`first_lines`), JSON
formats stream the document's keys (:func:`json_events`) however far in they lie. Adapters are pure
Python (no Spark), so they are unit-tested directly and run unchanged inside Spark's Python workers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

EXCERPT_CHARS = 300


@dataclass
class Segment:
    start_s: Optional[float]
    end_s: Optional[float]
    text: Optional[str]


@dataclass
class VideoRecord:
    record_ref: str
    video_id: Optional[str]
    title: Optional[str] = None
    channel: Optional[str] = None
    url: Optional[str] = None
    description: Optional[str] = None
    published_at: Optional[str] = None
    segments: list[Segment] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)  # source columns the pipeline does not know


@dataclass
class CommentRecord:
    record_ref: str
    text: str
    is_reply: bool = False
    reply_to: Optional[str] = None
    cited_s: list[float] = field(default_factory=list)


@dataclass
class Problem:
    """Bad input found while parsing. ``action``: dropped | repaired | flagged."""

    record_ref: str
    reason: str
    raw_excerpt: str = ""
    action: str = "dropped"


def excerpt(text: Any, limit: int | None = None) -> str:
    limit = EXCERPT_CHARS if limit is None else limit  # read at call time: the stage sets it from conf
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


_CLOCK = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?\s*$")


def parse_clock(value: str) -> float:
    """``"1:02:03.5"``, ``"01:02:03,500"``, ``"2:03"`` -> seconds. Raises ValueError otherwise."""
    m = _CLOCK.match(value)
    if not m:
        raise ValueError(f"not a timestamp: {value!r}")
    hours, minutes, seconds, frac = m.groups()
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        raise ValueError(f"not a timestamp: {value!r}")
    total = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    if frac:
        total += int(frac) / (10 ** len(frac))
    return float(total)


def as_seconds(value: Any) -> Optional[float]:
    """A JSON number -> float; anything else (string, null, bool) -> None (validated later)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def iter_json_array(text: str) -> tuple[list[Any], Optional[str]]:
    """Parse a JSON array item by item, so a truncated or corrupt array keeps its complete items.

    Returns ``(items, error)``; ``error`` is None when the whole array parsed.
    """
    decoder = json.JSONDecoder()
    items: list[Any] = []
    s = text.strip()
    if not s.startswith("["):
        return items, "does not start with '['"
    pos = 1
    n = len(s)
    while True:
        while pos < n and s[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            return items, f"truncated after {len(items)} items (no closing ']')"
        if s[pos] == "]":
            rest = s[pos + 1 :].strip()
            return items, (f"unexpected data after the array: {excerpt(rest, 40)!r}" if rest else None)
        try:
            item, pos = decoder.raw_decode(s, pos)
        except json.JSONDecodeError as exc:
            return items, f"invalid JSON at char {exc.pos}: {exc.msg} (kept {len(items)} items before it)"
        except RecursionError:
            return items, f"JSON nested too deeply at char {pos} (kept {len(items)} items before it)"
        items.append(item)
        while pos < n and s[pos] in " \t\r\n":
            pos += 1
        if pos < n and s[pos] == ",":
            pos += 1
        elif pos < n and s[pos] != "]":
            return items, f"expected ',' or ']' at char {pos} (kept {len(items)} items)"


def segments_from_dicts(items: list[Any], ref: str, end_key: str = "end") -> Iterator[Segment | Problem]:
    """``[{"start", "end"|"duration", "text"}]`` -> Segments; non-objects become Problems.

    Timestamps that are not numbers become None; the segments stage quarantines them with a reason.
    """
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            yield Problem(f"{ref} segment {i}", "segment_not_an_object: expected {start, end, text}", excerpt(json.dumps(item)))
            continue
        start = as_seconds(item.get("start"))
        if end_key == "duration":
            dur = as_seconds(item.get("duration"))
            end = start + dur if start is not None and dur is not None else None
        else:
            end = as_seconds(item.get(end_key))
        text = item.get("text")
        yield Segment(start, end, text if isinstance(text, str) else (None if text is None else str(text)))


YOUTUBE_ID = re.compile(r"(?:v=|youtu\.be/|/shorts/|/embed/)([A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])")


def youtube_id(url: str | None) -> Optional[str]:
    m = YOUTUBE_ID.search(url or "")
    return m.group(1) if m else None


def single_video(meta: dict, segments: list[Segment], ref: str = "file") -> VideoRecord:
    """A VideoRecord for formats that hold one video and no metadata: everything from the manifest."""
    return VideoRecord(
        record_ref=ref,
        video_id=meta.get("video_id"),
        title=meta.get("title"),
        channel=meta.get("channel"),
        url=meta.get("url"),
        description=meta.get("description"),
        published_at=meta.get("published_at"),
        segments=segments,
    )


def first_lines(text: str, n: int) -> list[str]:
    """The first ``n`` lines of ``text``, without splitting the rest (sniffers see whole files).

    >>> first_lines("a\\nb\\nc", 2)
    ['a', 'b']
    """
    lines: list[str] = []
    pos = 0
    while len(lines) < n and pos <= len(text):
        nl = text.find("\n", pos)
        if nl < 0:
            lines.append(text[pos:])
            break
        lines.append(text[pos:nl])
        pos = nl + 1
    return lines


def json_events(text: str):
    """``(depth, event, value)`` of a JSON document, streamed (ijson): nothing is built, so a sniffer
    can look for a key that comes after megabytes of text and stop there. ``depth`` counts the
    containers open around the event (a top-level key is at depth 1; a container's own start and end
    events are outside it). Ends quietly at invalid JSON.

    >>> [(d, e) for d, e, _ in json_events('{"text": "hi", "segments": []}')][:4]
    [(0, 'start_map'), (1, 'map_key'), (1, 'string'), (1, 'map_key')]
    """
    import ijson  # imported here: only JSON sniffing needs it

    depth = 0
    try:
        # basic_parse, not parse: parse's dotted prefixes grow with the depth, quadratic on deep nesting
        for event, value in ijson.basic_parse(_Utf8Reader(text), buf_size=1 << 20):
            if event in ("end_map", "end_array"):
                depth -= 1
            yield depth, event, value
            if event in ("start_map", "start_array"):
                depth += 1
    except (ijson.JSONError, ValueError, RecursionError):
        return


class _Utf8Reader:
    """A str read as UTF-8 bytes, one chunk at a time (ijson reads bytes; no whole copy is made)."""

    def __init__(self, text: str):
        self._text, self._pos = text, 0

    def read(self, size: int = -1) -> bytes:
        # at most size bytes: a character is up to 4 of them (read(0), ijson's type probe, reads nothing)
        end = len(self._text) if size is None or size < 0 else self._pos + size // 4
        chunk, self._pos = self._text[self._pos:end], min(end, len(self._text))
        return chunk.encode("utf-8", "replace")
