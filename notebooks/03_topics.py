# Databricks notebook source
# MAGIC %md
# MAGIC # Topics
# MAGIC BERTopic's topics over the transcript windows (`topics`, `window_topics`), how much of each video they take
# MAGIC (`topic_timeline`, view `video_topic_mix`) and how they move along the channel (`topics_over_time`).

# COMMAND ----------

try:
    spark  # noqa: F821
except NameError:
    from transcript_lake.config import load_config
    from transcript_lake.spark import build_spark

    spark = build_spark(load_config("local"))

import plotly.express as px

# COMMAND ----------

# MAGIC %sql
# MAGIC -- The run that produced the current topics
# MAGIC SELECT run_id, backend, n_topics, round(outlier_share, 3) AS outlier_share, round(fit_seconds, 1) AS fit_seconds
# MAGIC FROM transcripts.topic_runs ORDER BY created_at DESC LIMIT 3

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT topic_id, label, size, slice(transform(top_terms, t -> t.term), 1, 6) AS terms
# MAGIC FROM transcripts.topics WHERE topic_id >= 0 ORDER BY size DESC LIMIT 15

# COMMAND ----------

# Topic share per video, in upload order (the 12 largest topics).
mix = spark.sql("""
    SELECT m.upload_rank, m.topic_label, m.share FROM transcripts.video_topic_mix m
    JOIN (SELECT topic_id FROM transcripts.topics WHERE topic_id >= 0 ORDER BY size DESC LIMIT 12) t USING (topic_id)
""").toPandas()
fig = px.bar(mix, x="upload_rank", y="share", color="topic_label", title="Topic mix per video (upload order)")
displayHTML(fig.to_html(include_plotlyjs="cdn"))  # noqa: F821

# COMMAND ----------

# BERTopic's topics over time, with the upload rank as the time axis.
tot = spark.sql("""
    SELECT o.upload_rank, o.frequency, t.label FROM transcripts.topics_over_time o JOIN transcripts.topics t USING (topic_id)
    WHERE o.topic_id >= 0""").toPandas()
fig = px.line(tot, x="upload_rank", y="frequency", color="label", title="Topics over time")
displayHTML(fig.to_html(include_plotlyjs="cdn"))  # noqa: F821
