"""Differential tests: our adapters against the reference parsers (webvtt-py for WebVTT and SBV, srt
for SRT; the writers' own data for JSON/TSV) on the peers' fixtures, on Whisper's and
youtube-transcript-api's outputs, and on cue lists drawn by hypothesis and written by the reference
writers (srt.compose, webvtt-py) in the variants real files show. Comparison rules: formats_reference.py
and docs/formats.md. The full sweep with before/after figures is benchmarks/formats_conformance.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from formats_reference import (Case, agrees, first_difference, fixture_cases, keys, srt_variants, teams_clock)
from transcript_lake.formats import parse_bytes
from transcript_lake.formats.captions import Cue, cues_to_segments

CASES = fixture_cases()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fixture_reads_as_its_primary_reference_reads_it(case):
    assert agrees(case, case.primary), first_difference(case, case.primary)


def test_the_named_fixture_set_is_all_there():
    origins = {c.name.split("/")[0] + "/" + c.name.split("/")[1] for c in CASES}
    assert origins == {"peers/webvtt-py", "peers/pysrt", "peers/srt", "formats/whisper", "formats/yt-api"}
    assert len(CASES) >= 60


# --- generated: drawn cue lists, written by the reference writers ------------------------------------------

# words that stress the readers: keywords, numbers (an index?), arrows, tags, entities, non-ASCII
WORD = st.sampled_from("hi the model 42 -1 7.5 NOTE NOTES STYLE REGION -> - ♪ [music] 日本語 café a<b Tom&Jerry "
                       "&amp; <i>it</i> 00:00:01,000".split())
LINE = st.lists(WORD, min_size=1, max_size=6).map(" ".join)


@st.composite
def cue_lists(draw, max_cues=8):
    t, cues = 0, []
    for _ in range(draw(st.integers(1, max_cues))):
        start = t + draw(st.sampled_from([0, 0, 1, 40, 999, 61_000, 3_600_000]))
        end = start + draw(st.integers(1, 90_000))
        cues.append((start, end, draw(st.lists(LINE, min_size=1, max_size=3))))
        t = end if draw(st.booleans()) else start  # overlaps happen
    return cues


def srt_splits_inside(lines) -> bool:
    """Whether srt's best-effort rule (a cue ends where the next lines look like an index and a
    timestamp, blank line or not) cuts this cue's text: a number line followed by a timestamp-like line."""
    import re

    import srt

    index, stamp = re.compile(rf"^{srt.RGX_INDEX}\s*$"), re.compile(rf"^{srt.RGX_TIMESTAMP}")
    return any(index.match(a) and stamp.match(b) for a, b in zip(lines, lines[1:]))


def expected_keys(cues):
    """What any reader must give back: the written cues through the cue policy."""
    return keys(cues_to_segments([Cue(a / 1000, b / 1000, lines) for a, b, lines in cues]))


def ours(text: str, fmt: str, encoding: str = "utf-8"):
    result = parse_bytes(text.encode(encoding), "generated", {"video_id": "v"}, None)  # sniffed, as a user's file
    assert result.format == fmt, (result.format, text[:200])
    (video,) = [r for r in result.records if hasattr(r, "segments")]
    return keys(video.segments)


@SETTINGS
@given(cues=cue_lists(), variant=st.sampled_from(sorted(srt_variants("1\n00:00:00,000 --> 00:00:01,000\nx\n\n", None))))
@example(cues=[(0, 1, ["hi", "42", "00:00:01,000"])], variant="composed")  # found by CI: srt cuts the cue
def test_srt_compose_output_and_its_variants_read_back(cues, variant):
    import srt

    subs = [srt.Subtitle(i + 1, timedelta(milliseconds=a), timedelta(milliseconds=b), "\n".join(lines))
            for i, (a, b, lines) in enumerate(cues)]
    text = srt_variants(srt.compose(subs, reindex=False), None)[variant]
    encoding = {"utf32": "utf-32", "utf16": "utf-16"}.get(variant, "utf-8")
    expected = expected_keys(cues)
    if variant == "no_index" and any(lines[-1].lstrip("-").replace(".", "", 1).isdigit() for *_, lines in cues):
        return  # srt reads a number ending a cue's text as the next cue's index; covered by the fixtures
    if variant != "no_ms":  # that one drops the milliseconds: only the reference can say what it reads
        assert ours(text, "srt", encoding) == expected
    if any(srt_splits_inside(lines) for *_, lines in cues):
        return  # srt ends a cue at a text line that looks like "index + timestamp"; ours keeps the writer's cue
    case = Case("generated", "srt", text.encode(encoding), "generated", ("srt",))
    assert agrees(case, "srt"), first_difference(case, "srt")


@SETTINGS
@given(cues=cue_lists(), ids=st.lists(st.sampled_from([None, "1", "NOTES", "STYLE-1", "REGION2", "note"]), min_size=8,
                                       max_size=8), variant=st.sampled_from(["written", "no_blank_lines", "teams_clock"]))
def test_webvtt_py_output_and_its_variants_read_back(cues, ids, variant):
    import webvtt
    from webvtt.models import Timestamp

    vtt = webvtt.WebVTT(captions=[webvtt.Caption(str(Timestamp._from_milliseconds(a)), str(Timestamp._from_milliseconds(b)),
                                                 lines, identifier=ident)
                                  for (a, b, lines), ident in zip(cues, ids)])
    text = vtt.content
    if variant == "no_blank_lines":  # then an identifier reads as the previous cue's last line, in both readers
        text = text.replace("\n\n", "\n").replace("WEBVTT\n", "WEBVTT\n\n", 1)
    elif variant == "teams_clock":
        text = teams_clock(text)
    case = Case("generated", "webvtt", text.encode(), "generated", ("webvtt-py",))
    assert agrees(case, "webvtt-py"), first_difference(case, "webvtt-py")
    if variant != "no_blank_lines":
        assert ours(text, "webvtt") == expected_keys(cues)
