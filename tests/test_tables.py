"""The write helpers every stage goes through (:mod:`transcript_lake.tables`), on copies of the small
gold lake's real tables: each returns what it wrote, writes exactly what it is given, and commits
nothing when nothing differs. The paths a lake on an object store takes (Spark instead of the
JVM-free local reads and writes) are run too, by treating the local lake as if it were remote."""

from __future__ import annotations

import json

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from conftest import copy_lake, load
from transcript_lake import tables
from transcript_lake.lake import table_path
from transcript_lake.tables import COMMIT_METADATA, merge_changes, merge_rows, replace_where, table_version

KEYS = ["concept", "video_id"]


@pytest.fixture(params=["local", "object store"])
def lake(request, spark, gold_lake, tmp_path, monkeypatch):
    """A copy of the gold lake; under ``object store`` every helper takes its Spark path."""
    if request.param == "object store":
        monkeypatch.setattr(tables, "local_table_dir", lambda conf, name: None)
    return copy_lake(gold_lake[0], tmp_path / "lake")


def last_operation(spark, conf, name) -> str:
    return DeltaTable.forPath(spark, table_path(conf, name)).history(1).first()["operation"]


def same_rows(a, b) -> bool:
    return a.exceptAll(b).isEmpty() and b.exceptAll(a).isEmpty()


def test_merge_changes_writes_exactly_the_source_by_merge_or_by_overwrite(spark, gold_lake, tmp_path):
    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    original = load(spark, conf, "concept_video").localCheckpoint()
    keys = original.select(*KEYS).orderBy(*KEYS).collect()
    dropped, updated = keys[:3], keys[3:5]

    def pick(rows):
        return F.struct(*KEYS).isin([F.struct(*[F.lit(r[k]) for k in KEYS]) for r in rows])

    new_row = original.filter(pick(keys[5:6])).withColumn("concept", F.lit("a concept no video had"))
    source = (original.filter(~pick(dropped))
              .withColumn("tfidf", F.when(pick(updated), F.col("tfidf") + 1).otherwise(F.col("tfidf")))
              .unionByName(new_row)).localCheckpoint()

    # 6 changed rows of a few hundred: a MERGE of those rows when the table does not count as small
    assert merge_changes(spark, conf, "concept_video", source, KEYS, small_table_rows=0) == \
        {"inserted": 1, "updated": 2, "deleted": 3}
    assert last_operation(spark, conf, "concept_video") == "MERGE"
    assert same_rows(load(spark, conf, "concept_video"), source)

    # the same source again: nothing differs, nothing is committed
    version = table_version(spark, conf, "concept_video")
    assert merge_changes(spark, conf, "concept_video", source, KEYS) == {"inserted": 0, "updated": 0, "deleted": 0}
    assert table_version(spark, conf, "concept_video") == version

    # back to the original: a small table is overwritten, with the same counts a MERGE reports
    assert merge_changes(spark, conf, "concept_video", original, KEYS) == {"inserted": 3, "updated": 2, "deleted": 1}
    assert last_operation(spark, conf, "concept_video") == "WRITE"
    assert table_version(spark, conf, "concept_video") == version + 1
    assert same_rows(load(spark, conf, "concept_video"), original)


def test_merge_rows_upserts_deletes_and_carries_the_run_metadata(spark, lake):
    conf = lake
    before = load(spark, conf, "stage_state").localCheckpoint()
    row = {"stage": "windows", "input_hash": "h1", "settings": "{}", "updated_at": None}
    spark.conf.set(COMMIT_METADATA, json.dumps({"run_id": "r1", "stage": "windows"}))
    try:
        merge_rows(spark, conf, "stage_state", [{**row, "video_id": "new-a"}, {**row, "video_id": "new-b"}],
                   ["stage", "video_id"])
        history = DeltaTable.forPath(spark, table_path(conf, "stage_state")).history(1).first()
        assert json.loads(history["userMetadata"])["run_id"] == "r1"
        # one updated, one deleted (only where the condition holds), everything else untouched
        merge_rows(spark, conf, "stage_state", [{**row, "video_id": "new-a", "input_hash": "h2"}], ["stage", "video_id"],
                   delete_missing="t.stage = 'windows' AND t.video_id IN ('new-b')")
    finally:
        spark.conf.unset(COMMIT_METADATA)
    after = load(spark, conf, "stage_state")
    assert {r["video_id"]: r["input_hash"] for r in after.filter(F.col("video_id").startswith("new-")).collect()} == {"new-a": "h2"}
    assert same_rows(after.filter(~F.col("video_id").startswith("new-")), before)
    with pytest.raises(ValueError, match="may be null"):
        merge_rows(spark, conf, "mentions", [], ["window_idx"])


def test_replace_where_returns_the_rows_it_wrote(spark, lake):
    conf = lake
    windows = load(spark, conf, "windows")
    total = windows.count()
    video = windows.groupBy("video_id").count().orderBy(F.desc("count")).first()
    rows = windows.filter(F.col("video_id") == video["video_id"]).localCheckpoint()
    predicate = f"video_id = '{video['video_id']}'"
    # the video's rows share files with other videos: those are copied, not counted as written
    assert replace_where(spark, conf, "windows", rows, predicate) == video["count"]
    assert replace_where(spark, conf, "windows", rows.limit(5), predicate) == 5
    version = table_version(spark, conf, "windows")
    assert replace_where(spark, conf, "windows", rows.limit(0), "video_id = 'no such video'") == 0
    assert table_version(spark, conf, "windows") == version  # nothing to write or remove: no commit
    assert load(spark, conf, "windows").count() == total - video["count"] + 5
