"""Property-based tests of the parsers (hypothesis): whatever the bytes, parsing never raises, every
input record is accounted for (a record or a problem with a reason), and streaming a file gives the
same text as decoding it whole."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS, ROOT
from transcript_lake.formats import (ADAPTERS, CommentRecord, Problem, VideoRecord, decode, parse_bytes, read_text,
                                     sniff)
from transcript_lake.formats.base import iter_json_array, parse_clock

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HF_HEAD = (CORPUS / "ai-epiphany-100-videos.hf-viewer.txt").read_bytes()[:400_000].decode("utf-8", "ignore")

# text that looks like the formats: timestamps, brackets, JSON punctuation, RTL, emoji, SQL
FORMAT_ALPHABET = st.sampled_from(list("0123456789:.,->[]{}\"' \n\t-;") + ["-->", "WEBVTT", "@@", "at 7:06",
                                  "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627", "\U0001F600", "'; DROP TABLE x;--",
                                  '{"start": ', '"end": ', '"text": ', '"segments": [', "NaN", "-1e308", "Infinity"])
format_like_text = st.lists(FORMAT_ALPHABET, max_size=300).map("".join)


def assert_well_formed(result) -> None:
    for rec in result.records:
        assert isinstance(rec, (VideoRecord, CommentRecord, Problem)), type(rec)
        if isinstance(rec, Problem):
            assert rec.reason and ":" in rec.reason and rec.action in ("dropped", "repaired", "flagged")
        if isinstance(rec, VideoRecord):
            assert rec.video_id  # every video has an id (file name as the last resort)


@SETTINGS
@given(data=st.binary(max_size=4000), name=st.sampled_from(["x.txt", "a.srt", "b.vtt", "c.json", "noext"]))
def test_random_bytes_never_raise(data, name):
    result = parse_bytes(data, name, {})
    assert_well_formed(result)
    if not data.strip():
        assert any(isinstance(r, Problem) and r.reason.startswith("empty_file") for r in result.records)


@SETTINGS
@given(text=format_like_text, fmt=st.sampled_from(sorted(ADAPTERS)))
def test_every_adapter_survives_format_like_text(text, fmt):
    assert_well_formed(parse_bytes(text.encode("utf-8"), "f.txt", {"video_id": "v"}, fmt=fmt))
    sniff(text, "f.txt")


@SETTINGS
@given(data=st.binary(max_size=3000), chunk=st.integers(1, 64), limit=st.integers(1, 200))
def test_streaming_read_equals_whole_decode_and_bounds_lines(data, chunk, limit):
    with tempfile.NamedTemporaryFile(delete=False) as fh:
        fh.write(data)
    try:
        read = read_text(fh.name, max_line_chars=limit, chunk_bytes=chunk)
    finally:
        os.unlink(fh.name)
    whole, _ = decode(data)
    expected = "\n".join("" if len(line) > limit else line for line in whole.split("\n"))
    assert read.text == expected
    too_long = [p for p in read.problems if p.reason.startswith("line_too_long")]
    assert len(too_long) == sum(1 for line in whole.split("\n") if len(line) > limit)


@SETTINGS
@given(cut=st.integers(0, len(HF_HEAD)), drop=st.lists(st.integers(0, 200), max_size=5),
       dup=st.lists(st.integers(0, 200), max_size=3))
def test_hf_viewer_cut_shuffled_or_truncated_accounts_for_every_record(cut, drop, dup):
    lines = HF_HEAD[:cut].split("\n")
    for i in sorted(set(drop), reverse=True):
        if i < len(lines):
            del lines[i]
    for i in dup:
        if i < len(lines):
            lines.insert(i, lines[i])
    result = parse_bytes("\n".join(lines).encode(), "x.hf-viewer.txt", {}, fmt="hf_viewer")
    assert_well_formed(result)
    videos = [r for r in result.records if isinstance(r, VideoRecord)]
    urls = [l for l in lines if l.startswith("https://www.youtube.com/watch?v=")]
    # every record that starts (its URL line is there) is a video or explained by a problem
    assert len(videos) <= len(urls)
    if len(videos) < len(urls):
        assert any(isinstance(r, Problem) for r in result.records)


timestamps = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**12, 10**12), st.none(),
                       st.text(max_size=5), st.booleans())


@SETTINGS
@given(items=st.lists(st.fixed_dictionaries({"start": timestamps, "end": timestamps,
                                             "text": st.one_of(st.text(max_size=30), st.none(), st.integers())}),
                      max_size=40))
def test_whisper_json_keeps_every_segment_whatever_its_timestamps(items):
    doc = json.dumps({"segments": items}, allow_nan=True)  # NaN / Infinity literals as real exporters write them
    result = parse_bytes(doc.encode(), "w.json", {"video_id": "v"}, fmt="whisper_json")
    assert_well_formed(result)
    (video,) = [r for r in result.records if isinstance(r, VideoRecord)]
    assert len(video.segments) == len(items)  # validated (and quarantined) later by the segments stage
    for seg, item in zip(video.segments, items):
        for got, given_ in ((seg.start_s, item["start"]), (seg.end_s, item["end"])):
            if isinstance(given_, bool) or not isinstance(given_, (int, float)):
                assert got is None
            elif math.isnan(given_):
                assert math.isnan(got)
            else:
                assert got == float(given_)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                           max_leaves=20)


@SETTINGS
@given(items=st.lists(json_values, max_size=10), cut=st.integers(0, 2000))
def test_json_array_salvage_returns_a_prefix_of_the_items(items, cut):
    text = json.dumps(items)
    got, error = iter_json_array(text)
    assert got == items and error is None
    partial, error = iter_json_array(text[:cut])
    assert partial == items[:len(partial)]
    if cut < len(text):
        assert error


@SETTINGS
@given(h=st.integers(0, 99), m=st.integers(0, 59), s=st.integers(0, 59), ms=st.integers(0, 999))
def test_parse_clock_round_trips(h, m, s, ms):
    assert parse_clock(f"{h}:{m:02d}:{s:02d}.{ms:03d}") == h * 3600 + m * 60 + s + ms / 1000
    assert parse_clock(f"{m}:{s:02d}") == m * 60 + s


def test_deeply_nested_json_is_a_problem_not_a_crash():
    deep = "[" * 200_000 + "]" * 200_000
    for fmt, doc in (("whisper_json", '{"segments": ' + deep + "}"), ("yt_transcript_api", deep),
                     ("hf_viewer", HF_HEAD.split("\nhttps://")[0] + "\nhttps://www.youtube.com/watch?v=abcdefghijk\nT\nD\nX\n" + deep)):
        result = parse_bytes(doc.encode(), "deep.json", {"video_id": "v"}, fmt=fmt)
        assert_well_formed(result)
        assert any(isinstance(r, Problem) for r in result.records), fmt


def _peak_mib(code: str) -> tuple[float, str]:
    """Run ``code`` in a fresh interpreter; its peak RSS (MiB, VmHWM: ru_maxrss would include the
    forking parent's) and stdout."""
    peak = ("\nimport re; print('PEAK', int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) / 1024)")
    p = subprocess.run([sys.executable, "-c", code + peak],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    peak = float(p.stdout.strip().splitlines()[-1].split()[1])
    return peak, p.stdout


def test_a_100_mb_line_is_skipped_with_bounded_memory(tmp_path):
    """The worker's own parse path on a file with a 100 MB line: the line is quarantined, the lines
    around it are kept, and the process never holds the line: at most ``ingest.max_line_mb`` of it."""
    path = tmp_path / "huge.whisper.txt"
    with open(path, "w") as fh:
        fh.write("\n[00:00:00.000 --> 00:00:02.000]   before the long line\n[00:00:02.000 --> 00:00:04.000]   ")
        block = "word " * (2**20 // 5 + 1)  # 1 MiB
        for _ in range(100):
            fh.write(block)
        fh.write("\n[00:00:04.000 --> 00:00:06.000]   after the long line\n")
    assert path.stat().st_size > 100 * 2**20
    baseline, _ = _peak_mib("import transcript_lake.formats")
    peak, out = _peak_mib(f"""
from transcript_lake.formats import parse_file, Problem, VideoRecord
result, read = parse_file({str(path)!r}, {{"video_id": "v"}}, None, 64 * 2**20)
print([r.reason.split(':')[0] for r in result.records if isinstance(r, Problem)])
print([s.text for r in result.records if isinstance(r, VideoRecord) for s in r.segments])
""")
    assert "['line_too_long']" in out and "['before the long line', 'after the long line']" in out
    print(f"100 MB line: peak RSS {peak:.0f} MiB (interpreter + library alone: {baseline:.0f} MiB)")
    # bounded by ingest.max_line_mb (64: the most of a line ever held) plus a 1 MiB read chunk, not by the line
    assert peak - baseline < 64 + 24, (peak, baseline)


def test_an_enormous_json_document_parses_with_memory_proportional_to_it(tmp_path):
    """200k Whisper segments (17 MB of JSON, one document): parsed whole (JSON has no line to skip),
    so memory grows with the document; measured, and bounded by ingest.max_file_mb."""
    path = tmp_path / "big.whisper.json"
    segs = [{"start": i * 2.0, "end": i * 2.0 + 1.5, "text": f" segment number {i} of a long talk"} for i in range(200_000)]
    path.write_text(json.dumps({"text": "", "segments": segs}))
    size_mib = path.stat().st_size / 2**20
    baseline, _ = _peak_mib("import transcript_lake.formats")
    peak, out = _peak_mib(f"""
from transcript_lake.formats import parse_file, VideoRecord
result, read = parse_file({str(path)!r}, {{"video_id": "v"}}, None)
print(sum(len(r.segments) for r in result.records if isinstance(r, VideoRecord)))
""")
    assert out.splitlines()[0] == "200000"
    print(f"{size_mib:.0f} MB JSON: peak RSS {peak:.0f} MiB (baseline {baseline:.0f} MiB)")
    assert peak - baseline < 30 * size_mib
