"""Format adapters, auto-detected by sniffing content (the manifest may name one instead).

Example::

    from transcript_lake.formats import parse_bytes
    result = parse_bytes(open("talk.srt", "rb").read(), "talk.srt", meta={"video_id": "abc"})
    result.format, [type(r).__name__ for r in result.records]
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Iterable, Optional

from . import (comments, hf_viewer, rolling_captions, sbv, srt, webvtt, whisper_cpp, whisper_json, whisper_tsv,
               yt_transcript_api)
from .base import CommentRecord, Problem, Segment, VideoRecord, excerpt

# Sniff order matters: specific signatures first, the free-text comments format last.
ADAPTERS = {
    m.NAME: m
    for m in (webvtt, whisper_json, yt_transcript_api, whisper_tsv, hf_viewer, srt, sbv, whisper_cpp,
              rolling_captions, comments)
}
FORMATS = tuple(sorted(ADAPTERS))

__all__ = ["ADAPTERS", "FORMATS", "ParseResult", "parse_bytes", "parse_file", "read_text", "sniff", "decode",
           "format_counts", "VideoRecord", "CommentRecord", "Problem", "Segment"]


@dataclass
class ParseResult:
    format: Optional[str]
    detected_by: str  # manifest | sniff | none
    records: list = field(default_factory=list)


def decode(data: bytes) -> tuple[str, list[Problem]]:
    """Bytes -> text with ``\\n`` line ends. BOMs are honoured; invalid UTF-8 is replaced (and reported)."""
    problems: list[Problem] = []
    encoding = bom_encoding(data)
    if encoding == "utf-8-sig":
        data = data[len(codecs.BOM_UTF8):]
    elif encoding:
        try:
            return _newlines(data.decode(encoding)), problems
        except UnicodeDecodeError as exc:
            problems.append(Problem("file", f"bad_{encoding.replace('-', '')}: {exc.reason} at byte {exc.start}",
                                    action="repaired"))
            return _newlines(data.decode(encoding, errors="replace")), problems
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


# Longest first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def bom_encoding(head: bytes) -> str | None:
    """The codec a byte-order mark names (it decodes and drops the mark), or None without one.

    >>> bom_encoding(b"\\xff\\xfe\\x00\\x00W\\x00\\x00\\x00"), bom_encoding(b"\\xff\\xfeW\\x00"), bom_encoding(b"WEBVTT")
    ('utf-32', 'utf-16', None)
    """
    return next((encoding for bom, encoding in _BOMS if head.startswith(bom)), None)


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


_bad_bytes: list[int] = []  # positions reported by the decoder's error handler (one file at a time per worker)


def _count_and_replace(exc: UnicodeDecodeError):
    _bad_bytes.append(exc.start)
    return "\ufffd", exc.end


codecs.register_error("transcript_lake.replace", _count_and_replace)


@dataclass
class TextRead:
    text: str
    problems: list
    sha256: str
    size: int


def read_text(path: str, max_line_chars: int, chunk_bytes: int = 1 << 20) -> TextRead:
    """Stream a file into text with ``\\n`` line ends, hashing the bytes as they are read.

    Memory stays bounded by the kept text plus ``max_line_chars``: a longer line is never held
    whole (its pieces are dropped once it passes the limit, only its first characters are kept for
    the quarantine excerpt); it is replaced by an empty line,
    so line-based formats stay aligned, and reported as a ``line_too_long`` problem. BOMs, UTF-16,
    invalid UTF-8 and NUL bytes are handled as :func:`decode` does.
    """
    problems: list[Problem] = []
    digest = hashlib.sha256()
    kept: list[str] = []        # finished text
    line: list[str] = []        # the current line, while it is short enough to keep
    line_chars = 0
    skipping: dict | None = None  # the current line, once it is too long: counted, not kept
    line_no = 1
    size = nuls = 0
    del _bad_bytes[:]
    with open(path, "rb") as fh:
        head = fh.read(max(chunk_bytes, 4))  # enough to see a BOM
        encoding = bom_encoding(head) or "utf-8"
        decoder = codecs.getincrementaldecoder(encoding)(errors="transcript_lake.replace")
        carry = ""
        data = head
        while True:
            digest.update(data)
            size += len(data)
            final = not data
            text = carry + decoder.decode(data, final=final)
            carry = ""
            if text.endswith("\r") and not final:  # a CRLF may be split between two chunks
                carry, text = "\r", text[:-1]
            if "\x00" in text:
                nuls += text.count("\x00")
                text = text.replace("\x00", "")
            text = _newlines(text)
            pos = 0
            while pos < len(text):
                nl = text.find("\n", pos)
                end = len(text) if nl < 0 else nl
                piece = text[pos:end]
                if skipping is not None:
                    skipping["chars"] += len(piece)
                elif line_chars + len(piece) > max_line_chars:
                    first = line[0] if line else piece  # no join: the line's pieces are dropped here
                    skipping = {"line": line_no, "chars": line_chars + len(piece), "excerpt": first[:EXCERPT_LIMIT]}
                    line, line_chars = [], 0
                else:
                    line.append(piece)
                    line_chars += len(piece)
                if nl < 0:
                    break
                if skipping is not None:
                    problems.append(_too_long(skipping, max_line_chars))
                    skipping = None
                else:
                    kept.extend(line)
                line, line_chars = [], 0
                kept.append("\n")
                line_no += 1
                pos = nl + 1
            if final:
                break
            data = fh.read(chunk_bytes)
    if skipping is not None:
        problems.append(_too_long(skipping, max_line_chars))
    else:
        kept.extend(line)
    if _bad_bytes:
        problems.insert(0, Problem(
            f"byte {_bad_bytes[0]}", f"non_utf8: {len(_bad_bytes)} undecodable byte sequence(s) replaced by U+FFFD "
            f"(first near byte {_bad_bytes[0]})", action="repaired"))
    if nuls:
        problems.append(Problem("file", "nul_bytes: NUL characters removed", action="repaired"))
    return TextRead("".join(kept), problems, digest.hexdigest(), size)


EXCERPT_LIMIT = 2000


def _too_long(skipping: dict, limit: int) -> Problem:
    return Problem(f"line {skipping['line']}",
                   f"line_too_long: {skipping['chars']:,} characters > ingest.max_line_mb ({limit:,}); "
                   "the line was skipped (replaced by an empty line), the rest of the file parsed",
                   excerpt(skipping["excerpt"]), action="dropped")


def sniff(text: str, path: str) -> Optional[str]:
    """Name of the first adapter that recognises the text's structure, else None. Each adapter reads
    only what it needs: the first lines of a line format, the keys of a JSON document wherever they lie.

    >>> sniff("1\\n00:00:01.000 --> 00:00:02.000\\nhi\\n", "a.txt"), sniff('{"text": "hi", "segments": []}', "x")
    ('srt', 'whisper_json')
    """
    for name, adapter in ADAPTERS.items():
        try:
            if adapter.sniff(text, path):
                return name
        except Exception:  # a sniffer must never take the job down
            continue
    return None


_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def _fill_metadata(record: VideoRecord, meta: dict, path: str, number: Optional[int] = None) -> None:
    """Manifest metadata fills what the file lacks; a file-name id is the last resort (numbered when
    several videos of one file have none, so they stay apart)."""
    for key in ("channel", "description", "published_at") if number else (
            "video_id", "title", "channel", "url", "description", "published_at"):
        if getattr(record, key) in (None, "") and meta.get(key) not in (None, ""):
            setattr(record, key, str(meta[key]))
    stem = PurePosixPath(path).name.split(".")[0]
    suffix = f"-{number}" if number else ""
    if not record.video_id:
        record.video_id = (_SLUG.sub("-", stem).strip("-") or "unnamed") + suffix
    if not record.title:
        record.title = stem + suffix
    if not record.url and re.fullmatch(r"[A-Za-z0-9_-]{11}", record.video_id):
        record.url = f"https://www.youtube.com/watch?v={record.video_id}"


def parse_bytes(data: bytes, path: str, meta: Optional[dict] = None, fmt: Optional[str] = None) -> ParseResult:
    """Decode, pick the adapter (``fmt`` or sniffed) and parse. Never raises on bad input:
    every problem is a :class:`Problem` record in the result."""
    text, problems = decode(data)
    return parse_text(text, problems, path, meta, fmt)


def parse_file(path: str, meta: Optional[dict] = None, fmt: Optional[str] = None,
               max_line_chars: int = 64 * 2**20) -> tuple[ParseResult, TextRead]:
    """Like :func:`parse_bytes` for a file on disk, streamed by :func:`read_text` (bounded memory
    for huge lines). Returns the result and the read (its sha256, to detect a file that changed)."""
    read = read_text(path, max_line_chars)
    text, read.text = read.text, ""  # the adapters hold the only reference
    return parse_text(text, read.problems, path, meta, fmt), read


def parse_text(text: str, problems: list, path: str, meta: Optional[dict] = None, fmt: Optional[str] = None) -> ParseResult:
    meta = dict(meta or {})
    if fmt and fmt not in ADAPTERS:
        return ParseResult(None, "manifest", problems + [Problem("file", f"unknown_format_name: {fmt!r} is not one of {', '.join(FORMATS)}")])
    if not text.strip():
        return ParseResult(fmt, "manifest" if fmt else "none", problems + [Problem("file", "empty_file: no content")])
    detected_by = "manifest" if fmt else "sniff"
    fmt = fmt or sniff(text, path)
    if fmt is None:
        return ParseResult(None, "none", problems + [Problem(
            "file", f"unknown_format: content matches none of {', '.join(FORMATS)}; name the format in the manifest",
            excerpt(text[:300]))])
    records: list = list(problems)
    try:
        for record in ADAPTERS[fmt].parse(text, meta):
            records.append(record)
    except Exception as exc:  # an adapter bug must not lose the rest of the run
        records.append(Problem("file", f"parser_error: {fmt} failed with {type(exc).__name__}: {exc}", excerpt(text[:300])))
    videos = [r for r in records if isinstance(r, VideoRecord)]
    unnamed = [r for r in videos if not r.video_id]
    for number, record in enumerate(videos, start=1):
        _fill_metadata(record, meta, path, number if len(unnamed) > 1 and record in unnamed else None)
    records += _unexplained_empty_videos(records, fmt)
    return ParseResult(fmt, detected_by, records)


def _unexplained_empty_videos(records: list, fmt: str) -> list[Problem]:
    """A ``no_segments`` Problem for each video without segments that its adapter did not explain:
    an empty result is never silent."""
    explained = {r.record_ref for r in records if isinstance(r, Problem) and r.reason.startswith("no_segments")}
    return [Problem(r.record_ref, f"no_segments: {fmt} video {r.video_id} has no segments", action="flagged")
            for r in records if isinstance(r, VideoRecord) and not r.segments and r.record_ref not in explained]


def format_counts(formats: Iterable[Optional[str]]) -> dict[str, int]:
    """Run-summary counts of files per format (``files_<format>``; ``files_unknown`` for none).

    >>> format_counts(["srt", "webvtt", "srt", None])
    {'files_srt': 2, 'files_unknown': 1, 'files_webvtt': 1}
    """
    counts = Counter(f"files_{fmt or 'unknown'}" for fmt in formats)
    return dict(sorted(counts.items()))
