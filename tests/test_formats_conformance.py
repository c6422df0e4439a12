"""Issue 17, one test (or a few) per class of ingest-fidelity defect, on small files: cues are read as the
reference parsers read them, and nothing is merged, dropped or refused silently. Pure Python, no Spark."""

from __future__ import annotations

import codecs
import json

import pytest

from conftest import FIXTURES
from transcript_lake.formats import Problem, VideoRecord, decode, parse_bytes, parse_file, read_text, sniff

PEERS = FIXTURES / "peers"
TOOLS = FIXTURES / "formats"


def read(data, name="f.txt", fmt=None, meta=None):
    data = data.encode("utf-8") if isinstance(data, str) else data
    result = parse_bytes(data, name, meta if meta is not None else {"video_id": "v"}, fmt)
    videos = [r for r in result.records if isinstance(r, VideoRecord)]
    problems = [r for r in result.records if isinstance(r, Problem)]
    return result, videos, problems


def segments(data, name="f.txt", fmt=None):
    result, videos, _ = read(data, name, fmt)
    (video,) = videos
    return [(s.start_s, s.end_s, s.text) for s in video.segments]


# 1. A cue ends at the next timing line: no blank line needed ------------------------------------------------

def test_class1_webvtt_cues_without_blank_lines_are_not_merged():
    # yt-dlp's output (webvtt-py's youtube_dl.vtt): a timing line right after cue text
    result, (video,), problems = read((PEERS / "webvtt-py" / "youtube_dl.vtt").read_bytes(), "youtube_dl.vtt")
    assert result.format == "webvtt" and not problems
    assert [s.text for s in video.segments] == ["yeah", "what", "this will happen is I'm telling"]
    assert all("-->" not in s.text for s in video.segments)
    assert segments("WEBVTT\n00:01.000 --> 00:02.000\none\n00:02.000 --> 00:03.000\ntwo\n") == [
        (1.0, 2.0, "one"), (2.0, 3.0, "two")]


def test_class1_srt_cues_without_blank_lines_are_not_merged():
    text = "1\n00:00:01,000 --> 00:00:02,000\none\n2\n00:00:02,000 --> 00:00:03,000\ntwo\n00:00:03,000 --> 00:00:04,000\nthree"
    assert segments(text) == [(1.0, 2.0, "one"), (2.0, 3.0, "two"), (3.0, 4.0, "three")]


# 2. NOTE / STYLE / REGION are keywords, not prefixes ------------------------------------------------------

def test_class2_cue_ids_that_start_with_a_keyword_are_cues():
    text = ("WEBVTT\n\nSTYLE\n::cue { color: red }\n\nREGION\nid:left width:40%\n\nNOTE a comment\n\n"
            "NOTES\n00:01.000 --> 00:02.000\nfirst\n\nSTYLE-1\n00:02.000 --> 00:03.000\nsecond\n\n"
            "REGIONAL\n00:03.000 --> 00:04.000\nthird\n\nNOTE\n00:04.000 --> 00:05.000\nfourth\n")
    _, (video,), problems = read(text)
    assert [s.text for s in video.segments] == ["first", "second", "third", "fourth"] and not problems


# 3. Roll-up de-duplication only where the file shows the roll-up pattern --------------------------------

def test_class3_repeated_speech_in_ordinary_subtitles_is_kept():
    _, (video,), _ = read((PEERS / "pysrt" / "utf-8.srt").read_bytes(), "utf-8.srt")
    assert len(video.segments) == 1332  # as srt and pysrt read it: every cue, "- Non! - Si!" twice too
    text = "".join(f"{i}\n00:00:0{i},000 --> 00:00:0{i},900\n- Non!\n- Si!\n\n" for i in range(1, 4))
    assert [s.text for s in segments_of(text)] == ["- Non! - Si!"] * 3
    _, (netflix,), _ = read((PEERS / "webvtt-py" / "netflix_chicas_del_cable.vtt").read_bytes(), "n.vtt")
    assert [s.text for s in netflix.segments].count("[teléfono]") == 2


def segments_of(text):
    _, (video,), _ = read(text)
    return video.segments


def test_class3_youtube_auto_captions_are_still_de_duplicated():
    _, (video,), _ = read((TOOLS / "makemore-intro.auto.vtt").read_bytes(), "auto.vtt")
    assert [s.text for s in video.segments] == ["hi everyone today we are continuing our",
                                                "implementation of make more our favorite", "character level language model"]


# 4. A de-duplicated line lasts until its last repeat (Whisper --highlight_words) ---------------------------

@pytest.mark.parametrize("ext", ["vtt", "srt"])
@pytest.mark.parametrize("variant", ["highlight_words", "highlight_max_line"])
def test_class4_highlighted_subtitle_lasts_until_its_last_word(ext, variant):
    highlighted = segments((TOOLS / "whisper" / f"talk.{variant}.{ext}").read_bytes(), f"t.{ext}")
    plain_name = "talk" if variant == "highlight_words" else "talk.max_line_width"
    plain = segments((TOOLS / "whisper" / f"{plain_name}.{ext}").read_bytes(), f"t.{ext}")
    assert highlighted == plain  # one segment per subtitle, from its first word's start to its last word's end
    assert highlighted[0][1] - highlighted[0][0] > 1.0


# 5. The SRT variants the reference parsers accept are read, and sniffed --------------------------------

@pytest.mark.parametrize("timing,start,end", [
    ("00:00:01.250 --> 00:00:02.500", 1.25, 2.5),            # '.' as millisecond separator
    ("00：00：01，250 --> 00:00:02，500", 1.25, 2.5),          # full-width punctuation
    ("00:00:01 --> 00:00:02", 1.0, 2.0),                      # no milliseconds
    ("00:00:01,250 - > 00:00:02,500", 1.25, 2.5),             # '- >' arrow
    ("00:00:01,250 --> 00:00:02,500 X1:100 X2:200", 1.25, 2.5),  # coordinates after the end time
])
@pytest.mark.parametrize("index", ["7", "-7", "7.5", None])
def test_class5_srt_variants_are_read_and_sniffed(timing, start, end, index):
    block = (f"{index}\n" if index else "") + f"{timing}\nhello\n\n"
    text = block + block.replace("hello", "again")
    result, (video,), problems = read(text, "noext")
    assert result.format == "srt" and result.detected_by == "sniff" and not problems
    assert [(s.start_s, s.end_s, s.text) for s in video.segments] == [(start, end, "hello"), (start, end, "again")]


def test_class5_srt_without_indexes_is_sniffed():
    result, (video,), _ = read((PEERS / "pysrt" / "no-indexes.srt").read_bytes(), "no-indexes.srt")
    assert result.format == "srt" and len(video.segments) == 7


# 6. Whisper JSON with `segments` after megabytes of `text` ------------------------------------------------

def test_class6_long_whisper_json_is_sniffed_by_its_keys():
    data = (TOOLS / "whisper" / "long_transcribe.json").read_bytes()
    doc = json.loads(data)
    assert data.index(b'"segments"') > 64 * 1024  # text first, as whisper.transcribe writes it
    result, (video,), problems = read(data, "long.json")
    assert result.format == "whisper_json" and not problems
    assert [(s.start_s, s.end_s, s.text) for s in video.segments] == [(s["start"], s["end"], s["text"]) for s in doc["segments"]]
    huge = json.dumps({"text": "x" * 5_000_000, "segments": [{"start": 0, "end": 1, "text": "hi"}]})
    assert sniff(huge, "big.json") == "whisper_json"


# 7. youtube-transcript-api CLI output: one list per video ----------------------------------------------

@pytest.mark.parametrize("name", ["cli_two_videos.json", "cli_two_videos.pretty.txt"])
def test_class7_yt_cli_output_gives_one_video_per_list(name):
    result, videos, problems = read((TOOLS / "yt-api" / name).read_bytes(), name, meta={})
    assert result.format == "yt_transcript_api" and not problems
    assert [len(v.segments) for v in videos] == [40, 25]
    assert len({v.video_id for v in videos}) == 2  # named after the file: cli_two_videos-1, -2


def test_class7_manifest_names_the_videos_of_a_cli_file():
    data = (TOOLS / "yt-api" / "cli_two_videos.json").read_bytes()
    _, videos, problems = read(data, "c.json", meta={"video_id": "abcdefghijk bcdefghijkl"})
    assert [v.video_id for v in videos] == ["abcdefghijk", "bcdefghijkl"] and not problems
    assert videos[1].url == "https://www.youtube.com/watch?v=bcdefghijkl"
    _, videos, problems = read(data, "c.json", meta={"video_id": "abcdefghijk"})
    assert [v.video_id for v in videos] == ["c-1", "c-2"]
    assert [p.reason.split(":")[0] for p in problems] == ["video_ids_mismatch"]


# 8. UTF-32, MS Teams timestamps, blank lines inside SRT text, 1-2 digit SRT milliseconds --------------

@pytest.mark.parametrize("name", ["bom-utf-32-le.srt", "bom-utf-32-be.srt", "bom-utf-16-le.srt", "bom-utf-16-be.srt"])
def test_class8_utf32_and_utf16_files_read_like_utf8(name, tmp_path):
    expected = segments((PEERS / "pysrt" / "bom-utf-8.srt").read_bytes(), "u8.srt")
    data = (PEERS / "pysrt" / name).read_bytes()
    result, (video,), problems = read(data, name)
    assert result.format == "srt" and not problems
    assert [(s.start_s, s.end_s, s.text) for s in video.segments] == expected
    streamed, read_ = parse_file(str(PEERS / "pysrt" / name), {"video_id": "v"})
    assert read_.text == "" and streamed.format == "srt" and not read_.problems
    assert decode(codecs.BOM_UTF32_LE + "WEBVTT".encode("utf-32-le"))[0] == "WEBVTT"


def test_class8_utf32_streamed_equals_decoded(tmp_path):
    path = tmp_path / "x.vtt"
    data = codecs.BOM_UTF32_BE + "WEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nhé\r\n".encode("utf-32-be")
    path.write_bytes(data)
    assert read_text(str(path), 1000, chunk_bytes=3).text == decode(data)[0] == "WEBVTT\n\n00:01.000 --> 00:02.000\nhé\n"


def test_class8_ms_teams_short_timestamps():
    text = (PEERS / "webvtt-py" / "teams_timeframe.vtt").read_bytes()
    assert segments(text, "t.vtt") == [(0.0, 0.57, "There you go."), (0.21, 1.13, "Why hello there, Yuri.")]
    assert segments("WEBVTT\n\n0:0:1.5 --> 0:1:2.25\nhi\n") == [(1.5, 62.25, "hi")]


def test_class8_blank_line_inside_srt_text_keeps_the_rest():
    text = "1\n00:00:01,000 --> 00:00:02,000\nfirst paragraph\n\nsecond paragraph\n\n2\n00:00:03,000 --> 00:00:04,000\nnext\n"
    assert segments(text) == [(1.0, 2.0, "first paragraph second paragraph"), (3.0, 4.0, "next")]


def test_class8_short_srt_milliseconds_count_milliseconds():
    text = "1\n00:00:01,5 --> 00:00:02,25\nhi\n"  # srt and pysrt: 5 ms and 25 ms, not .5 s and .25 s
    assert segments(text) == [(1.005, 2.025, "hi")]


# 9. An empty result always says why -----------------------------------------------------------------

@pytest.mark.parametrize("text,fmt", [
    ("WEBVTT\n\nNOTE only a comment\n\nSTYLE\n::cue {}\n", "webvtt"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\n\n", "webvtt"),               # the one cue is empty
    ("WEBVTT\n\n00:99.000 --> 00:02.000\nbad minutes\n", "webvtt"),
    ("1\n" + "9" * 5000 + ":00:00,000 --> 00:00:01,000\nx\n", "srt"),       # a time past int()'s digits
    ('{"text": "", "segments": []}', "whisper_json"),
    ("[]", "yt_transcript_api"),
    ("[[], []]", "yt_transcript_api"),
    ("start\tend\ttext\n", "whisper_tsv"),
])
def test_class9_a_video_without_segments_comes_with_a_reason(text, fmt):
    result, videos, problems = read(text, fmt=fmt)
    assert videos and all(not any(s.text for s in v.segments) for v in videos)
    explained = {p.record_ref for p in problems if p.reason.startswith("no_segments")}
    assert {v.record_ref for v in videos} <= explained, problems


def test_class9_unreadable_blocks_are_problems_not_silence():
    text = "WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\nstray text\n\n00:03,000 --> 00:04,000\ncomma clock\n"
    _, (video,), problems = read(text)
    assert [s.text for s in video.segments] == ["ok"]
    assert [p.reason.split(":")[0] for p in problems] == ["webvtt_block_without_timing", "webvtt_bad_timing"]
    _, _, problems = read("garbage first\n\n1\n00:00:01,000 --> 00:00:02,000\nx\n", fmt="srt")
    assert [p.reason.split(":")[0] for p in problems] == ["srt_text_before_first_cue"]


def test_whisper_tsv_and_sbv_are_read():
    assert segments((TOOLS / "whisper" / "talk.tsv").read_bytes(), "t.tsv")[0][:2] == (0.0, 1.85)
    result, (video,), _ = read((PEERS / "webvtt-py" / "sample.sbv").read_bytes(), "s.sbv")
    assert result.format == "sbv" and video.segments[0].start_s == 0.378


def test_plain_text_outputs_without_times_are_refused_with_a_reason():
    for path in (TOOLS / "whisper" / "talk.txt", TOOLS / "yt-api" / "one_video.txt"):
        result, videos, problems = read(path.read_bytes(), path.name, meta={})
        assert not videos and problems[0].reason.startswith("unknown_format")


def test_bundled_corpus_reads_exactly_as_before_issue_17():
    """The four corpus files with the manifest's metadata give the same records as the adapters at
    0a07724 (digests of every segment's start, end and text, every problem and comment)."""
    import hashlib

    import yaml

    from conftest import ROOT

    expected = {"ai-epiphany-100-videos.hf-viewer.txt": (48126, "f3a5aa6293ab2920"),
                "makemore-part5-wavenet.rolling-captions.txt": (1559, "bc052f40300a1cb5"),
                "paligemma-from-scratch.whisper.txt": (4355, "816e165b2368ffab"),
                "transformers-video.comments.txt": (0, "8f6470c97529a889")}
    got = {}
    for src in yaml.safe_load((ROOT / "conf" / "sources.yaml").read_text())["sources"]:
        meta = {k: v for k, v in src.items() if k not in ("path", "format")}
        result, _ = parse_file(str(ROOT / src["path"]), meta, src.get("format"))
        segs = [(r.video_id, s.start_s, s.end_s, s.text) for r in result.records if isinstance(r, VideoRecord) for s in r.segments]
        probs = [(p.record_ref, p.reason) for p in result.records if isinstance(p, Problem)]
        comments = [c.text for c in result.records if type(c).__name__ == "CommentRecord"]
        got[src["path"].split("/")[-1]] = (len(segs), hashlib.sha256(json.dumps([segs, probs, comments]).encode()).hexdigest()[:16])
    assert got == expected and sum(n for n, _ in got.values()) == 54040


def test_sniffing_deeply_nested_json_stays_linear():
    """The streamed sniff must not hold per-depth paths (quadratic memory on 100,000 nested brackets)."""
    import time

    for doc, expected in (('{"segments": ' + "[" * 100_000 + "]" * 100_000 + "}", "whisper_json"),
                          ("[" * 100_000 + "]" * 100_000, None)):
        t0 = time.perf_counter()
        assert sniff(doc, "deep.json") == expected
        assert time.perf_counter() - t0 < 5
