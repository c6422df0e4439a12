"""Stage ``concepts`` (gold): ``mentions`` + ``keyphrases`` + ``videos`` + ``phrase_embeddings`` +
``window_embeddings`` + ``vocabulary`` -> ``concepts``, ``concept_aliases``.

One concept per thing. Concept keys (spoken, and written in the ``vocabulary``) that name the same
thing are merged, and every merge says why (``concept_aliases.rule``, ``similarity`` = the rule's
score, ``evidence``, ``written_source``); rules, strongest first (:mod:`transcript_lake.nlp.identity`):

- ``glossary``: ``conf/glossary.yaml`` lists the alias (the only rule that may override a guard);
- ``definition``: an acronym defined in written text ("Vision Transformer (ViT)");
- ``variant``: the same joined form ("soft max" / "softmax", "pin sage" / "pinsage", plural ``s``);
- ``initials``: a spoken acronym spelling the initials of a spoken phrase, said in the same videos
  and in contexts (window embeddings) that agree ("rl" / "reinforcement learning");
- ``misheard``: a spoken key never written, rare in English, that sounds and is spelled like a written
  name of the same video / channel / corpus ("polygamma" -> "paligemma", "vat" -> "vit");
- ``generic_head``: ``X <head>`` -> ``X`` (``concepts.generic_heads``), gated by embedding similarity;
- ``embedding``: morphological neighbours sharing a word whose embeddings reach ``merge_threshold``.

Guards no rule but the glossary passes: different numbers (GPT-2 / GPT-3), refinements for the
similarity rules (AlphaGo / AlphaGo Zero), words with different stems (encoder / decoder), and the
glossary's ``never_merge`` pairs. A concept's key is its best written name (then its most said key);
its ``label`` is the written form (ViT, PaliGemma, ConvNeXt), else the most frequent spoken surface;
``kind`` / ``salience`` say how much of a term it is (a name, a term, an incidental phrase, a recording
artefact such as a debugger key), for the views to rank by. Only spoken mentions count.

Spark does the heavy parts: counts, the embedding blocks (gathered per shared word / base, compared
in ``mapInArrow`` batches), the per-video mis-hearing search (``applyInPandas`` per video) and context
vectors. The decisions need every key's counts and the candidate edges at once, so that metadata (one row per
key, per written term, per edge; never the corpus text) is collected for a union-find on the driver.
Both tables are written by diff (:func:`~transcript_lake.tables.merge_changes`: committed only when a
row differs), so every gold table downstream (timelines) follows the new concept keys and nothing
stale remains.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from ..config import Config
from ..embedding import lake_encoding
from ..nlp import identity as ident
from ..stage import Settings, Stage, StageContext
from ..tables import merge_changes, read_table

NAME = "concepts"
EDGE_SCHEMA = "a string, b string, rule string, similarity double"
MISHEARD_SCHEMA = ("key string, target string, video_id string, level string, n long, score double, "
                   "spelling double, sound double, needs_context boolean")
IDENTITY_KEYS = ("variant", "acronyms", "initials", "misheard", "salience")
log = logging.getLogger("transcript_lake")


def settings(conf: Config) -> Settings:
    keys = ("merge_threshold", "lexical_min_similarity", "generic_heads", "max_block", *IDENTITY_KEYS)
    # "model": the lake's embedding encoding, whose phrase and window vectors it compares
    return Settings(output={**{k: conf.get(f"concepts.{k}") for k in keys}, "model": lake_encoding(conf)[0].key})


squash = ident.squash  # the joined form (kept importable from here)


def edges_in_block(block: str, keys: list[str], vecs: np.ndarray, threshold: float, lexical_min: float, heads: frozenset,
                   max_block: int) -> list[tuple[str, str, str, float]]:
    """One block of keys (with their vectors) -> candidate merge edges ``(a, b, rule, similarity)`` of the
    similarity rules (``generic_head``, ``embedding``). A block is a shared word (``w:``) or a base
    without its generic head (``base:``). Guards: different numbers, different stems (encoder /
    decoder) and, for ``embedding``, one key refining the other (alphago / alphago zero)."""
    if len(keys) < 2 or (block.startswith("w:") and len(keys) > max_block):
        return []
    sims = vecs @ vecs.T
    # Only pairs above the block's floor can become edges: numpy finds them, Python judges them.
    floor = threshold if block.startswith("w:") else lexical_min
    out = []
    for i, j in zip(*np.nonzero(np.triu(sims >= floor, 1))):
        sim = float(sims[i, j])
        a, b = keys[i], keys[j]
        if ident.never_merge(a, b) or ident.opposite_stems(a, b):
            continue
        if block.startswith("base:"):
            short, long_ = sorted((a, b), key=len)
            head = long_[len(short):].strip()
            rule = "generic_head" if long_.startswith(short + " ") and head in heads and sim >= lexical_min else None
        else:
            rule = "embedding" if sim >= threshold and not ident.refines(a, b) else None
        if rule:
            out.append((a, b, rule, sim))
    return out


def block_edges(threshold: float, lexical_min: float, heads: frozenset, max_block: int):
    """One block as a pandas DataFrame (block, key, vector) -> its edges as a DataFrame
    (:func:`edges_in_block`; for checking the rules on a few blocks without Spark)."""

    def fn(df: pd.DataFrame) -> pd.DataFrame:
        vecs = np.stack(df["vector"].to_numpy()).astype("float32") if len(df) else np.zeros((0, 0), "float32")
        edges = edges_in_block(df["block"].iloc[0] if len(df) else "", df["key"].tolist(), vecs, threshold, lexical_min,
                               heads, max_block)
        return pd.DataFrame(edges, columns=["a", "b", "rule", "similarity"])

    return fn


def block_edges_batches(threshold: float, lexical_min: float, heads: frozenset, max_block: int):
    """``mapInArrow`` body: rows (block, items = the block's ``(key, vector)`` structs, sorted) -> edges
    (:func:`edges_in_block`). Blocks are handed over in batches, not one Python call per group
    (``applyInPandas``): most hold two or three keys, and the per-group call cost more than the
    comparisons (7.6 s of the stage on the 100-video lake)."""
    import pyarrow as pa

    schema = pa.schema([("a", pa.string()), ("b", pa.string()), ("rule", pa.string()), ("similarity", pa.float64())])

    def fn(batches):
        for batch in batches:
            items = batch.column("items")
            offsets = items.offsets.to_numpy()
            offsets = offsets - offsets[0]
            keys_array, vector_array = items.flatten().flatten()  # the items of every block, in order
            keys = keys_array.to_pylist()
            values = vector_array.flatten().to_numpy(zero_copy_only=False).astype("float32")
            vecs = values.reshape(len(keys), -1) if len(keys) else values.reshape(0, 0)
            out = []
            for i, block in enumerate(batch.column("block").to_pylist()):
                lo, hi = offsets[i], offsets[i + 1]
                out += edges_in_block(block, keys[lo:hi], vecs[lo:hi], threshold, lexical_min, heads, max_block)
            yield pa.RecordBatch.from_arrays([pa.array([e[k] for e in out], type=f.type) for k, f in enumerate(schema)],
                                             schema=schema)

    return fn


def assign(counts: dict[str, int], edges: list[tuple[str, str, str, float]]) -> dict[str, tuple[str, str, float]]:
    """The similarity edges alone, resolved like the stage does (most said key names the concept):
    ``{key: (concept, rule, similarity)}`` for every key of an edge."""
    merged = ident.resolve([], [ident.Edge(a, b, r, s, "") for a, b, r, s in edges],
                           {k: (2, -n, 0, k) for k, n in counts.items()}, set())
    return {k: (m.concept, m.rule, m.score) for k, m in merged.items()}


def misheard_search(written: frozenset, names: pd.DataFrame, channel_of: dict, s: dict):
    """applyInPandas body (one video): its spoken keys (key, n) that are never written and contain a
    word rare in English -> mis-hearing candidates (:func:`~transcript_lake.nlp.identity.misheard_candidates`)."""
    max_zipf = float(s["max_zipf"])

    def fn(df: pd.DataFrame) -> pd.DataFrame:
        video = df["video_id"].iloc[0]
        keys = df[[k not in written and any(ident.zipf(w) < max_zipf for w in k.split()) for k in df["key"]]]
        rows = ident.misheard_candidates(video, channel_of.get(video), keys, names, s)
        return pd.DataFrame(rows, columns=["key", "target", "video_id", "level", "n", "score", "spelling", "sound", "needs_context"])

    return fn


def context_vectors(spark, conf, spoken, keys: set[str], model: str) -> dict[str, np.ndarray]:
    """Each key's context: the mean embedding of the windows it is said in, minus the mean of all
    windows (centred: uncentred means of frequent keys all look like the corpus average), normalised.
    Only for the few keys whose evidence needs it (initials, real-word mis-hearings)."""
    if not keys:
        return {}
    vectors = read_table(spark, conf, "window_embeddings").filter(F.col("model") == model).select("video_id", "window_idx", "vector")
    centre = {r["pos"]: r["mean"] for r in vectors.select(F.posexplode("vector")).groupBy("pos")
              .agg(F.avg("col").alias("mean")).collect()}
    centre_vec = np.asarray([centre[i] for i in range(len(centre))], dtype="float32")
    windows = (spoken.filter(F.col("concept").isin(sorted(keys))).select(F.col("concept").alias("key"), "video_id", "window_idx")
               .distinct())

    def mean(df: pd.DataFrame) -> pd.DataFrame:
        v = np.stack(df["vector"].to_numpy()).astype("float32").mean(axis=0)
        return pd.DataFrame({"key": [df["key"].iloc[0]], "vector": [v.tolist()]})

    rows = (windows.join(vectors, ["video_id", "window_idx"]).groupBy("key")
            .applyInPandas(mean, "key string, vector array<float>").collect())
    out = {}
    for r in rows:
        v = np.asarray(r["vector"], dtype="float32") - centre_vec
        out[r["key"]] = v / (np.linalg.norm(v) or 1.0)
    return out


def preference_order(spoken: dict[str, dict], index: dict[str, dict], glossary_names: set[str]):
    """Which key names a concept, best first: a glossary name, a key written as a name, a key written
    at all, then the most said; ties by written count, then alphabetically."""
    def pref(k: str) -> tuple:
        w = index.get(k)
        tier = 0 if k in glossary_names else 1 if w and w["names"] else 2 if w else 3
        return (tier, -spoken.get(k, {}).get("n", 0), -(sum(w["terms"].values()) if w else 0), k)
    return pref


def label_of(key: str, index: dict[str, dict], surface: str | None, cap_share: float | None = None) -> tuple[str, str]:
    """(label, label_source): the key's most written form and where it is written, else the most
    frequent spoken surface. A written form keeps no capital that only a heading or a sentence gave it:
    when the key is not written as a name, or when it is one plain word (``Entropy``, not ``DINO`` or
    ``ConvNeXt``) that the transcripts write in lower case (``cap_share``: share of the concept's spoken
    surfaces, all its keys, with a capital first letter, below one half)."""
    from ..nlp.concepts import normalise_text, tidy_label
    from ..nlp.vocabulary import is_name_token

    w = index.get(key)
    if w and w["terms"]:
        # A written term that is the key plus trailing words the key drops ("Swin transformer recap",
        # "Swin transformer paper") gives the key's own words as written: "Swin transformer".
        terms: dict[str, int] = {}
        for term, n in w["terms"].items():
            words = term.split()
            cut = " ".join(words[:len(key.split())])
            term = cut if len(words) > len(key.split()) and normalise_text(cut) == key else term
            terms[term] = terms.get(term, 0) + n
        w = {**w, "terms": terms}
        # A form that reads as the key itself first ("CPPN" over "CPPNs", "Swin transformer" over the
        # chapter title "Swin transformer recap"), then the most written, then the one with capitals.
        term = max(w["terms"].items(), key=lambda kv: (normalise_text(kv[0]) == key, ident.squash(normalise_text(kv[0])) == ident.squash(key),
                                                       kv[1], sum(c.isupper() for c in kv[0]), kv[0]))[0]
        order = ["glossary", "title", "chapter", "description", "manifest", "source_file", "comment"]
        source = min(w["sources"], key=lambda x: order.index(x) if x in order else 99)
        term = tidy_label(term)
        plain_word = " " not in term and not is_name_token(term) and cap_share is not None and cap_share < 0.5
        if (not w["names"] or plain_word) and term[:1].isupper() and term[1:2].islower():
            term = term[0].lower() + term[1:]  # a heading's or a sentence's capital, not a name's ("Reconstruction")
        return term, source
    return tidy_label(surface or key), "spoken"


def run(ctx: StageContext) -> None:
    spark, conf, result = ctx.spark, ctx.conf, ctx.result
    s, model = ctx.settings.output, ctx.settings["model"]
    mentions = read_table(spark, conf, "mentions")
    spoken = mentions.filter(F.col("start_s").isNotNull())  # written text (title mentions) never counts
    videos = read_table(spark, conf, "videos").select("video_id", "upload_rank", "channel")

    # 1. One row per spoken key (the concept dimension's metadata) and the written vocabulary: collected.
    has_caps = F.col("surface").rlike("[A-Z].*[A-Z]").cast("double")
    stats_rows = (spoken.groupBy(F.col("concept").alias("key"))
                  .agg(F.count("*").alias("n"), F.countDistinct("video_id").alias("n_videos"),
                       F.avg(has_caps).alias("upper_share"), F.avg(F.col("surface").rlike("^[A-Z]").cast("double")).alias("cap_share"),
                       F.mode("surface", deterministic=True).alias("surface"))
                  .collect())
    stats = {r["key"]: {"n": r["n"], "n_videos": r["n_videos"], "upper_share": r["upper_share"], "cap_share": r["cap_share"],
                        "surface": r["surface"]} for r in stats_rows}
    vocab = read_table(spark, conf, "vocabulary").toPandas()
    index = ident.written_index(vocab)
    glossary_names = set(vocab.loc[vocab["kind"] == "glossary", "key"])
    channel_of = {r["video_id"]: r["channel"] or "unknown" for r in videos.collect()}
    ctx.step("%d spoken key(s), %d written key(s)", len(stats), len(index))

    # 2. Candidate edges of the lexical rules (driver: string work over the key list).
    pref = preference_order(stats, index, glossary_names)
    universe = sorted(set(stats) | set(index), key=pref)
    preference = {k: pref(k) for k in universe}
    edges: list[ident.Edge] = []
    for r in vocab[vocab["kind"] == "glossary_alias"].itertuples(index=False):
        edges.append(ident.Edge(r.key, r.expansion_key, "glossary", 1.0, f"conf/glossary.yaml lists '{r.term}' under '{r.expansion}'",
                                "glossary"))
    upper = {k: v["upper_share"] for k, v in stats.items()}
    edges += ident.definition_edges(vocab, upper, s["acronyms"])
    edges += ident.variant_edges(universe, s["variant"])
    defined = set(vocab.loc[vocab["kind"] == "definition", "key"])
    initials = ident.initials_candidates(stats, universe, defined, {**s["acronyms"], **s["initials"]})

    # 3. Mis-hearings: per video in Spark, against the written names of the video, channel, corpus, glossary.
    names = ident.name_table(index, channel_of)
    per_video = spoken.groupBy("video_id", F.col("concept").alias("key")).agg(F.count("*").alias("n"))
    mis = (per_video.groupBy("video_id")
           .applyInPandas(misheard_search(frozenset(index), names, channel_of, s["misheard"]), MISHEARD_SCHEMA)
           .toPandas())
    ctx.step("%d initials candidate(s), %d mis-hearing candidate(s)", len(initials), len(mis))

    # 4. Evidence from the transcripts: shared videos (initials), then contexts (window embeddings) of
    #    the pairs that still need them (initials, real-word mis-hearings). Small metadata: collected.
    involved = sorted({k for p in initials for k in p})
    by_key: dict[str, set] = {}
    if involved:
        for r in per_video.filter(F.col("key").isin(involved)).select("key", "video_id").collect():
            by_key.setdefault(r["key"], set()).add(r["video_id"])
    shared = {p: len(by_key.get(p[0], set()) & by_key.get(p[1], set())) for p in initials}
    initials = [p for p in initials if shared[p] >= int(s["initials"]["min_shared_videos"])]
    real = [(k, t) for k, t, r in zip(mis["key"], mis["target"], mis["needs_context"]) if r] if len(mis) else []
    need = {k for pair in [*initials, *real] for k in pair}
    vectors = context_vectors(spark, conf, spoken, need, model)
    context = {p: float(vectors[p[0]] @ vectors[p[1]]) for p in [*initials, *real] if p[0] in vectors and p[1] in vectors}
    edges += ident.initials_edges({p: (shared[p], context[p]) for p in initials if p in context}, s["initials"])
    edges += ident.misheard_edges(mis, {k: v["n"] for k, v in stats.items()}, context, s["misheard"],
                                  {k: v["cap_share"] for k, v in stats.items()})
    ctx.step("context vectors of %d key(s)", len(vectors))

    # 5. Similarity rules over phrase embeddings, blocked by shared word / base (Spark).
    heads = frozenset(s["generic_heads"])
    key_counts = spoken.groupBy(F.col("concept").alias("key")).agg(F.count("*").alias("n"))
    phrase_vectors = read_table(spark, conf, "phrase_embeddings").filter(F.col("model") == model).select(
        F.col("phrase").alias("key"), "vector")
    keyed = key_counts.join(phrase_vectors, "key")

    @F.udf("array<string>")
    def blocks(key: str):
        words = key.split()
        base = " ".join(words[:-1]) if len(words) > 1 and words[-1] in heads else key
        return [f"w:{w}" for w in set(words) if len(w) > 2] + [f"base:{base}"]

    # Most blocks hold one key (a word no other key has): they cannot give an edge, so they are
    # dropped before the blocks are gathered.
    exploded = keyed.withColumn("block", F.explode(blocks("key")))
    sizes = exploded.groupBy("block").count().filter(F.col("count") >= 2).select("block")
    blocks_of_keys = (exploded.join(sizes, "block").groupBy("block")
                      .agg(F.sort_array(F.collect_list(F.struct("key", "vector"))).alias("items")))
    similar = (blocks_of_keys
               .mapInArrow(block_edges_batches(float(s["merge_threshold"]), float(s["lexical_min_similarity"]), heads,
                                               int(s["max_block"])), EDGE_SCHEMA)
               .dropDuplicates(["a", "b", "rule"]).collect())
    for r in similar:
        # the more said key names the concept; the pair is undirected
        a, b = (r["a"], r["b"]) if preference.get(r["a"], (9,)) > preference.get(r["b"], (9,)) else (r["b"], r["a"])
        edges.append(ident.Edge(a, b, r["rule"], float(r["similarity"]), f"{r['rule']}: embedding cosine {r['similarity']:.2f}"))

    # 6. Union-find over every edge (driver), never-merge pairs of the glossary respected.
    never = {frozenset((r.key, r.expansion_key)) for r in vocab[vocab["kind"] == "never_merge"].itertuples(index=False)}
    merged = ident.resolve(sorted(stats), edges, preference, never)
    concept_keys = {m.concept for k, m in merged.items() if k in stats}
    rows = []
    for alias, m in merged.items():
        if alias not in stats and m.concept not in concept_keys:
            continue  # written only, in no concept that is spoken: names nothing said
        w = index.get(alias)
        rows.append((alias, m.concept, m.rule, None if m.rule == "self" else float(m.score) if m.score is not None else None,
                     m.evidence or None, ",".join(sorted(w["sources"])) if w else None))
    counts = {}
    for r in rows:
        counts[r[2]] = counts.get(r[2], 0) + 1
    ctx.step("%d candidate edge(s); %s", len(edges), ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    alias_schema = "alias string, concept string, rule string, similarity double, evidence string, written_source string"
    aliases = spark.createDataFrame(rows, alias_schema)

    # 7. The concept rows: computed from the alias rows in memory, not from the table, so the alias diff is
    #    written at the same time (ctx.at_once).
    def concept_table() -> tuple[int, dict]:
        # counts of spoken mentions under the canonical key; label, kind, salience.
        amap = aliases.select(F.col("alias").alias("key"), F.col("concept").alias("canonical"))
        m = (spoken.join(amap, spoken["concept"] == amap["key"]).select("video_id", "surface", F.col("canonical").alias("concept"))
             .join(videos, "video_id"))
        kp = (read_table(spark, conf, "keyphrases").join(amap, F.col("concept") == F.col("key"))
              .groupBy(F.col("canonical").alias("concept")).agg(F.count("*").alias("n_keyphrases")))
        agg = (m.groupBy("concept").agg(F.mode("surface", deterministic=True).alias("surface"), F.count("*").alias("n_mentions"),
                                       F.countDistinct("video_id").alias("n_videos"),
                                       F.min_by("video_id", "upload_rank").alias("first_video_id"),
                                       F.min("upload_rank").alias("first_upload_rank"))
               .join(kp, "concept", "left").collect())
        members: dict[str, list] = {}
        for alias, concept, rule, score, _, _ in rows:
            if rule != "self":
                members.setdefault(concept, []).append((alias, rule, score, stats.get(alias, {}).get("n", 0)))
        sal = s["salience"]
        artefacts = ident.compile_patterns(sal["artefacts"])
        concept_rows = []
        for r in agg:
            c = r["concept"]
            group = [c] + [a for a, *_ in members.get(c, [])]
            said = [stats[k] for k in group if k in stats and stats[k]["cap_share"] is not None]
            cap_share = sum(x["cap_share"] * x["n"] for x in said) / sum(x["n"] for x in said) if said else None  # every spoken form
            label, label_source = label_of(c, index, r["surface"], cap_share)
            written_name = any(index.get(k, {}).get("names") for k in group)
            n_kp = int(r["n_keyphrases"] or 0)
            kind = ident.salience_kind(c, written_name, r["n_mentions"], r["n_videos"], n_kp, artefacts, int(sal["max_term_words"]))
            concept_rows.append((c, label, sorted(members.get(c, [])) or None, r["n_mentions"], n_kp, r["n_videos"],
                                 r["first_video_id"], r["first_upload_rank"], label_source, kind,
                                 ident.salience_score(kind, r["n_mentions"], n_kp, sal["weights"])))
        concept_schema = ("concept string, label string, aliases array<struct<alias: string, rule: string, similarity: double, "
                          "n_mentions: bigint>>, n_mentions bigint, n_keyphrases bigint, n_videos bigint, first_video_id string, "
                          "first_upload_rank int, label_source string, kind string, salience double")
        concepts = spark.createDataFrame(concept_rows, concept_schema)
        concept_changes = merge_changes(spark, conf, "concepts", concepts, ["concept"])
        return len(concept_rows), concept_changes

    alias_changes, (n_concepts, concept_changes) = ctx.at_once(
        lambda: merge_changes(spark, conf, "concept_aliases", aliases, ["alias"]), concept_table)
    result.add(concepts=n_concepts, merged=sum(v for k, v in counts.items() if k != "self"),
               **{f"rule_{k}": v for k, v in sorted(counts.items()) if k != "self"},
               aliases_changed=sum(alias_changes.values()), concepts_changed=sum(concept_changes.values()))
    result.wrote += ["concept_aliases", "concepts"]


STAGE = Stage(
    name=NAME, run=run, settings=settings,
    inputs=("mentions", "keyphrases", "videos", "phrase_embeddings", "window_embeddings", "vocabulary"),
    outputs=("concepts", "concept_aliases"),
    doc="mentions + written vocabulary + embeddings -> one concept per thing, every merge with its rule and evidence (gold).",
)
