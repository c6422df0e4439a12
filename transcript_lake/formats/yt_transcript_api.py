"""youtube-transcript-api JSON: ``[{"text": ..., "start": 1.23, "duration": 4.56}, ...]``."""

from __future__ import annotations

import re
from typing import Iterator

from .base import Problem, excerpt, iter_json_array, segments_from_dicts, single_video

NAME = "yt_transcript_api"


def sniff(head: str, path: str) -> bool:
    s = head.lstrip("\ufeff \n\t")
    return s.startswith("[") and bool(re.search(r'"duration"\s*:', head)) and '"start"' in head


def parse(text: str, meta: dict) -> Iterator:
    items, error = iter_json_array(text)
    if error:
        yield Problem("file", f"invalid_json: {error}", excerpt(text[-200:]), action="repaired" if items else "dropped")
        if not items:
            return
    segments = []
    for seg in segments_from_dicts(items, "file", end_key="duration"):
        if isinstance(seg, Problem):
            yield seg
        else:
            segments.append(seg)
    yield single_video(meta, segments)
