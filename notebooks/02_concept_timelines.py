# Databricks notebook source
# MAGIC %md
# MAGIC # Concept timelines
# MAGIC Which concepts the channel talks about, when in each video, and how that changes from video to video.
# MAGIC Reads the gold tables `concept_video`, `concept_timeline`, `concept_trend`, `concept_cooccurrence` and the
# MAGIC views of `schemas/views/`. Runs unchanged on Databricks (`spark`, `displayHTML` given) and locally.

# COMMAND ----------

try:
    spark  # noqa: F821
except NameError:  # local run: the project's builder adds Delta and registers transcripts.* (tables and views)
    from transcript_lake.config import load_config
    from transcript_lake.spark import build_spark

    spark = build_spark(load_config("local"))

import plotly.express as px

# The concept to follow (any alias). On Databricks a widget sets it.
try:
    dbutils.widgets.text("concept", "attention")  # noqa: F821
    WANTED = dbutils.widgets.get("concept")  # noqa: F821
except NameError:
    WANTED = "attention"

# COMMAND ----------

# Resolve the word to its canonical concept; fall back to the concept spoken in the most videos.
found = spark.sql("SELECT concept FROM transcripts.concept_lookup WHERE alias = :a ORDER BY n_mentions DESC LIMIT 1",
                  args={"a": WANTED.lower()}).collect()
CONCEPT = found[0]["concept"] if found else spark.sql(
    "SELECT concept FROM transcripts.concepts ORDER BY n_videos DESC, n_mentions DESC LIMIT 1").collect()[0]["concept"]
print(f"following concept {CONCEPT!r} (asked for {WANTED!r})")

# COMMAND ----------

# MAGIC %sql
# MAGIC -- The most characteristic concepts of the latest videos
# MAGIC SELECT upload_rank, title, rank_in_video, label, mentions, minutes_covered, round(tfidf, 4) AS tfidf
# MAGIC FROM transcripts.top_concepts_per_video
# MAGIC WHERE upload_rank >= (SELECT max(upload_rank) - 2 FROM transcripts.videos) AND rank_in_video <= 5
# MAGIC ORDER BY upload_rank DESC, rank_in_video

# COMMAND ----------

# Heatmap: the 25 concepts spoken in the most videos x videos in upload order (share of the video's mentions).
top = spark.sql("""
    SELECT concept FROM transcripts.concept_trends ORDER BY n_videos DESC, mentions DESC LIMIT 25""")
grid = (spark.sql("""
    SELECT c.label, tr.upload_rank, tr.share
    FROM transcripts.concept_trend tr JOIN transcripts.concepts c USING (concept)""")
        .join(top.join(spark.table("transcripts.concepts"), "concept").select("label"), "label").toPandas())
heat = grid.pivot_table(index="label", columns="upload_rank", values="share", fill_value=0.0)
heat = heat.loc[heat.sum(axis=1).sort_values(ascending=False).index]
fig = px.imshow(heat, aspect="auto", color_continuous_scale="Blues",
                labels={"x": "video (upload order)", "y": "concept", "color": "share of mentions"},
                title="Concepts across videos")
displayHTML(fig.to_html(include_plotlyjs="cdn"))  # noqa: F821

# COMMAND ----------

# Minute-by-minute strip of the concept inside the video that mentions it most.
video = spark.sql("SELECT video_id FROM transcripts.concept_video WHERE concept = :c ORDER BY mentions DESC LIMIT 1",
                  args={"c": CONCEPT}).collect()[0]["video_id"]
strip = spark.sql("""
    SELECT bucket_start_s / 60 AS minute, mentions, url FROM transcripts.concept_timeline
    WHERE concept = :c AND video_id = :v ORDER BY bucket_start_s""", args={"c": CONCEPT, "v": video}).toPandas()
fig = px.bar(strip, x="minute", y="mentions", hover_data=["url"],
             title=f"'{CONCEPT}' minute by minute in {video}")
displayHTML(fig.to_html(include_plotlyjs="cdn"))  # noqa: F821

# COMMAND ----------

# Trend across videos: share of each video's mentions and the cumulative number of videos.
trend = spark.sql("""
    SELECT upload_rank, share, cumulative_videos, trend, trend_score FROM transcripts.concept_trend
    WHERE concept = :c ORDER BY upload_rank""", args={"c": CONCEPT}).toPandas()
fig = px.line(trend, x="upload_rank", y="share", markers=True,
              title=f"'{CONCEPT}' across the channel ({trend['trend'].iloc[0]})")
displayHTML(fig.to_html(include_plotlyjs="cdn"))  # noqa: F821

# COMMAND ----------

# MAGIC %sql
# MAGIC -- Emerging and fading concepts of each channel
# MAGIC SELECT channel, trend, label, n_videos, first_seen_rank, round(trend_score, 2) AS trend_score
# MAGIC FROM transcripts.concept_trends WHERE trend IN ('emerging', 'fading')
# MAGIC ORDER BY channel, trend, abs(trend_score) DESC LIMIT 30

# COMMAND ----------

neighbours = spark.sql("""
    SELECT other_label, windows_together, round(npmi, 3) AS npmi FROM transcripts.concept_neighbours
    WHERE concept = :c ORDER BY rank LIMIT 10""", args={"c": CONCEPT})
display(neighbours)  # noqa: F821
