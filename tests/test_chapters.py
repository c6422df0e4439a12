from transcript_lake.chapters import parse_chapters
from transcript_lake.formats import VideoRecord, parse_bytes

from conftest import CORPUS


def test_timetable_in_flattened_description():
    desc = ("Links ▬▬▬▬ ⌚️ Timetable: 00:00 Intro 02:05 Paper overview 13:55 Evaluation metric issues (WER) "
            "61:56 Outro ▬▬▬▬ 💰 BECOME A PATREON")
    assert parse_chapters(desc, 3800.0) == [
        (0.0, 125.0, "Intro"), (125.0, 835.0, "Paper overview"),
        (835.0, 3716.0, "Evaluation metric issues (WER)"), (3716.0, 3800.0, "Outro"),
    ]


def test_stray_times_in_prose_are_not_chapters():
    assert parse_chapters("Great point at 7:06 and again at 19:30.", 2000.0) == []


def test_list_without_intro_needs_three_entries():
    assert len(parse_chapters("Timetable: 1:10 - How it started 3:30 - Similar 4:30 - Impact", 400.0)) == 3
    assert parse_chapters("see 1:10 this and 3:30 that", 400.0) == []


def test_every_bundled_hf_video_has_chapters():
    result = parse_bytes((CORPUS / "ai-epiphany-100-videos.hf-viewer.txt").read_bytes(), "x", {})
    videos = [r for r in result.records if isinstance(r, VideoRecord)]
    with_chapters = [v for v in videos if parse_chapters(v.description, v.segments[-1].end_s)]
    assert len(with_chapters) == 100
