"""Search quality and latency on a lake (not a timed test): ``transcript_lake.search`` against the authors'
own table of contents.

    python benchmarks/search_quality.py [--lake DIR] [--latency] [--scale 100] [--examples]

Queries: the chapter titles of the videos that carry chapters (the HF-viewer corpus), titles that only
say "intro" / "outro" / "conclusion" / "recap" left out. A hit is a window inside the query's chapter.
A second set appends the name the video's title opens with ("Hungarian loss in DETR"), as users name
what they ask about: the concept signal and the video prior matter there.
Per ranking: in-video hit@1 (only the windows of the query's video ranked), corpus hit@1 and hit@5,
MRR (all windows). Every ranking runs with ``search.chapter_titles`` OFF (windows are aligned to
chapters, and chapters are the ground truth) and the default ``search.*`` settings, once per signal
alone and fused, so the fusion's gain is visible.

``--latency``: one CLI-equivalent query end to end in a fresh process (Python start, imports, index
mmap, model load, ranking, output), repeated; the ranking alone (index loaded, query embedded) over
the benchmark queries; ``--scale N`` the ranking over the index tiled N times (the 100x estimate).
``--examples``: user-style questions with their top-3 results. Writes benchmarks/results/search_quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transcript_lake.config import load_config  # noqa: E402
from transcript_lake.search import (SIGNALS, SearchSettings, fold_adjacent, format_results,  # noqa: E402
                                    load_index, query_encoder, rank, search_index)

GENERIC = re.compile(r"^\W*(intro|introduction|outro|conclusions?|recap|summary|a short recap|wrapping things up|"
                     r"wrap up|closing thoughts|final thoughts)\W*$", re.I)

# Written the way users ask (paraphrases, acronyms, mis-heard names), not from chapter titles.
EXAMPLES = [
    "where does he explain how the KV cache speeds up generation?",
    "ViT patch embeddings",
    "how does classifier-free guidance trade diversity for quality",
    "what GPU should I buy to build a deep learning PC",
    "hungarian matching loss in DETR",
]


def chapter_queries(con) -> list[tuple[str, str, int]]:
    rows = con.execute("""
        SELECT c.video_id, c.chapter_idx, c.title FROM transcripts.chapters c
        JOIN transcripts.videos v USING (video_id)
        WHERE v.source_format = 'hf_viewer'
          AND EXISTS (SELECT 1 FROM transcripts.search_windows w WHERE w.video_id = c.video_id AND w.chapter_idx = c.chapter_idx)
        ORDER BY c.video_id, c.chapter_idx""").fetchall()
    return [(v, t, c) for v, c, t in rows if not GENERIC.match(t)]


def short_name(title: str) -> str | None:
    """The name a video's title opens with ("DETR: End-to-End Object Detection ..." -> "DETR", "OpenAI CLIP
    - Connecting ..." -> "OpenAI CLIP"), when it is at most three words; else None."""
    head = re.split(r"\s*[:|(\-–]\s+|\s*[|(:]", title)[0].strip()
    return head if 0 < len(head.split()) <= 3 else None


def named_queries(con, queries: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """The chapter titles with the name of their video appended, as users ask ("Hungarian loss in DETR"):
    the name is a concept the query resolves (often an acronym or a name the speech recogniser mangles),
    and the video prior must find the video it names."""
    titles = dict(con.execute("SELECT video_id, title FROM transcripts.videos").fetchall())
    return [(v, f"{t} in {short_name(titles[v])}", c) for v, t, c in queries if short_name(titles.get(v) or "")]


RANKED = 500  # windows ranked per query for hit@k and MRR (a first hit further down adds < 0.002 to MRR)


def evaluate(index, conf, queries, qvecs, s: SearchSettings, chapter_of: np.ndarray) -> dict:
    vid_of = {v["video_id"]: i for i, v in enumerate(index.videos)}
    vid, widx = np.asarray(index.vid), np.asarray(index.widx)
    h1 = h5 = iv = 0
    mrr = 0.0
    for (video, title, chapter), qv in zip(queries, qvecs):
        r = rank(index, title, s, qv)
        score = np.where(r.eligible, r.score, -np.inf)
        hit = (vid == vid_of[video]) & (chapter_of == chapter)
        order = np.argsort(-score, kind="stable")
        order = order[np.isfinite(score[order])][:RANKED]
        # as results are shown: a window next to a better-ranked one of the same video is folded into it
        shown = order[fold_adjacent(list(zip(vid[order].tolist(), widx[order].tolist())), s.fold_adjacent, len(order))]
        first = np.flatnonzero(hit[shown])
        if len(first):
            mrr += 1.0 / (first[0] + 1)
            h1 += first[0] == 0
            h5 += first[0] < 5
        inside = np.where(vid == vid_of[video], score, -np.inf)
        iv += bool(hit[int(np.argmax(inside))]) and np.isfinite(inside.max())
    n = len(queries)
    return {"in_video_hit1": round(100 * iv / n, 1), "corpus_hit1": round(100 * h1 / n, 1),
            "corpus_hit5": round(100 * h5 / n, 1), "mrr": round(mrr / n, 3)}


def with_weights(s: SearchSettings, weights: dict, context: float | None = None,
                 video_prior: float | None = None) -> SearchSettings:
    from dataclasses import replace

    return replace(s, weights={k: float(weights.get(k, 0.0)) for k in SIGNALS},
                   context=s.context if context is None else context,
                   video_prior=s.video_prior if video_prior is None else video_prior)


def quality(conf, index, con) -> dict:
    s = SearchSettings.from_conf(conf.with_overrides(["search.chapter_titles=false"]))
    queries = chapter_queries(con)
    chapters = {(v, w): c for v, w, c in con.execute(
        "SELECT video_id, window_idx, chapter_idx FROM transcripts.search_windows").fetchall()}
    chapter_of = np.array([-1 if chapters.get((index.videos[int(v)]["video_id"], int(w))) is None
                           else chapters[(index.videos[int(v)]["video_id"], int(w))]
                           for v, w in zip(index.vid, index.widx)])
    t0 = time.perf_counter()
    enc = query_encoder(conf, s)
    qvecs = enc.encode([t for _, t, _ in queries], batch_size=64)
    print(f"{len(queries)} queries embedded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows = {}
    for name, weights, ctx, prior in [("lexical (BM25) alone", {"lexical": 1}, 0.0, 0.0), ("dense alone", {"dense": 1}, 0.0, 0.0),
                                      ("concept alone", {"concept": 1}, 0.0, 0.0),
                                      ("lexical + dense", {"lexical": 1, "dense": 1}, 0.0, 0.0),
                                      ("fused, no context, no video prior", s.weights, 0.0, 0.0),
                                      ("fused, no video prior", s.weights, None, 0.0),
                                      ("fused (default settings)", s.weights, None, None)]:
        rows[name] = evaluate(index, conf, queries, qvecs, with_weights(s, weights, ctx, prior), chapter_of)
        print(f"{name:28s} {rows[name]}", file=sys.stderr)
    named = named_queries(con, queries)
    named_vecs = enc.encode([t for _, t, _ in named], batch_size=64)
    rows_named = {}
    for name, weights, ctx, prior in [("lexical (BM25) alone", {"lexical": 1}, 0.0, 0.0), ("dense alone", {"dense": 1}, 0.0, 0.0),
                                      ("fused without the concept signal", {**s.weights, "concept": 0.0}, None, None),
                                      ("fused (default settings)", s.weights, None, None)]:
        rows_named[name] = evaluate(index, conf, named, named_vecs, with_weights(s, weights, ctx, prior), chapter_of)
        print(f"named: {name:28s} {rows_named[name]}", file=sys.stderr)
    s_on = SearchSettings.from_conf(conf.with_overrides(["search.chapter_titles=true"]))
    rows["fused + chapter titles (product setting; not a benchmark)"] = evaluate(index, conf, queries, qvecs, s_on, chapter_of)
    return {"queries": len(queries), "settings": {"weights": s.weights, "context": s.context, "video_prior": s.video_prior, "k1": s.k1, "b": s.b,
                                                   "min_dense": s.min_dense, "chapter_titles": False},
            "rankings": rows,
            "named_queries": len(named), "named_rankings": rows_named}


def latency(conf, index, con, lake: str, scale: int) -> dict:
    s = SearchSettings.from_conf(conf)
    query = "where does he explain how the KV cache speeds up generation?"
    cmd = [sys.executable, "-c",
           "import sys,time;t=time.perf_counter();from transcript_lake.config import load_config;"
           "from transcript_lake.search import search,format_results;"
           f"c=load_config('local',['lake.root={lake}']);r=search(c,{query!r},top=10);"
           "print(format_results(r,'table'));print('inner',time.perf_counter()-t,file=sys.stderr)"]
    cold, cold_cpu = [], []
    for _ in range(4):
        t0, r0 = time.perf_counter(), os.times()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        r1 = os.times()
        cold.append(round(time.perf_counter() - t0, 3))
        cold_cpu.append(round((r1.children_user - r0.children_user) + (r1.children_system - r0.children_system), 3))
    queries = [t for _, t, _ in chapter_queries(con)][:200]
    enc = query_encoder(conf, s)
    t0 = time.perf_counter()
    for q in queries[:50]:
        enc.encode([q], batch_size=1)
    embed_ms = 1000 * (time.perf_counter() - t0) / 50
    qvecs = enc.encode(queries, batch_size=64)
    t0, c0 = time.perf_counter(), time.process_time()
    for q, v in zip(queries, qvecs):
        search_index(conf, index, q, None, None, 10, s, qvec=v)
    rank_ms = 1000 * (time.perf_counter() - t0) / len(queries)
    rank_cpu_ms = 1000 * (time.process_time() - c0) / len(queries)
    out = {"cli_equivalent_cold_s": cold, "cli_equivalent_cold_cpu_s": cold_cpu, "query_embedding_ms": round(embed_ms, 1),
           "ranking_ms": round(rank_ms, 1), "ranking_cpu_ms": round(rank_cpu_ms, 1),
           "index_windows": index.n, "cache_bytes": sum(p.stat().st_size for p in index.folder.glob("*")),
           "load_average": os.getloadavg()}
    if scale > 1:
        out[f"ranking_ms_x{scale}"], out[f"ranking_cpu_ms_x{scale}"] = scaled_ranking_ms(index, queries[:30], qvecs[:30], s, scale)
        out[f"cache_bytes_x{scale}_estimate"] = out["cache_bytes"] * scale
    return out


def scaled_ranking_ms(index, queries, qvecs, s, scale: int) -> float:
    """rank() over the index tiled ``scale`` times in memory (same vocabulary, postings ``scale`` x longer)."""
    a = index.a
    n = index.n
    big = dict(a)
    big["vec"] = np.tile(np.asarray(a["vec"]), (scale, 1))
    big["vid"] = np.tile(np.asarray(a["vid"]), scale)
    big["prev"] = np.concatenate([np.where(np.asarray(a["prev"]) >= 0, np.asarray(a["prev"]) + k * n, -1) for k in range(scale)]).astype(np.int32)
    for prefix, values in (("text", ("w",)), ("chapter", ("w",)), ("al", ("m", "sal", "seg"))):
        ptr, doc = np.asarray(a[f"{prefix}_ptr"]), np.asarray(a[f"{prefix}_doc"])
        lens = np.diff(ptr)
        big[f"{prefix}_ptr"] = np.concatenate([[0], np.cumsum(lens * scale)]).astype(np.int64)
        ids = np.tile(np.repeat(np.arange(len(lens)), lens), scale)
        docs = np.concatenate([doc + k * n for k in range(scale)])
        o = np.argsort(ids, kind="stable")  # by term, then copy: docs stay sorted within a term
        big[f"{prefix}_doc"] = docs[o].astype(np.int32)
        for v in values:
            big[f"{prefix}_{v}"] = np.tile(np.asarray(a[f"{prefix}_{v}"]), scale)[o]
    clone = object.__new__(type(index))
    clone.__dict__.update(index.__dict__)
    clone.a, clone.n, clone.vec, clone.vid, clone.prev = big, n * scale, big["vec"], big["vid"], big["prev"]
    t0, c0 = time.perf_counter(), time.process_time()
    for q, v in zip(queries, qvecs):
        r = rank(clone, q, s, v)
        cand = np.flatnonzero(r.eligible)
        if len(cand) > 10:
            cand[np.argpartition(-r.score[cand], 9)[:10]]
    return (round(1000 * (time.perf_counter() - t0) / len(queries), 1),
            round(1000 * (time.process_time() - c0) / len(queries), 1))


def examples(conf) -> dict:
    from transcript_lake.search import search

    out = {}
    for q in EXAMPLES:
        hits = search(conf.with_overrides(["search.chapter_titles=false"]), q, top=3)
        out[q] = [h.to_dict() for h in hits]
        print(f"\n## {q}\n{format_results(hits, 'table')}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake")
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--examples", action="store_true")
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--scale", type=int, default=1)
    args = ap.parse_args()
    conf = load_config("local", [f"lake.root={Path(args.lake).resolve()}"] if args.lake else [])
    from transcript_lake.search import CACHE_TABLES, connect_tables

    con = connect_tables(conf, CACHE_TABLES + ("chapters",))
    index = load_index(conf)
    report = {"lake": str(conf.get("lake.root")), "load_average_start": os.getloadavg()}
    if not args.no_quality:
        report["quality"] = quality(conf, index, con)
    if args.latency:
        report["latency"] = latency(conf, index, con, str(Path(conf.get("lake.root")).resolve()), args.scale)
    if args.examples:
        report["examples"] = examples(conf)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "search_quality.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps({k: v for k, v in report.items() if k != "examples"}, indent=2, default=str))


if __name__ == "__main__":
    main()
