"""YouTube comments, one per line. Replies start with ``@@handle``; cited positions (``at 7:06``,
``19:30 Attention is ...``) are parsed into seconds. Duplicates are removed in the segments stage."""

from __future__ import annotations

import re
from typing import Iterator

from .base import CommentRecord, first_lines, parse_clock

NAME = "comments"

_REPLY = re.compile(r"^@@?([\w.\-]+)\s+")
_CITE = re.compile(r"(?<![\d:.,/])(\d{1,2}:\d{2}(?::\d{2})?)(?![\d:]|[.,]\d)")


def sniff(text: str, path: str) -> bool:
    # Free text has no signature: only a file named like comments, or with @@ replies, qualifies.
    return "comment" in path.lower().rsplit("/", 1)[-1] or any(l.startswith("@@") for l in first_lines(text, 200))


def cited_seconds(text: str) -> list[float]:
    out = []
    for m in _CITE.finditer(text):
        try:
            out.append(parse_clock(m.group(1)))
        except ValueError:
            continue
    return out


def parse(text: str, meta: dict) -> Iterator[CommentRecord]:
    for n, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        reply = _REPLY.match(line)
        yield CommentRecord(
            record_ref=f"line {n}",
            text=line,
            is_reply=bool(reply),
            reply_to=reply.group(1) if reply else None,
            cited_s=cited_seconds(line),
        )
