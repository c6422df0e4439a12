"""Stage ``concepts`` (gold): ``mentions`` + ``keyphrases`` + ``videos`` + ``phrase_embeddings`` ->
``concepts``, ``concept_aliases``.

Near-duplicate keys are merged, and every merge says why:
- ``variant``: the same key up to spaces and a plural ``s`` ("vq gan" / "vqgan", "transformers");
- ``generic_head``: ``X <head>`` with a head from ``concepts.generic_heads`` ("transformer model");
  both gated by ``concepts.lexical_min_similarity`` of their embeddings;
- ``embedding``: keys sharing a word whose embeddings reach ``concepts.merge_threshold``.
Pairs are found in Spark, blocked by shared word / variant form (``applyInPandas``, numpy per block);
only the resulting edges (metadata, not the corpus) come to the driver for a greedy assignment:
keys in descending mention count each join the closest already-canonical neighbour, so chains like
encoder -> text encoder -> text decoder cannot form. The stage runs when an input table's Delta version
or the settings changed, and writes both tables by diff (only rows whose values changed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ..config import Config
from ..stage import Settings, Stage, StageContext
from ..tables import merge_changes, read_table

NAME = "concepts"
EDGE_SCHEMA = "a string, b string, rule string, similarity double"


def settings(conf: Config) -> Settings:
    keys = ("merge_threshold", "lexical_min_similarity", "generic_heads", "max_block")
    return Settings(output={**{k: conf.get(f"concepts.{k}") for k in keys}, "model": str(conf.get("nlp.embedding_model"))})


def squash(key: str) -> str:
    words = key.split()
    last = words[-1]
    if len(last) > 3 and last.endswith("s") and not last.endswith("ss"):
        words[-1] = last[:-1]
    return "".join(words)


def block_edges(threshold: float, lexical_min: float, heads: frozenset, max_block: int):
    """applyInPandas body: one block of keys (with vectors) -> candidate merge edges."""

    def fn(df: pd.DataFrame) -> pd.DataFrame:
        block = df["block"].iloc[0]
        keys = df["key"].tolist()
        if len(keys) < 2 or (block.startswith("w:") and len(keys) > max_block):
            return pd.DataFrame(columns=["a", "b", "rule", "similarity"])
        vecs = np.stack(df["vector"].to_numpy()).astype("float32")
        sims = vecs @ vecs.T
        # Only pairs above the block's floor can become edges: numpy finds them, Python judges them.
        floor = threshold if block.startswith("w:") else lexical_min
        out = []
        for i, j in zip(*np.nonzero(np.triu(sims >= floor, 1))):
            sim = float(sims[i, j])
            a, b = keys[i], keys[j]
            if block.startswith("sq:"):
                rule = "variant" if sim >= lexical_min else None
            elif block.startswith("base:"):
                short, long_ = sorted((a, b), key=len)
                head = long_[len(short):].strip()
                rule = "generic_head" if long_.startswith(short + " ") and head in heads and sim >= lexical_min else None
            else:
                rule = "embedding" if sim >= threshold else None
            if rule:
                out.append((a, b, rule, sim))
        return pd.DataFrame(out, columns=["a", "b", "rule", "similarity"])

    return fn


def assign(counts: dict[str, int], edges: list[tuple[str, str, str, float]]) -> dict[str, tuple[str, str, float]]:
    """Greedy merge: keys by descending count; each joins its most similar neighbour that is canonical."""
    neighbours: dict[str, list] = {}
    priority = {"variant": 0, "generic_head": 1, "embedding": 2}
    for a, b, rule, sim in edges:
        neighbours.setdefault(a, []).append((b, rule, sim))
        neighbours.setdefault(b, []).append((a, rule, sim))
    order = sorted(neighbours, key=lambda k: (-counts.get(k, 0), len(k), k))
    rank = {k: i for i, k in enumerate(order)}
    canonical: dict[str, tuple[str, str, float]] = {}
    for key in order:
        options = [(n, r, s) for n, r, s in neighbours[key] if rank[n] < rank[key] and canonical[n][0] == n]
        if options:
            n, r, s = min(options, key=lambda o: (priority[o[1]], -o[2]))
            canonical[key] = (n, r, s)
        else:
            canonical[key] = (key, "self", None)
    return canonical


def run(ctx: StageContext) -> None:
    spark, conf, result = ctx.spark, ctx.conf, ctx.result
    settings, model = ctx.settings.output, ctx.settings["model"]
    mentions = read_table(spark, conf, "mentions")
    videos = read_table(spark, conf, "videos").select("video_id", "upload_rank")
    key_counts = mentions.groupBy(F.col("concept").alias("key")).agg(F.count("*").alias("n"))
    vectors = read_table(spark, conf, "phrase_embeddings").filter(F.col("model") == model).select(
        F.col("phrase").alias("key"), "vector")
    keyed = key_counts.join(vectors, "key")
    heads = frozenset(settings["generic_heads"])

    @F.udf("array<string>")
    def blocks(key: str):
        words = key.split()
        base = " ".join(words[:-1]) if len(words) > 1 and words[-1] in heads else key
        return [f"w:{w}" for w in set(words) if len(w) > 2] + [f"sq:{squash(key)}", f"base:{base}"]

    # Most blocks hold one key (a word no other key has): they cannot give an edge, and one
    # Python call per group would cost more than the whole comparison, so they are dropped first.
    exploded = keyed.withColumn("block", F.explode(blocks("key")))
    sizes = exploded.groupBy("block").count().filter(F.col("count") >= 2).select("block")
    edges = (exploded.join(sizes, "block")
             .groupBy("block").applyInPandas(
                 block_edges(float(settings["merge_threshold"]), float(settings["lexical_min_similarity"]), heads,
                             int(settings["max_block"])), EDGE_SCHEMA)
             .dropDuplicates(["a", "b", "rule"]))
    # Edges and the counts of their endpoints are small (metadata): the greedy pass runs on the driver.
    edge_rows = [(r["a"], r["b"], r["rule"], r["similarity"]) for r in edges.collect()]
    involved = {k for e in edge_rows for k in e[:2]}
    counts = {r["key"]: r["n"] for r in key_counts.filter(F.col("key").isin(list(involved))).collect()} if involved else {}
    canonical = assign(counts, edge_rows)
    merges = [(alias, c, rule, sim) for alias, (c, rule, sim) in canonical.items() if c != alias]
    ctx.step("%d candidate edge(s), %d key(s) merged into another", len(edge_rows), len(merges))

    merged = spark.createDataFrame(merges, "alias string, concept string, rule string, similarity double") if merges else \
        spark.createDataFrame([], "alias string, concept string, rule string, similarity double")
    aliases = (key_counts.select(F.col("key").alias("alias"))
               .join(merged, "alias", "left")
               .select("alias", F.coalesce("concept", "alias").alias("concept"),
                       F.coalesce("rule", F.lit("self")).alias("rule"), "similarity"))
    alias_changes = merge_changes(spark, conf, "concept_aliases", aliases, ["alias"])

    amap = aliases.select(F.col("alias").alias("key"), F.col("concept").alias("canonical"))
    m = (mentions.join(amap, mentions["concept"] == amap["key"])
         .select("video_id", "surface", F.col("canonical").alias("concept")).join(videos, "video_id"))
    kp = (read_table(spark, conf, "keyphrases").join(amap, F.col("concept") == F.col("key"))
          .groupBy(F.col("canonical").alias("concept")).agg(F.count("*").alias("n_keyphrases")))
    alias_info = (aliases.filter("rule != 'self'").join(key_counts.withColumnRenamed("key", "alias"), "alias")
                  .groupBy("concept").agg(F.sort_array(F.collect_list(F.struct(
                      "alias", "rule", "similarity", F.col("n").alias("n_mentions")))).alias("aliases")))
    concepts = (m.groupBy("concept").agg(
                    F.mode("surface", deterministic=True).alias("label"), F.count("*").alias("n_mentions"),
                    F.countDistinct("video_id").alias("n_videos"),
                    F.min_by("video_id", "upload_rank").alias("first_video_id"),
                    F.min("upload_rank").alias("first_upload_rank"))
                .join(alias_info, "concept", "left").join(kp, "concept", "left")
                .select("concept", "label", "aliases", "n_mentions", F.coalesce("n_keyphrases", F.lit(0)).alias("n_keyphrases"),
                        "n_videos", "first_video_id", "first_upload_rank"))
    concept_changes = merge_changes(spark, conf, "concepts", concepts, ["concept"])
    n = read_table(spark, conf, "concepts").count()
    result.add(concepts=n, merged=len(merges), aliases_changed=sum(alias_changes.values()),
               concepts_changed=sum(concept_changes.values()))
    result.wrote += ["concept_aliases", "concepts"]


STAGE = Stage(
    name=NAME, run=run, settings=settings,
    inputs=("mentions", "keyphrases", "videos", "phrase_embeddings"), outputs=("concepts", "concept_aliases"),
    doc="mentions + keyphrases + phrase embeddings -> concepts and explainable alias merges (gold).",
)
