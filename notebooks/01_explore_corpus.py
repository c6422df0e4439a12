# Databricks notebook source
# MAGIC %md
# MAGIC # Explore the transcript corpus
# MAGIC What the ingest stage produced: videos in upload order, their segments and chapters, and what
# MAGIC went to quarantine. Runs unchanged on Databricks (where `spark` exists) and locally.

# COMMAND ----------

# On Databricks `spark` is given; locally the project's builder adds Delta and the transcripts.* tables.
try:
    spark  # noqa: F821
except NameError:
    from transcript_lake.config import load_config
    from transcript_lake.spark import build_spark

    spark = build_spark(load_config("local"))

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT upload_rank, video_id, title, n_segments, round(duration_s / 60, 1) AS minutes
# MAGIC FROM transcripts.videos ORDER BY upload_rank

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT source_format, count(*) AS videos, sum(n_segments) AS segments,
# MAGIC        round(sum(duration_s) / 3600, 1) AS hours
# MAGIC FROM transcripts.videos GROUP BY source_format ORDER BY videos DESC

# COMMAND ----------

words = spark.sql("SELECT sum(n_words) AS words FROM transcripts.segments").collect()[0]["words"]
print(f"{words:,} words in the corpus")

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT c.video_id, c.chapter_idx, c.start_s, c.title
# MAGIC FROM transcripts.chapters c JOIN transcripts.videos v USING (video_id)
# MAGIC WHERE v.upload_rank = (SELECT max(upload_rank) FROM transcripts.videos WHERE video_id IN (SELECT video_id FROM transcripts.chapters))
# MAGIC ORDER BY c.chapter_idx

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT stage, action, split(reason, ':')[0] AS reason, count(*) AS n
# MAGIC FROM transcripts.quarantine GROUP BY ALL ORDER BY n DESC
