"""Concept identity benchmark: the labelled set ``data/concept_identity.yaml`` against the lake's
``concept_aliases`` (JVM-free, DuckDB).

    .venv/bin/python benchmarks/concepts_identity.py [--lake lake] [--set path]   # -> benchmarks/results/concepts_identity.json

Prints, per class (variant / acronym / misheard) and overall: groups whose forms all map to one
concept (merge recall, over the groups whose forms are in the lake), and wrong merges: ``distinct``
pairs in one concept, plus forms of two different groups in one concept. Targets: >= 90 % of groups
merged, 0 wrong merges. Also: every name of a video's title that is said in the video is in that
video's ``top_concepts_per_video`` (target: all of them), and how many of them show a label written
in the corpus's text.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def evaluate(concept_of: dict[str, str], labelled: dict) -> dict:
    """``concept_of``: alias -> concept (``concept_aliases``). Pure: the unit tests call it too."""
    from transcript_lake.nlp.concepts import normalise_text

    per_class: dict[str, dict] = {}
    missed, absent, owners = [], [], {}
    for i, group in enumerate(labelled.get("groups", [])):
        forms = [normalise_text(f) for f in group["forms"]]
        stats = per_class.setdefault(group["class"], {"groups": 0, "evaluable": 0, "merged": 0})
        stats["groups"] += 1
        present = [f for f in forms if f in concept_of]
        if len(present) < len(forms):
            absent.append({"forms": forms, "missing": [f for f in forms if f not in concept_of]})
            continue
        stats["evaluable"] += 1
        concepts = {concept_of[f] for f in forms}
        if len(concepts) == 1:
            stats["merged"] += 1
        else:
            missed.append({"class": group["class"], "forms": {f: concept_of[f] for f in forms}})
        for c in concepts:
            owners.setdefault(c, set()).add(i)
    wrong, distinct_in_lake = [], 0
    for a, b in labelled.get("distinct", []):
        a, b = normalise_text(a), normalise_text(b)
        distinct_in_lake += a in concept_of and b in concept_of
        if a in concept_of and b in concept_of and concept_of[a] == concept_of[b]:
            wrong.append({"pair": [a, b], "concept": concept_of[a]})
    groups = labelled.get("groups", [])
    for c, ids in owners.items():
        if len(ids) > 1:
            # Two labelled groups in one concept is a wrong merge, unless they share a form (vit: acronym + misheard).
            forms = [set(normalise_text(f) for f in groups[i]["forms"]) for i in sorted(ids)]
            linked = all(any(f & g for g in forms if g is not f) for f in forms)
            if not linked:
                wrong.append({"groups": [sorted(f) for f in forms], "concept": c})
    total = {k: sum(s[k] for s in per_class.values()) for k in ("groups", "evaluable", "merged")}
    for s in [*per_class.values(), total]:
        s["recall"] = round(s["merged"] / s["evaluable"], 4) if s["evaluable"] else None
    return {"per_class": per_class, "total": total, "wrong_merges": len(wrong), "wrong": wrong,
            "not_merged": missed, "forms_not_in_lake": absent, "distinct_pairs": len(labelled.get("distinct", [])),
            "distinct_pairs_in_lake": distinct_in_lake}


TITLE_NAMES_SAID = """
    SELECT DISTINCT w.video_id, a.concept FROM transcripts.vocabulary w
    JOIN transcripts.concept_aliases a ON a.alias = w.key
    JOIN transcripts.concept_video cv ON cv.concept = a.concept AND cv.video_id = w.video_id
    WHERE w.source = 'title' AND w.kind IN ('name', 'definition')"""


def title_names_in_top10(con) -> dict:
    """Names of a video's title said in that video: how many are in its top-10, and under a label that
    is one of the concept's written terms (the view shows ``concepts.label``)."""
    rows = con.execute(f"""
        WITH named AS ({TITLE_NAMES_SAID}),
             written AS (SELECT DISTINCT a.concept, w.term FROM transcripts.vocabulary w
                         JOIN transcripts.concept_aliases a ON a.alias = w.key)
        SELECT n.video_id, n.concept, t.rank_in_video, t.label,
               EXISTS (SELECT 1 FROM written x WHERE x.concept = n.concept AND x.term = t.label) AS label_written
        FROM named n LEFT JOIN transcripts.top_concepts_per_video t ON t.video_id = n.video_id AND t.concept = n.concept
        ORDER BY n.video_id, n.concept""").fetchall()
    return {"said": len(rows), "in_top10": sum(r[2] is not None for r in rows),
            "label_written": sum(bool(r[4]) for r in rows),
            "missing": [{"video_id": v, "concept": c} for v, c, rank, _, _ in rows if rank is None],
            "label_not_written": [{"video_id": v, "concept": c, "label": lab} for v, c, rank, lab, w in rows
                                  if rank is not None and not w]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", default=str(ROOT / "lake"))
    parser.add_argument("--set", default=str(ROOT / "data" / "concept_identity.yaml"))
    parser.add_argument("--env", default="local")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "concepts_identity.json"))
    args = parser.parse_args()
    from transcript_lake.config import load_config
    from transcript_lake.sql import duckdb_connect

    conf = load_config(args.env, [f"lake.root={Path(args.lake).resolve()}"])
    con = duckdb_connect(conf)
    concept_of = dict(con.execute("SELECT alias, concept FROM transcripts.concept_aliases").fetchall())
    report = evaluate(concept_of, yaml.safe_load(Path(args.set).read_text(encoding="utf-8")))
    print(f"{'class':<10} {'groups':>6} {'in lake':>8} {'merged':>7} {'recall':>7}")
    for name, s in [*sorted(report["per_class"].items()), ("all", report["total"])]:
        recall = f"{s['recall']:.1%}" if s["recall"] is not None else "-"
        print(f"{name:<10} {s['groups']:>6} {s['evaluable']:>8} {s['merged']:>7} {recall:>7}")
    print(f"wrong merges: {report['wrong_merges']} ({report['distinct_pairs_in_lake']} of {report['distinct_pairs']} "
          "distinct pairs in the lake, plus no two labelled groups in one concept)")
    for w in report["wrong"]:
        print("  WRONG", w)
    for m in report["not_merged"]:
        print("  not merged", m)
    for a in report["forms_not_in_lake"]:
        print("  not in lake", a)
    report["title_names"] = titles = title_names_in_top10(con)
    print(f"title names said in their video: {titles['in_top10']}/{titles['said']} in its top-10 "
          f"(target: all); {titles['label_written']} under a label written in the corpus")
    for m in titles["missing"]:
        print("  not in top-10", m)
    for m in titles["label_not_written"]:
        print("  label not a written term", m)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=sorted), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
