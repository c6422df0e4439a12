"""youtube-transcript-api output: ``[{"text": ..., "start": 1.23, "duration": 4.56}, ...]`` (one video).

Also what its CLI writes: ``--format json`` prints one list per video (``[[{...}, ...], [{...}, ...]]``)
and ``--format pretty`` the same data as a Python literal (single quotes). The files carry no video
ids: for several videos the manifest's ``video_id`` may list them in order (``"id1 id2"``), else they
are named after the file (``<file>-1``, ``<file>-2``, ...).
"""

from __future__ import annotations

import ast
import re
from typing import Any, Iterator

from .base import Problem, excerpt, iter_json_array, json_events, segments_from_dicts, single_video

NAME = "yt_transcript_api"

_PRETTY = re.compile(r"\[\s*(?:\[\s*)?\{\s*'(?:duration|start|text)'\s*:")
_SNIPPET_KEYS = {"start", "duration"}
_IDS = re.compile(r"[^\s,]+")  # the manifest's video_id: "id1 id2" or "id1,id2" for a file of several videos


def sniff(text: str, path: str) -> bool:
    """A JSON list of snippets, or a list of such lists, judged by the keys of the first snippet.

    >>> sniff('[[{"text": "hi", "start": 0.0, "duration": 1.5}]]', "cli.json")
    True
    """
    head = text[:4096].lstrip("\ufeff \t\r\n")
    if _PRETTY.match(head):
        return True
    if not head.startswith("["):
        return False
    keys: set[str] = set()
    snippet = None  # the depth of the first snippet object: 1 in a list of snippets, 2 in a list per video
    for depth, event, value in json_events(text.lstrip("\ufeff")):
        if snippet is None:
            if event == "start_map" and depth in (1, 2):
                snippet = depth
            elif event != "start_array" or depth > 1:
                return False
        elif depth == snippet + 1 and event == "map_key":
            keys.add(value)
        elif depth == snippet and event == "end_map":
            return _SNIPPET_KEYS <= keys
    return _SNIPPET_KEYS <= keys  # a truncated file: the keys seen so far


def _read(text: str) -> tuple[list[Any], Problem | None]:
    """The top-level items and a Problem if the document did not read whole."""
    if _PRETTY.match(text[:4096].lstrip("\ufeff \t\r\n")):
        try:
            doc = ast.literal_eval(text.strip().lstrip("\ufeff"))
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            return [], Problem("file", f"invalid_python_literal: {type(exc).__name__}: {exc}", excerpt(text[:200]))
        if isinstance(doc, list):
            return doc, None
        return [], Problem("file", "yt_transcript_api_not_a_list: the literal is not a list", excerpt(text[:200]))
    items, error = iter_json_array(text)
    if error:
        return items, Problem("file", f"invalid_json: {error}", excerpt(text[-200:]), action="repaired" if items else "dropped")
    return items, None


def _video(items: list[Any], meta: dict, ref: str) -> Iterator:
    segments = []
    for seg in segments_from_dicts(items, ref, end_key="duration"):
        if isinstance(seg, Problem):
            yield seg
        else:
            segments.append(seg)
    if not segments:
        yield Problem(ref, "no_segments: yt_transcript_api transcript holds no snippet", action="flagged")
    yield single_video(meta, segments, ref)


def parse(text: str, meta: dict) -> Iterator:
    items, problem = _read(text)
    if problem:
        yield problem
        if not items:
            return
    if not items or not isinstance(items[0], list):  # one video: a list of snippets
        yield from _video(items, meta, "file")
        return
    transcripts = [item for item in items if isinstance(item, list)]
    for i, item in enumerate(items):
        if not isinstance(item, list):
            yield Problem(f"item {i}", "transcript_not_a_list: expected one list of snippets per video", excerpt(repr(item)))
    if len(transcripts) == 1:
        yield from _video(transcripts[0], meta, "video 1")
        return
    ids = _IDS.findall(str(meta.get("video_id") or ""))
    if len(ids) != len(transcripts):
        if ids:
            yield Problem("file", f"video_ids_mismatch: {len(transcripts)} transcripts, the manifest's video_id names "
                          f"{len(ids)}; videos named after the file", action="flagged")
        ids = [None] * len(transcripts)  # named after the file by parse_text
    per_video = {k: v for k, v in meta.items() if k not in ("video_id", "url", "title")}
    for k, (video_id, transcript) in enumerate(zip(ids, transcripts), start=1):
        yield from _video(transcript, {**per_video, "video_id": video_id}, f"video {k}")
