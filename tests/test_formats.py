"""Format adapters on the real corpus and on cuts of it: pure Python, no Spark."""

from __future__ import annotations

import json

import pytest

from transcript_lake.formats import ADAPTERS, CommentRecord, Problem, VideoRecord, decode, parse_bytes, sniff
from transcript_lake.formats.base import iter_json_array, parse_clock

from conftest import CORPUS, FIXTURES


def records(result, kind):
    return [r for r in result.records if isinstance(r, kind)]


def parse_file(path, meta=None, fmt=None):
    return parse_bytes(path.read_bytes(), str(path), meta or {}, fmt)


@pytest.mark.parametrize("name,expected", [
    ("ai-epiphany-100-videos.hf-viewer.txt", "hf_viewer"),
    ("makemore-part5-wavenet.rolling-captions.txt", "rolling_captions"),
    ("paligemma-from-scratch.whisper.txt", "whisper_cpp"),
    ("transformers-video.comments.txt", "comments"),
])
def test_every_bundled_file_is_sniffed_to_its_format(name, expected):
    text = (CORPUS / name).read_text(encoding="utf-8")[:65536]
    assert sniff(text, name) == expected


@pytest.mark.parametrize("name,expected", [
    ("makemore-intro.srt", "srt"), ("makemore-intro.auto.vtt", "webvtt"),
    ("makemore-intro.whisper.json", "whisper_json"), ("makemore-intro.yt-api.json", "yt_transcript_api"),
])
def test_common_formats_are_sniffed_and_give_the_same_three_lines(name, expected):
    result = parse_file(FIXTURES / "formats" / name, {"video_id": "t3YJ5hKiMQ0"})
    assert result.format == expected and result.detected_by == "sniff"
    assert not records(result, Problem)
    (video,) = records(result, VideoRecord)
    assert [s.text.strip() for s in video.segments][:3] == [
        "hi everyone today we are continuing our",
        "implementation of make more our favorite",
        "character level language model",
    ]
    assert video.segments[1].start_s == pytest.approx(2.34)
    assert video.url == "https://www.youtube.com/watch?v=t3YJ5hKiMQ0"


def test_hf_viewer_full_file_has_100_videos_and_48126_segments():
    result = parse_file(CORPUS / "ai-epiphany-100-videos.hf-viewer.txt")
    videos = records(result, VideoRecord)
    assert len(videos) == 100 and not records(result, Problem)
    assert sum(len(v.segments) for v in videos) == 48126
    assert len({v.video_id for v in videos}) == 100
    first = videos[0]
    assert first.video_id == "OWvy-fCWTBQ" and first.channel == "Aleksa Gordić - The AI Epiphany"
    assert first.title == "How to Build a Deep Learning Machine - Everything You Need To Know"
    assert first.segments[0].start_s == 0.0 and first.segments[0].text.startswith(" What's cracking")


def test_hf_viewer_misaligned_record_is_quarantined_and_parsing_resynchronises():
    lines = (FIXTURES / "corpus_small" / "epiphany3.hf-viewer.txt").read_text(encoding="utf-8").split("\n")
    del lines[23 + 6 + 2]  # the second record loses its TITLE line
    result = parse_bytes("\n".join(lines).encode(), "x.txt", {})
    videos = records(result, VideoRecord)
    problems = records(result, Problem)
    assert [v.video_id for v in videos] == ["OWvy-fCWTBQ", "uNe5QGOJykE"]
    assert len(problems) == 1 and problems[0].reason.startswith("hf_viewer_misaligned_record")


def test_hf_viewer_truncated_file_keeps_complete_segments_of_last_record():
    data = (FIXTURES / "corpus_small" / "epiphany3.hf-viewer.txt").read_bytes()
    cut = data[: len(data) - 5000]  # mid-way through the last SEGMENTS line
    result = parse_bytes(cut, "x.txt", {})
    videos = records(result, VideoRecord)
    (problem,) = records(result, Problem)
    assert len(videos) == 3 and problem.action == "repaired"
    assert problem.reason.startswith("invalid_segments_json: invalid JSON") or "truncated" in problem.reason
    assert 0 < len(videos[2].segments)


def test_rolling_captions_keep_each_spoken_line_once():
    result = parse_file(CORPUS / "makemore-part5-wavenet.rolling-captions.txt", {"video_id": "t3YJ5hKiMQ0"})
    (video,) = records(result, VideoRecord)
    assert len(video.segments) == 1559  # 3,105 rolling entries -> each caption line once
    texts = [s.text for s in video.segments[:3]]
    assert texts == ["hi everyone today we are continuing our", "implementation of make more our favorite",
                     "character level language model"]
    assert [s.start_s for s in video.segments[:3]] == [0.0, 2.0, 4.0]
    assert video.title == "Building makemore Part 5: Building a WaveNet"
    # rebuilt text has no doubled runs: no line equals its predecessor
    assert all(a.text != b.text for a, b in zip(video.segments, video.segments[1:]))
    assert all(a.end_s == b.start_s for a, b in zip(video.segments, video.segments[1:]))


def test_whisper_cpp_lines():
    result = parse_file(CORPUS / "paligemma-from-scratch.whisper.txt", {"video_id": "vAmKB7iPkWw"})
    (video,) = records(result, VideoRecord)
    assert len(video.segments) == 4355 and not records(result, Problem)
    assert (video.segments[0].start_s, video.segments[0].end_s) == (0.0, 4.72)
    assert video.segments[-1].end_s == pytest.approx(5 * 3600 + 46 * 60 + 4.72)


def test_comments_replies_and_cited_positions():
    result = parse_file(CORPUS / "transformers-video.comments.txt")
    comments = records(result, CommentRecord)
    assert len(comments) == 279
    assert len({c.text for c in comments}) == 229  # ~50 duplicated lines
    replies = [c for c in comments if c.is_reply]
    assert replies and all(c.reply_to and not c.reply_to.startswith("@") for c in replies)
    sets = next(c for c in comments if "at 7:06 halleluah" in c.text)
    assert sets.cited_s == [426.0]
    # Every line holding an m:ss position cites it (19 lines, 15 distinct texts; the corpus README says
    # "17 lines", counted before two near-duplicate copies were added).
    assert sum(1 for c in comments if c.cited_s) == 19
    by_text = {c.text: c.cited_s for c in comments}
    assert by_text["19:30 Attention is a generalization of convolutions."] == [1170.0]
    assert by_text["Video starts at 5:22"] == [322.0]


def test_bom_crlf_and_non_utf8_are_decoded_and_reported():
    text, problems = decode(b"\xef\xbb\xbfWEBVTT\r\n\r\n00:00:01.000 --> 00:00:02.000\r\nhello\r\n")
    assert text.startswith("WEBVTT\n\n") and "\r" not in text and not problems
    text, problems = decode("café".encode("latin-1") + b"\nok")
    assert "\ufffd" in text and problems[0].reason.startswith("non_utf8: 1 undecodable") and problems[0].action == "repaired"


def test_unknown_format_is_one_problem_not_an_exception():
    result = parse_bytes(b"\x00\x01 random \x02 bytes \xff\xfe", "blob.bin", {})
    assert result.format is None and any(p.reason.startswith("unknown_format") for p in records(result, Problem))


def test_manifest_format_overrides_sniffing():
    path = FIXTURES / "formats" / "makemore-intro.srt"
    result = parse_file(path, {"video_id": "x"}, fmt="srt")
    assert result.detected_by == "manifest" and result.format == "srt"


def test_json_array_salvage_keeps_complete_items():
    items, error = iter_json_array('[{"a": 1}, {"a": 2}, {"a": 3')
    assert items == [{"a": 1}, {"a": 2}] and "invalid JSON" in error
    items, error = iter_json_array('[{"a": 1}]')
    assert items == [{"a": 1}] and error is None


def test_segments_with_wrong_types_become_nulls_or_problems():
    data = json.dumps([{"text": "ok", "start": 1, "duration": 2}, {"text": "bad", "start": "x", "duration": 1}, 7]).encode()
    result = parse_bytes(data, "t.json", {"video_id": "v"})
    (video,) = records(result, VideoRecord)
    assert [(s.start_s, s.end_s) for s in video.segments] == [(1.0, 3.0), (None, None)]
    assert [p.reason.split(":")[0] for p in records(result, Problem)] == ["segment_not_an_object"]


@pytest.mark.parametrize("text,seconds", [("0:00", 0), ("7:06", 426), ("1:02:03", 3723), ("00:00:04.720", 4.72),
                                          ("00:00:02,340", 2.34)])
def test_parse_clock(text, seconds):
    assert parse_clock(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["7:60", "abc", "1:2", ""])
def test_parse_clock_rejects(bad):
    with pytest.raises(ValueError):
        parse_clock(bad)


def test_every_adapter_survives_garbage():
    garbage = "\n".join(["[00:00 --> ", "{\"segments\": [", "WEBVTT", "1", "-->", "@@x", "0:00"] * 5)
    for name in ADAPTERS:
        result = parse_bytes(garbage.encode(), "g.txt", {"video_id": "g"}, fmt=name)
        assert result.format == name  # no exception; problems or records only
