"""OpenAI Whisper's JSON output: ``{"text": ..., "segments": [{"start", "end", "text", ...}], "language"}``."""

from __future__ import annotations

import json
import re
from typing import Iterator

from .base import Problem, excerpt, iter_json_array, segments_from_dicts, single_video

NAME = "whisper_json"


def sniff(head: str, path: str) -> bool:
    return head.lstrip("\ufeff \n\t").startswith("{") and '"segments"' in head


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
    yield single_video(meta, segments)
