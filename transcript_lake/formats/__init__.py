"""Format adapters, auto-detected by sniffing content (the manifest may name one instead).

Example::

    from transcript_lake.formats import parse_bytes
    result = parse_bytes(open("talk.srt", "rb").read(), "talk.srt", meta={"video_id": "abc"})
    result.format, [type(r).__name__ for r in result.records]
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Optional

from . import (comments, hf_viewer, rolling_captions, srt, webvtt, whisper_cpp, whisper_json,
               yt_transcript_api)
from .base import CommentRecord, Problem, Segment, VideoRecord, excerpt

# Sniff order matters: specific signatures first, the free-text comments format last.
ADAPTERS = {
    m.NAME: m
    for m in (webvtt, whisper_json, yt_transcript_api, hf_viewer, srt, whisper_cpp, rolling_captions, comments)
}
FORMATS = tuple(sorted(ADAPTERS))
SNIFF_BYTES = 64 * 1024

__all__ = ["ADAPTERS", "FORMATS", "ParseResult", "parse_bytes", "sniff", "decode",
           "VideoRecord", "CommentRecord", "Problem", "Segment"]


@dataclass
class ParseResult:
    format: Optional[str]
    detected_by: str  # manifest | sniff | none
    records: list = field(default_factory=list)


def decode(data: bytes) -> tuple[str, list[Problem]]:
    """Bytes -> text with ``\\n`` line ends. BOMs are honoured; invalid UTF-8 is replaced (and reported)."""
    problems: list[Problem] = []
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _newlines(data.decode("utf-16")), problems
        except UnicodeDecodeError as exc:
            problems.append(Problem("file", f"bad_utf16: {exc.reason} at byte {exc.start}", action="repaired"))
            return _newlines(data.decode("utf-16", errors="replace")), problems
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        problems.append(Problem(
            f"byte {exc.start}",
            f"non_utf8: {bad} undecodable byte sequence(s) replaced by U+FFFD (first at byte {exc.start})",
            excerpt(data[max(0, exc.start - 60): exc.start + 60].decode("utf-8", errors="replace")),
            action="repaired",
        ))
    if "\x00" in text:
        problems.append(Problem("file", "nul_bytes: NUL characters removed", action="repaired"))
        text = text.replace("\x00", "")
    return _newlines(text), problems


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def sniff(head: str, path: str) -> Optional[str]:
    """Name of the first adapter whose signature matches the file's head, else None."""
    for name, adapter in ADAPTERS.items():
        try:
            if adapter.sniff(head, path):
                return name
        except Exception:  # a sniffer must never take the job down
            continue
    return None


_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def _fill_metadata(record: VideoRecord, meta: dict, path: str) -> None:
    """Manifest metadata fills what the file lacks; a file-name id is the last resort."""
    for key in ("video_id", "title", "channel", "url", "description", "published_at"):
        if getattr(record, key) in (None, "") and meta.get(key) not in (None, ""):
            setattr(record, key, str(meta[key]))
    stem = PurePosixPath(path).name.split(".")[0]
    if not record.video_id:
        record.video_id = _SLUG.sub("-", stem).strip("-") or "unnamed"
    if not record.title:
        record.title = stem
    if not record.url and re.fullmatch(r"[A-Za-z0-9_-]{11}", record.video_id):
        record.url = f"https://www.youtube.com/watch?v={record.video_id}"


def parse_bytes(data: bytes, path: str, meta: Optional[dict] = None, fmt: Optional[str] = None) -> ParseResult:
    """Decode, pick the adapter (``fmt`` or sniffed) and parse. Never raises on bad input:
    every problem is a :class:`Problem` record in the result."""
    meta = dict(meta or {})
    text, problems = decode(data)
    if fmt and fmt not in ADAPTERS:
        return ParseResult(None, "manifest", problems + [Problem("file", f"unknown_format_name: {fmt!r} is not one of {', '.join(FORMATS)}")])
    if not text.strip():
        return ParseResult(fmt, "manifest" if fmt else "none", problems + [Problem("file", "empty_file: no content")])
    detected_by = "manifest" if fmt else "sniff"
    fmt = fmt or sniff(text[:SNIFF_BYTES], path)
    if fmt is None:
        return ParseResult(None, "none", problems + [Problem(
            "file", f"unknown_format: content matches none of {', '.join(FORMATS)}; name the format in the manifest",
            excerpt(text[:300]))])
    records: list = list(problems)
    try:
        for record in ADAPTERS[fmt].parse(text, meta):
            if isinstance(record, VideoRecord):
                _fill_metadata(record, meta, path)
            elif isinstance(record, CommentRecord) and meta.get("video_id") is None:
                pass
            records.append(record)
    except Exception as exc:  # an adapter bug must not lose the rest of the run
        records.append(Problem("file", f"parser_error: {fmt} failed with {type(exc).__name__}: {exc}", excerpt(text[:300])))
    return ParseResult(fmt, detected_by, records)
