"""The format conformance comparison, shared by tests/test_formats_differential.py and
benchmarks/formats_conformance.py: how the reference parsers read a file, how our adapters read it,
and when the two agree. The policy and the allowed normalisations are stated in docs/formats.md.

A file *agrees* with a reference when, after the normalisations, both give the same segments: same
count, same start and end to the millisecond, same text. A reference that refuses a file (raises)
agrees with an adapter that yields no segment and says why (a Problem).

Example::

    from formats_reference import agrees, named_set
    for case in named_set():
        print(case.name, agrees(case, case.primary))
"""

from __future__ import annotations

import ast
import io
import json
import logging
import random
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable, Optional

from transcript_lake.formats import Problem, VideoRecord, decode, parse_bytes
from transcript_lake.formats.captions import Cue, cues_to_segments

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
PEERS = FIXTURES / "peers"
TOOLS = FIXTURES / "formats"

logging.getLogger("srt").setLevel(logging.ERROR)  # srt logs every skipped block with ignore_errors

Key = tuple  # (start_ms, end_ms, text)


# --- the reference parsers: text -> cues (None: the reference refuses the file) -------------------------

def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def webvtt_py(text: str, fmt: str) -> Optional[list[Cue]]:
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    try:
        if fmt == "webvtt":
            captions = webvtt.from_string(text).captions
        else:
            captions = webvtt.WebVTT.from_buffer(io.StringIO(text), format={"srt": "srt", "sbv": "sbv"}[fmt]).captions
    except (MalformedFileError, MalformedCaptionError):
        return None
    return [Cue(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, list(c.lines))
            for c in captions]


def srt_lib(text: str, fmt: str) -> Optional[list[Cue]]:
    import srt

    try:  # ignore_errors: skip garbage between cues, as our reader does (it also reports it)
        subs = list(srt.parse(text, ignore_errors=True))
    except (srt.SRTParseError, ValueError):
        return None
    return [Cue(s.start / timedelta(milliseconds=1) / 1000, s.end / timedelta(milliseconds=1) / 1000,
                s.content.split("\n")) for s in subs]


def pysrt_lib(text: str, fmt: str) -> Optional[list[Cue]]:
    import pysrt

    try:
        items = pysrt.SubRipFile.from_string(text)
    except Exception:  # pysrt raises its own and plain errors alike on bad input
        return None
    return [Cue(i.start.ordinal / 1000, i.end.ordinal / 1000, i.text.split("\n")) for i in items]


def json_data(text: str, fmt: str) -> Optional[list[list[Key]]]:
    """The writers' own data, read back with the json module (``--format pretty``: as a Python
    literal), one list of keys per video."""
    try:
        doc = ast.literal_eval(text) if text.lstrip().startswith(("[{'", "[[{'")) else json.loads(text)
    except (ValueError, SyntaxError):
        return None
    if fmt == "whisper_json":
        return [[(_ms(s["start"]), _ms(s["end"]), s["text"]) for s in doc["segments"]]]
    videos = doc if doc and isinstance(doc[0], list) else [doc]
    return [[(_ms(s["start"]), _ms(s["start"] + s["duration"]), s["text"]) for s in video] for video in videos]


def tsv_data(text: str, fmt: str) -> Optional[list[list[Key]]]:
    rows = [line.split("\t", 2) for line in text.split("\n")[1:] if line.strip()]
    return [[(int(a), int(b), c) for a, b, c in rows]]


REFERENCES: dict[str, Callable] = {"webvtt-py": webvtt_py, "srt": srt_lib, "pysrt": pysrt_lib, "json": json_data,
                                   "tsv": tsv_data}
# per format: the primary reference first
BY_FORMAT = {"webvtt": ("webvtt-py",), "srt": ("srt", "pysrt", "webvtt-py"), "sbv": ("webvtt-py",),
             "whisper_json": ("json",), "yt_transcript_api": ("json",), "whisper_tsv": ("tsv",)}
CUE_REFERENCES = {"webvtt-py", "srt", "pysrt"}


# --- normalisation (docs/formats.md, "Comparing with the reference parsers") ------------------------------

def normal_text(text: Optional[str]) -> str:
    """Whitespace collapsed: readers differ in line joining ("\\n" vs " ") and stripping."""
    return " ".join((text or "").split())


def keys(segments) -> list[Key]:
    """Segments -> comparison keys; segments without words are left out (the segments stage drops
    them with a reason either way, and some references drop them unsaid)."""
    out = []
    for s in segments:
        text = normal_text(s.text if hasattr(s, "text") else s[2])
        if text:
            start, end = (s.start_s, s.end_s) if hasattr(s, "start_s") else (s[0] / 1000, s[1] / 1000)
            out.append((_ms(start), _ms(end), text))
    return out


def reference_keys(reference: str, text: str, fmt: str) -> Optional[list[list[Key]]]:
    """What a reference reads, one key list per video; cue readers' cues go through our cue policy
    (tags, entities, roll-up) so that only the reading is compared."""
    read = REFERENCES[reference](text, fmt)
    if read is None:
        return None
    if reference in CUE_REFERENCES:
        return [keys(cues_to_segments(read))]
    return [keys(video) for video in read]


# --- the named set ---------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str          # where it comes from, e.g. "peers/pysrt/utf-8.srt" or "generated/srt/dot_ms/3"
    fmt: str           # the format it is written in (what the manifest would name)
    data: bytes
    origin: str        # peer fixture | tool output | generated
    references: tuple = field(default=())

    @property
    def primary(self) -> str:
        return self.references[0]


_EXT = {".vtt": "webvtt", ".srt": "srt", ".sbv": "sbv", ".tsv": "whisper_tsv"}


def _fmt_of(path: Path) -> Optional[str]:
    if path.suffix == ".json":
        return "whisper_json" if path.parent.name == "whisper" else "yt_transcript_api"
    if path.name.endswith(".pretty.txt"):
        return "yt_transcript_api"
    return _EXT.get(path.suffix)


def fixture_cases() -> list[Case]:
    """Peer fixtures (webvtt-py tests/subtitles, pysrt tests/static, cdown/srt's files) and the tool
    outputs generated once (Whisper's writers, youtube-transcript-api's formatters). Files in a format
    without timestamps (Whisper's and youtube-transcript-api's plain text) have no reference."""
    cases = []
    for origin, root in (("peer fixture", PEERS), ("tool output", TOOLS / "whisper"), ("tool output", TOOLS / "yt-api")):
        for path in sorted(root.rglob("*")):
            fmt = _fmt_of(path)
            if path.is_file() and fmt:
                cases.append(Case(str(path.relative_to(FIXTURES)), fmt, path.read_bytes(), origin, BY_FORMAT[fmt]))
    return cases


# Variants of a written SRT file that cdown/srt's tests (and pysrt's fixtures) show real files have.
def srt_variants(text: str, rng: random.Random) -> dict[str, str]:
    blocks = text.split("\n\n")

    def per_timing_line(f):
        return "\n".join(f(line) if "-->" in line else line for line in text.split("\n"))

    return {
        "composed": text,
        "dot_ms": per_timing_line(lambda l: l.replace(",", ".")),
        "fullwidth": per_timing_line(lambda l: l.replace(",", "，", 1).replace(":", "：", 1)),
        "no_ms": per_timing_line(lambda l: re.sub(r",\d{3}", "", l)),
        "spaced_arrow": per_timing_line(lambda l: l.replace("-->", "- >")),
        "short_ms": per_timing_line(lambda l: l.replace(",0", ",").replace(",0", ",")),
        "no_index": "\n\n".join(b.split("\n", 1)[1] if "\n" in b else b for b in blocks),
        "negative_index": "\n\n".join("-" + b for b in blocks if b),
        "dotted_index": "\n\n".join(b.replace("\n", ".5\n", 1) for b in blocks if b),
        "no_blank_lines": "\n".join(b for b in blocks if b),
        "crlf": text.replace("\n", "\r\n"),
        "no_final_newline": text.rstrip("\n"),
        "utf32": text,  # encoded as UTF-32 with BOM below
        "utf16": text,
    }


_WORDS = ("hello world the model layer café naïve 日本語 Tom & Jerry quoted \"x\" 42 - Non ! Si -> a<b "
          "[music] ♪ NOTES STYLE-1 REGION").split()


def _random_lines(rng: random.Random) -> list[str]:
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 3))]


def _random_cues(rng: random.Random, n: int) -> list[tuple[int, int, list[str]]]:
    t, cues = 0, []
    for _ in range(n):
        start = t + rng.choice([0, 0, 40, 500, 1234])
        end = start + rng.randint(1, 4000)
        cues.append((start, end, _random_lines(rng)))
        t = end if rng.random() < 0.8 else start + 10  # some cues overlap the next
    return cues


def generated_cases(n_files: int = 20, seed: int = 17) -> list[Case]:
    """Cue lists drawn at random, written by the reference writers (srt.compose, webvtt-py), in the
    variants real files show: the adapters must read back what was written."""
    import srt
    import webvtt

    rng = random.Random(seed)
    cases = []
    for i in range(n_files):
        cues = _random_cues(rng, rng.randint(1, 12))
        composed = srt.compose([srt.Subtitle(k + 1, timedelta(milliseconds=a), timedelta(milliseconds=b), "\n".join(lines))
                                for k, (a, b, lines) in enumerate(cues)], reindex=False)
        for variant, text in srt_variants(composed, rng).items():
            encoding = {"utf32": "utf-32", "utf16": "utf-16"}.get(variant, "utf-8")
            cases.append(Case(f"generated/srt/{variant}/{i}", "srt", text.encode(encoding), "generated", BY_FORMAT["srt"]))
        vtt = webvtt.WebVTT(captions=[webvtt.Caption(webvtt.models.Timestamp._from_milliseconds(a).__str__(),
                                                     webvtt.models.Timestamp._from_milliseconds(b).__str__(),
                                                     lines, identifier=rng.choice([None, None, f"{k}", "NOTES", "STYLE-1"]))
                                      for k, (a, b, lines) in enumerate(cues)])
        written = vtt.content
        vtt_variants = {"written": written, "no_blank_lines": written.replace("\n\n", "\n").replace("WEBVTT\n", "WEBVTT\n\n", 1),
                        "teams_clock": teams_clock(written)}
        for variant, text in vtt_variants.items():
            cases.append(Case(f"generated/webvtt/{variant}/{i}", "webvtt", text.encode(), "generated", BY_FORMAT["webvtt"]))
    return cases


def teams_clock(text: str) -> str:
    """MS Teams' short fields: ``00:01:02.500`` -> ``0:1:2.5``."""
    def short(m):
        h, mi, s, ms = m.groups()
        return f"{int(h)}:{int(mi)}:{int(s)}.{ms.rstrip('0') or '0'}"
    return re.sub(r"(\d{2}):(\d{2}):(\d{2})\.(\d{3})", short, text)


def named_set(n_generated: int = 20) -> list[Case]:
    return fixture_cases() + generated_cases(n_generated)


# --- our side and the verdict --------------------------------------------------------------------------------

def our_reading(case: Case, parse=parse_bytes) -> tuple[list[list[Key]], list]:
    """Our adapters' segments (one key list per video) and problems, with the format named as a
    manifest would name it."""
    result = parse(case.data, case.name, {"video_id": "v"}, case.fmt)
    # by class name: the benchmark passes the parse_bytes of an older copy of the package
    videos = [keys(r.segments) for r in result.records if type(r).__name__ == VideoRecord.__name__]
    problems = [r for r in result.records if type(r).__name__ == Problem.__name__]
    return videos, problems


def reference_reading(case: Case, reference: str) -> Optional[list[list[Key]]]:
    text, _ = decode(case.data)  # same text for both sides: encoding detection is not compared
    return reference_keys(reference, text, case.fmt)


def agrees(case: Case, reference: str, parse=parse_bytes) -> bool:
    ours, problems = our_reading(case, parse)
    theirs = reference_reading(case, reference)
    if theirs is None:
        return not any(ours) and bool(problems)
    return [v for v in ours if v] == [v for v in theirs if v]


def first_difference(case: Case, reference: str) -> str:
    """A short account of where the readings part, for test failures and the benchmark's detail."""
    ours, problems = our_reading(case)
    theirs = reference_reading(case, reference)
    if theirs is None:
        return f"{reference} refuses the file; ours: {sum(map(len, ours))} segments, {len(problems)} problems"
    flat_ours = [k for v in ours for k in v]
    flat_theirs = [k for v in theirs for k in v]
    for i, (a, b) in enumerate(zip(flat_ours, flat_theirs)):
        if a != b:
            return f"segment {i}: ours {a!r} vs {reference} {b!r}"
    return f"counts: ours {len(flat_ours)} vs {reference} {len(flat_theirs)}"
