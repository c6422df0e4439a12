"""Text export of a Hugging Face dataset viewer: a header block, then one line per column per record.

Header: for each column its name, its dtype and 1-2 stats lines (``CHANNEL_NAME / stringclasses /
1 value``, ``URL / stringlengths / 43 / 43``). The bundled file's header is 23 lines (its README says
22: the first column has one stats line, the others two), so the header is parsed, not counted.
Records follow, one line per column in header order. A record whose URL or SEGMENTS line is not where
it should be is quarantined and the parser re-synchronises on the next well-formed record.
"""

from __future__ import annotations

import re
from typing import Iterator

from .base import (CommentRecord, Problem, Segment, VideoRecord, excerpt, first_lines, iter_json_array,
                   segments_from_dicts, youtube_id)

NAME = "hf_viewer"

_COLUMN = re.compile(r"^[A-Z][A-Z0-9_]*$")
_DTYPE = re.compile(r"^(string|int|float|bool|list|dict|struct|sequence|timestamp|date)[a-z0-9]*$")
_STAT = re.compile(r"^(\d+(\.\d+)?[kKMB]?|\d+ values?|null|true|false|-?\d+(\.\d+)?(e[+-]?\d+)?)$")
REQUIRED = ("URL", "TITLE", "SEGMENTS")
KNOWN = {"CHANNEL_NAME", "URL", "TITLE", "DESCRIPTION", "TRANSCRIPTION", "SEGMENTS"}
PUBLISHED = ("PUBLISHED_AT", "UPLOAD_DATE", "PUBLISH_DATE")  # a dated export fills published_at


def sniff(text: str, path: str) -> bool:
    lines = first_lines(text.lstrip("\ufeff"), 3)
    return len(lines) >= 3 and bool(_COLUMN.match(lines[0].strip())) and bool(_DTYPE.match(lines[1].strip()))


def parse_header(lines: list[str]) -> tuple[list[str], int]:
    """Column names in order and the index of the first record line."""
    columns: list[str] = []
    i = 0
    while i + 1 < len(lines) and _COLUMN.match(lines[i].strip()) and _DTYPE.match(lines[i + 1].strip()):
        columns.append(lines[i].strip())
        i += 2
        while i < len(lines) and _STAT.match(lines[i].strip()) and not (
            _COLUMN.match(lines[i].strip()) and i + 1 < len(lines) and _DTYPE.match(lines[i + 1].strip())
        ):
            i += 1
    return columns, i


def parse(text: str, meta: dict) -> Iterator[VideoRecord | CommentRecord | Problem]:
    lines = text.split("\n")
    columns, first = parse_header(lines)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        yield Problem("header", f"hf_viewer_header: columns {missing} missing from header {columns}", excerpt("\n".join(lines[:30])))
        return
    width = len(columns)
    pos = {c: columns.index(c) for c in columns}

    def well_formed(i: int) -> bool:
        if i + width > len(lines):
            return False
        url = lines[i + pos["URL"]].strip()
        seg = lines[i + pos["SEGMENTS"]].lstrip()
        return url.startswith("http") and seg.startswith("[")

    i = first
    while i < len(lines):
        if not lines[i].strip() and all(not l.strip() for l in lines[i:]):
            break  # trailing blank lines
        if not well_formed(i):
            j = i + 1
            while j < len(lines) and not well_formed(j):
                j += 1
            yield Problem(
                f"lines {i + 1}-{j}",
                f"hf_viewer_misaligned_record: {j - i} line(s) do not form a {width}-line record (URL/SEGMENTS not in place); skipped to the next well-formed record",
                excerpt(" | ".join(lines[i:min(j, i + width)])),
            )
            i = j
            continue
        yield from _record(lines[i:i + width], pos, i, meta)
        i += width


def _record(fields: list[str], pos: dict, i: int, meta: dict) -> Iterator[VideoRecord | Problem]:
    ref = f"line {i + 1}"
    url = fields[pos["URL"]].strip()
    vid = youtube_id(url)
    if not vid:
        yield Problem(ref, f"no_video_id: URL {url!r} holds no YouTube id", excerpt(url))
        return
    seg_line = fields[pos["SEGMENTS"]]
    items, error = iter_json_array(seg_line)
    if error:
        yield Problem(
            f"{ref} SEGMENTS",
            f"invalid_segments_json: {error}",
            excerpt(seg_line[-200:] if "truncated" in error else seg_line),
            action="repaired" if items else "dropped",
        )
        if not items:
            return
    segments: list[Segment] = []
    for seg in segments_from_dicts(items, ref):
        if isinstance(seg, Problem):
            yield seg
        else:
            segments.append(seg)

    def col(name: str):
        return fields[pos[name]].strip() if name in pos else None

    yield VideoRecord(
        record_ref=ref,
        video_id=vid,
        title=col("TITLE") or meta.get("title"),
        channel=col("CHANNEL_NAME") or meta.get("channel"),
        url=url,
        description=col("DESCRIPTION"),
        published_at=next((col(c) for c in PUBLISHED if col(c)), None) or meta.get("published_at"),
        segments=segments,
        # a column the export gained: kept in raw_records.extra rather than dropped
        extra={c.lower(): fields[i].strip()[:10_000] for c, i in pos.items() if c not in KNOWN and c not in PUBLISHED},
    )
