"""Hostile and odd input through the real stages (Spark + Delta): nothing crashes, every input file
ends up parsed or quarantined with a reason, and text with quotes, SQL, right-to-left scripts and
emoji comes out exactly as it went in."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from conftest import FIXTURES, build, load as table, make_conf, small_manifest, versions
from transcript_lake.lake import table_path

SQL_TITLE = "Robert'); DROP TABLE segments;-- \"quoted\" \\ backslash"
RTL = "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645"
EMOJI = "transformers \U0001F916 attention \U0001F9E0 is all you need \U0001F680 \u2764\ufe0f"


def whisper_cpp(lines: list[str]) -> str:
    return "\n" + "\n".join(f"[00:00:{2 * i:02d}.000 --> 00:00:{2 * i + 2:02d}.000]   {t}" for i, t in enumerate(lines)) + "\n"


@pytest.fixture
def hostile_dir(tmp_path) -> Path:
    d = tmp_path / "hostile"
    d.mkdir()
    (d / "random.bin").write_bytes(random.Random(0).randbytes(4096))
    (d / "zero-length.srt").write_bytes(b"")
    with open(d / "huge-line.whisper.txt", "w") as fh:  # a 100 MiB line between two good ones
        fh.write("\n[00:00:00.000 --> 00:00:02.000]   before the long line\n[00:00:02.000 --> 00:00:04.000]   ")
        block = "spam " * (2**20 // 5 + 1)
        for _ in range(100):
            fh.write(block)
        fh.write("\n[00:00:04.000 --> 00:00:06.000]   after the long line\n")
    (d / "deep.whisper.json").write_text('{"segments": ' + "[" * 100_000 + "]" * 100_000 + "}")
    # NaN / Infinity / negative / absurd / out of order, as the JSON literals real exporters write
    (d / "times.whisper.json").write_text(
        '{"segments": [{"start": 0, "end": 2, "text": " ok one"}, {"start": NaN, "end": 3, "text": " nan"},'
        ' {"start": -Infinity, "end": 1, "text": " minus infinity"}, {"start": 1e308, "end": Infinity, "text": " huge"},'
        ' {"start": 10, "end": 12, "text": " later"}, {"start": 4, "end": 6, "text": " earlier, listed after"}]}')
    # a folder with a symlink loop, a link to itself and a dangling link
    sub = d / "nested"
    sub.mkdir()
    (sub / "loop").symlink_to("..")
    (d / "self-a").symlink_to("self-b")
    (d / "self-b").symlink_to("self-a")
    (d / "dangling.srt").symlink_to("does-not-exist.srt")
    (sub / "real.srt").write_bytes((FIXTURES / "formats" / "makemore-intro.srt").read_bytes())
    return d


def test_hostile_folder_nothing_crashes_and_nothing_is_silently_dropped(spark, tmp_path, hostile_dir):
    sources = [
        {"path": str(hostile_dir / "times.whisper.json"), "video_id": "timesvideo1", "format": "whisper_json"},
        {"path": str(hostile_dir)},  # the folder: walked (loop-safe), every other file sniffed
        {"path": "../../../../../../etc/passwd"},  # path traversal out of the project
    ]
    conf = make_conf(tmp_path / "lake", sources)
    build(spark, conf, ["ingest", "segments"])

    files = {r["source_path"]: r for r in table(spark, conf, "source_files").collect()}
    q = table(spark, conf, "quarantine").collect()
    reasons = {(Path(r["source_path"]).name, r["reason"].split(":")[0]) for r in q}
    expected = {
        ("random.bin", "unknown_format"),
        ("zero-length.srt", "empty_file"),
        ("huge-line.whisper.txt", "line_too_long"),
        ("deep.whisper.json", "invalid_json"),
        ("loop", "symlink_loop"),
        ("self-a", "symlink_loop"),
        ("self-b", "symlink_loop"),
        ("dangling.srt", "broken_symlink"),
        ("passwd", "path_outside_project"),
        ("times.whisper.json", "missing_timestamp"),
        ("times.whisper.json", "timestamp_out_of_range"),
        ("times.whisper.json", "negative_timestamp"),
    }
    assert expected <= reasons, expected - reasons
    # nothing silently dropped: every regular file under the folder was parsed (ledger) or quarantined
    on_disk = {str(p) for p in hostile_dir.rglob("*") if p.is_file() and not p.is_symlink()}
    quarantined = {r["source_path"] for r in q}
    assert on_disk <= set(files) | quarantined, on_disk - set(files) - quarantined
    # /etc/passwd was never opened: no ledger row, and no raw record
    assert not [p for p in files if p.endswith("passwd")]

    seg = table(spark, conf, "segments")
    huge = [r["text"] for r in seg.join(table(spark, conf, "videos").filter(F.col("source_path").endswith("huge-line.whisper.txt")),
                                           "video_id").orderBy("seg_idx").collect()]
    assert huge == ["before the long line", "after the long line"]
    times = seg.filter("video_id = 'timesvideo1'").orderBy("seg_idx").collect()
    assert [r["text"] for r in times] == ["ok one", "earlier, listed after", "later"]  # sorted by time, bad ones out
    assert seg.filter(F.col("video_id").contains("real")).count() == 4  # the file inside the loop-holding folder

    before = versions(spark, conf)
    build(spark, conf, ["ingest", "segments"])  # the same hostile input again: nothing changes
    assert versions(spark, conf) == before


def test_quotes_sql_rtl_and_emoji_survive_every_stage_exactly(spark, tmp_path):
    d = tmp_path / "it's; DROP TABLE x;--"
    d.mkdir()
    text = [f"this talk is about {SQL_TITLE}", RTL, EMOJI, "o'reilly's attention heads -- and; semicolons",
            "plain english about attention heads and transformers"] * 3
    path = d / "talk 'quoted'.whisper.txt"
    path.write_text(whisper_cpp(text), encoding="utf-8")
    vid = "it's-a-video;--"
    conf = make_conf(tmp_path / "lake", [{"path": str(path), "video_id": vid, "title": SQL_TITLE, "channel": RTL + " " + EMOJI}])
    build(spark, conf, ["ingest", "segments", "windows", "terms", "concepts"])

    (video,) = table(spark, conf, "videos").collect()
    assert (video["video_id"], video["title"], video["channel"]) == (vid, SQL_TITLE, RTL + " " + EMOJI)
    assert [r["text"] for r in table(spark, conf, "segments").orderBy("seg_idx").collect()] == text
    assert table(spark, conf, "windows").filter(F.col("video_id") == vid).count() >= 1
    assert table(spark, conf, "mentions").filter(F.col("video_id") == vid).count() > 0
    assert table(spark, conf, "concepts").count() > 0
    # the name is stored as given and found by SQL with a bound parameter
    assert spark.sql("SELECT count(*) AS n FROM transcripts.videos WHERE title = :t", args={"t": SQL_TITLE}).first()["n"] == 1
    # incremental machinery builds predicates from these ids: a re-run is a no-op, a removal removes exactly it
    before = versions(spark, conf)
    build(spark, conf.with_overrides(["run.full_refresh=true"]), ["windows", "terms"])
    after = versions(spark, conf)
    assert after["windows"] > before["windows"] and after["mentions"] > before["mentions"]  # rebuilt by id
    assert table(spark, conf, "mentions").filter(F.col("video_id") == vid).count() > 0


def test_a_file_changing_while_it_is_read_is_retried_not_half_loaded(spark, tmp_path, small_corpus):
    """A writer appends to a comments file during the whole ingest: the hash taken at discovery no longer
    matches the bytes the worker reads, so the file is quarantined for this run and left out of the
    ledger; once the writer stops, the next run loads it whole."""
    live = small_corpus / "live.comments.txt"
    live.write_text("first comment\n")
    conf = make_conf(tmp_path / "lake", [{"path": str(live)}])
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            with open(live, "a") as fh:
                fh.write(f"comment number {i} at 1:{i % 60:02d}\n")
            i += 1
            time.sleep(0.005)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        build(spark, conf, ["ingest"])
    finally:
        stop.set()
        t.join()
    q = table(spark, conf, "quarantine").collect()
    assert [r["reason"].split(":")[0] for r in q] == ["file_changed_while_reading"]
    assert table(spark, conf, "source_files").count() == 0 and table(spark, conf, "raw_records").count() == 0
    build(spark, conf, ["ingest"])
    lines = [l for l in live.read_text().splitlines() if l.strip()]
    assert table(spark, conf, "raw_records").count() == len(lines)
    assert table(spark, conf, "quarantine").filter(F.col("reason").startswith("file_changed")).count() == 0


def test_a_source_that_adds_a_column_lands_in_an_older_lake(spark, tmp_path, small_corpus):
    """The dataset export gains a VIEW_COUNT and an UPLOAD_DATE column. The old lake's raw_records has
    no ``extra`` column yet: it gains it (ALTER TABLE ADD COLUMNS), the new values are kept there and
    upload dates fill published_at; nothing else changes shape."""
    from transcript_lake.schemas import table_specs as specs

    conf = make_conf(tmp_path / "lake", small_manifest(small_corpus)[:1])
    # an older lake: raw_records created from the DDL as it was before `extra` existed
    old_ddl = "\n".join(l for l in specs()["raw_records"].ddl.splitlines() if not l.strip().startswith("extra "))
    spark.sql(old_ddl.replace("transcripts.raw_records", f"delta.`{table_path(conf, 'raw_records')}`", 1))
    assert "extra" not in table(spark, conf, "raw_records").columns

    hf = small_corpus / "epiphany3.hf-viewer.txt"
    lines = hf.read_text(encoding="utf-8").split("\n")
    from transcript_lake.formats.hf_viewer import parse_header

    columns, first = parse_header(lines)
    header = lines[:first] + ["VIEW_COUNT", "int64", "12", "98.1k", "UPLOAD_DATE", "string", "10", "10"]
    body = lines[first:]
    while body and not body[-1].strip():
        body.pop()
    out, width = [], len(columns)
    assert len(body) == 3 * width
    for i in range(0, len(body), width):
        out += body[i:i + width] + [str(1000 + i), f"2024-0{1 + i // width}-15"]
    hf.write_text("\n".join(header + out) + "\n", encoding="utf-8")

    build(spark, conf, ["ingest", "segments"])
    raw = table(spark, conf, "raw_records").orderBy("record_idx").collect()
    assert "extra" in table(spark, conf, "raw_records").columns
    assert [r["extra"] for r in raw] == [{"view_count": str(1000 + i * width)} for i in range(len(raw))]
    assert [str(r["published_at"])[:10] for r in raw] == [f"2024-0{1 + i}-15" for i in range(len(raw))]
    assert table(spark, conf, "quarantine").filter(F.col("stage") == "ingest").count() == 0
    assert table(spark, conf, "videos").count() == len(raw) == 3
