# Databricks notebook source
# MAGIC %md
# MAGIC # Search: the moment that answers a question
# MAGIC Hybrid search over every video (BM25 words, embedding meaning, concepts with their aliases), computed by
# MAGIC Spark over the search index (`search_windows`, `search_terms`, `search_concepts`) and `window_embeddings`:
# MAGIC the same ranking as `transcript-lake search`, for lakes too big for one machine or on object storage.
# MAGIC Each result links to the second of the video where it is said. The `query` widget sets the question.

# COMMAND ----------

try:
    spark  # noqa: F821
except NameError:  # local run: the project's builder adds Delta and registers transcripts.* (tables and views)
    from transcript_lake.config import load_config
    from transcript_lake.spark import build_spark

    spark = build_spark(load_config("local"))

try:
    dbutils.widgets.text("query", "how does the vision encoder feed the language model?")  # noqa: F821
    QUERY = dbutils.widgets.get("query")  # noqa: F821
except NameError:
    QUERY = "how does the vision encoder feed the language model?"

# COMMAND ----------

# The lake behind transcripts.* (wherever it lives: a local folder, s3a://, abfss://, dbfs:/).
from transcript_lake.config import load_config
from transcript_lake.search import format_results, search_spark

location = spark.sql("DESCRIBE DETAIL transcripts.search_windows").first()["location"]
lake = location.rsplit("/", 1)[0]
lake = lake[len("file:"):] if lake.startswith("file:") and "://" not in lake else lake
conf = load_config("local", [f"lake.root={lake}"])

hits = search_spark(spark, conf, QUERY, top=10)
print(format_results(hits, "table"))

# COMMAND ----------

# The results as a DataFrame (one row per moment, with the link to the second).
results = spark.createDataFrame([{k: v for k, v in h.to_dict().items() if k not in ("signals", "matched_terms", "concepts")}
                                 | {"signals": ", ".join(h.signals), "concepts": ", ".join(h.concepts)} for h in hits],
                                "rank int, video_id string, title string, channel string, start_s double, end_s double, "
                                "window_start_s double, window_end_s double, score double, url string, snippet string, "
                                "window_idx int, signals string, concepts string") if hits else None
if results is not None:
    display(results.select("rank", "title", "start_s", "score", "signals", "snippet", "url"))  # noqa: F821
assert hits, f"no moment found for {QUERY!r}"

# COMMAND ----------

# MAGIC %sql
# MAGIC -- The index itself is plain Delta: e.g. the most frequent analysed terms of each video
# MAGIC SELECT video_id, term, sum(tf) AS occurrences
# MAGIC FROM transcripts.search_terms WHERE field = 'text'
# MAGIC GROUP BY video_id, term ORDER BY occurrences DESC LIMIT 10
