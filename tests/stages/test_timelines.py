"""Timelines stage (gold concept tables), the SQL views from Spark and DuckDB, and the HTML report,
on the small lake built from the corpus fixtures."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from pyspark.sql import functions as F

from conftest import build, copy_lake, load, versions
from transcript_lake.catalog import register_lake
from transcript_lake.errors import UserError
from transcript_lake.report import write_concept_report, write_video_report
from transcript_lake.schemas import view_specs
from transcript_lake.sql import duckdb_connect


def spoken_canonical(spark, conf):
    aliases = load(spark, conf, "concept_aliases").select("alias", F.col("concept").alias("canonical"))
    return (load(spark, conf, "mentions").filter("start_s IS NOT NULL")
            .join(aliases, F.col("concept") == F.col("alias")).select("video_id", "window_idx", "start_s", "canonical"))


def test_timeline_counts_every_spoken_mention_once_in_its_minute(spark, gold_lake):
    conf, _ = gold_lake
    tl = load(spark, conf, "concept_timeline")
    m = spoken_canonical(spark, conf)
    assert tl.agg(F.sum("mentions")).first()[0] == m.count() > 0
    assert tl.count() == tl.select("concept", "video_id", "bucket_start_s").distinct().count()
    bad = tl.filter((F.col("bucket_start_s") % 60 != 0) | (F.col("bucket_end_s") != F.col("bucket_start_s") + 60)
                    | (F.col("first_mention_s") < F.col("bucket_start_s")) | (F.col("first_mention_s") >= F.col("bucket_end_s")))
    assert bad.count() == 0
    # one concept, recounted from the silver mentions
    concept = tl.groupBy("concept").agg(F.sum("mentions").alias("n")).orderBy(F.desc("n")).first()["concept"]
    expected = (m.filter(F.col("canonical") == concept)
                .groupBy("video_id", (F.floor(F.col("start_s") / 60) * 60).alias("b")).count().collect())
    got = {(r["video_id"], r["bucket_start_s"]): r["mentions"] for r in tl.filter(F.col("concept") == concept).collect()}
    assert got == {(r["video_id"], float(r["b"])): r["count"] for r in expected}
    # links open the video at the first mention's second; YouTube ids only
    for r in tl.limit(200).collect():
        assert r["url"] == f"https://www.youtube.com/watch?v={r['video_id']}&t={math.floor(r['first_mention_s'])}s"
    kp_total = tl.agg(F.sum("keyphrase_score")).first()[0]
    assert kp_total == pytest.approx(load(spark, conf, "keyphrases").agg(F.sum("score")).first()[0], rel=1e-4)


def test_concept_video_ranks_and_tfidf(spark, gold_lake):
    conf, _ = gold_lake
    cv = load(spark, conf, "concept_video").toPandas()
    assert len(cv) == len(cv.drop_duplicates(["concept", "video_id"]))
    for _, g in cv.groupby("video_id"):
        assert sorted(g["rank_in_video"]) == list(range(1, len(g) + 1))
        assert g.sort_values("rank_in_video")["tfidf"].is_monotonic_decreasing
    assert (cv["first_mention_s"] <= cv["last_mention_s"]).all() and (cv["minutes_covered"] >= 1).all()
    n_videos = cv["video_id"].nunique()
    everywhere = cv.groupby("concept")["video_id"].nunique()
    assert (cv[cv["concept"].isin(everywhere[everywhere == n_videos].index)]["tfidf"] == 0).all()
    tl = load(spark, conf, "concept_timeline").groupBy("concept", "video_id").agg(F.sum("mentions").alias("m")).toPandas()
    merged = cv.merge(tl, on=["concept", "video_id"])
    assert len(merged) == len(cv) and (merged["m"] == merged["mentions"]).all()


def test_trend_is_cumulative_along_each_channel(spark, gold_lake):
    conf, _ = gold_lake
    tr = load(spark, conf, "concept_trend").toPandas()
    assert set(tr["trend"]) <= {"emerging", "fading", "steady", "one_off", "too_few_videos"}
    for (_, _), g in tr.groupby(["concept", "channel"]):
        g = g.sort_values("channel_rank")
        assert list(g["cumulative_videos"]) == list(range(1, len(g) + 1))
        assert (g["first_seen_rank"] == g["channel_rank"].min()).all() and (g["n_videos"] == len(g)).all()
    # the single-video channels (makemore, PaliGemma) cannot have a trend
    single = tr[tr["channel"].isin(["Andrej Karpathy", "Umar Jamil"])]
    assert len(single) and (single["trend"] == "too_few_videos").all() and single["trend_score"].isna().all()
    # shares of a video sum to 1, up to the rounding of each stored share to 6 digits
    per_video = tr.groupby("video_id")["share"]
    assert ((per_video.sum() - 1).abs() <= per_video.size() * 5e-7 + 1e-9).all()


def test_cooccurrence_counts_windows_and_pmi(spark, gold_lake):
    conf, _ = gold_lake
    co = load(spark, conf, "concept_cooccurrence").toPandas()
    assert len(co) > 0 and (co["rank"] <= 25).all() and co["npmi"].between(-1, 1).all()
    assert (co["windows_together"] <= co[["windows_concept", "windows_other"]].min(axis=1)).all()
    assert (co["windows_together"] >= 3).all()
    # recount the strongest pair from the silver rows
    row = co.sort_values(["windows_together", "concept"], ascending=[False, True]).iloc[0]
    m = spoken_canonical(spark, conf)
    kp_alias = load(spark, conf, "concept_aliases").select("alias", F.col("concept").alias("canonical"))
    kp = (load(spark, conf, "keyphrases").join(kp_alias, F.col("concept") == F.col("alias"))
          .select("video_id", "window_idx", "canonical"))
    sets = m.select("video_id", "window_idx", "canonical").unionByName(kp).distinct()
    a = sets.filter(F.col("canonical") == row["concept"]).select("video_id", "window_idx")
    b = sets.filter(F.col("canonical") == row["other_concept"]).select("video_id", "window_idx")
    assert a.join(b, ["video_id", "window_idx"]).count() == row["windows_together"]
    n = sets.select("video_id", "window_idx").distinct().count()
    assert row["pmi"] == pytest.approx(math.log(row["windows_together"] * n / (row["windows_concept"] * row["windows_other"])), abs=1e-5)


def test_rerun_is_a_noop_and_a_trend_setting_rewrites_only_the_trend(spark, gold_lake, tmp_path):
    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    before = versions(spark, conf)
    assert build(spark, conf, ["timelines"])["timelines"].status == "skipped"
    forced = build(spark, conf.with_overrides(["run.full_refresh=true"]), ["timelines"])["timelines"]
    assert forced.metrics["rows_changed"] == 0  # recomputed, nothing differs, nothing rewritten
    assert versions(spark, conf, skip=("pipeline_runs", "stage_state")) == \
        {k: v for k, v in before.items() if k != "stage_state"}
    before = versions(spark, conf)
    # the small corpus has one channel of 3 videos (1 "recent"): only min_videos=1 lets flags flip
    tweaked = conf.with_overrides(["timelines.trend.min_videos=1", "timelines.trend.ratio=1.01"])
    result = build(spark, tweaked, ["timelines"])["timelines"]
    assert result.metrics["concept_timeline"] == result.metrics["concept_video"] == result.metrics["concept_cooccurrence"] == "+0 ~0 -0"
    assert re.fullmatch(r"\+0 ~[1-9]\d* -0", result.metrics["concept_trend"]), result.metrics
    after = versions(spark, conf)
    assert [n for n in after if after[n] != before[n]] == ["concept_trend", "stage_state"]


def test_views_answer_the_same_from_spark_and_duckdb(spark, gold_lake):
    conf, _ = gold_lake
    register_lake(spark, conf)
    con = duckdb_connect(conf)
    assert set(view_specs()) == {"concept_lookup", "top_concepts_per_video", "concept_locations", "concept_first_appearance",
                                 "concept_neighbours", "concept_trends", "video_topic_mix"}
    for name in view_specs():
        query = f"SELECT * FROM transcripts.{name}"
        a = spark.sql(query).toPandas()
        b = con.sql(query).df()
        assert len(a) > 0, name
        key = list(a.columns)
        a = a.sort_values(key).reset_index(drop=True)
        b = b[key].sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-6, obj=name)


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.links = 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and attrs.get("class") == "row":
            self.rows += 1
        if tag == "a" and "&t=" in (attrs.get("href") or ""):
            self.links.append(attrs["href"])


def test_reports_are_self_contained_pages_with_links_into_the_videos(spark, gold_lake, tmp_path):
    conf, _ = gold_lake
    con = duckdb_connect(conf)
    concept, alias, n = con.sql("SELECT concept, alias, n_mentions FROM transcripts.concept_lookup WHERE rule <> 'self' "
                                "ORDER BY n_videos DESC, n_mentions DESC LIMIT 1").fetchone()
    page = write_concept_report(conf, alias.upper(), str(tmp_path / "c.html"))  # any alias, any case
    text = page.read_text()
    cells = _Cells()
    cells.feed(text)
    n_videos = con.sql("SELECT count(*) FROM transcripts.videos").fetchone()[0]
    assert cells.rows == n_videos  # one row per video, those without mentions hidden until asked
    timeline = con.execute("SELECT url FROM transcripts.concept_timeline WHERE concept = ?", [concept]).fetchall()
    assert sorted(set(cells.links)) == sorted({u for (u,) in timeline})
    assert "<script src" not in text and "<link" not in text and "Co-occurring concepts" in text
    video = con.sql("SELECT video_id FROM transcripts.videos ORDER BY upload_rank LIMIT 1").fetchone()[0]
    vtext = write_video_report(conf, video, str(tmp_path / "v.html")).read_text()
    assert "Top concepts" in vtext and "Topic mix" in vtext
    with pytest.raises(UserError, match="did you mean"):
        write_concept_report(conf, concept[:-1])  # a typo: suggestions, not a stack trace
    with pytest.raises(UserError, match="no video"):
        write_video_report(conf, "nope")
