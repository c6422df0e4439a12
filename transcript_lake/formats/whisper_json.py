"""OpenAI Whisper's JSON output: ``{"text": ..., "segments": [{"start", "end", "text", ...}], "language"}``.

``whisper.transcribe`` writes the whole transcript (``text``) before ``segments``, so the sniffer
streams the top-level keys (:func:`base.json_events`) instead of looking for ``"segments"`` in a
prefix: a long talk puts it megabytes in.
"""

from __future__ import annotations

import json
import re
from typing import Iterator

from .base import Problem, excerpt, iter_json_array, json_events, segments_from_dicts, single_video

NAME = "whisper_json"


def sniff(text: str, path: str) -> bool:
    """A JSON object with a top-level ``segments`` key, wherever it lies.

    >>> sniff('{"text": "' + "x" * 100_000 + '", "segments": []}', "a.json")
    True
    """
    if not text[:4096].lstrip("\ufeff \t\r\n").startswith("{"):
        return False
    for depth, event, value in json_events(text.lstrip("\ufeff")):
        if depth == 1 and event == "map_key" and value == "segments":
            return True
        if depth == 0 and event == "end_map":
            return False
    return False


def parse(text: str, meta: dict) -> Iterator:
    try:
        doc = json.loads(text)
        items = doc.get("segments") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            yield Problem("file", "whisper_json_without_segments: no `segments` list at the top level", excerpt(text))
            return
    except RecursionError:
        yield Problem("file", "invalid_json: nested too deeply", excerpt(text))
        return
    except json.JSONDecodeError as exc:
        # Salvage the complete segments of a truncated file.
        m = re.search(r'"segments"\s*:\s*', text)
        items, error = iter_json_array(text[m.end():]) if m else ([], "no segments key")
        yield Problem("file", f"invalid_json: {exc.msg} at char {exc.pos}; kept {len(items)} complete segments",
                      excerpt(text[max(0, exc.pos - 100): exc.pos + 100]), action="repaired" if items else "dropped")
        if not items:
            return
    segments = []
    for seg in segments_from_dicts(items, "file"):
        if isinstance(seg, Problem):
            yield seg
        else:
            segments.append(seg)
    if not segments:
        yield Problem("file", "no_segments: whisper_json `segments` list is empty", action="flagged")
    yield single_video(meta, segments)
