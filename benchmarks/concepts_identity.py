"""Concept identity benchmark: the labelled set ``data/concept_identity.yaml`` against the lake's
``concept_aliases`` (JVM-free, DuckDB).

    .venv/bin/python benchmarks/concepts_identity.py [--lake lake] [--set path]   # -> benchmarks/results/concepts_identity.json

Prints, per class (variant / acronym / misheard) and overall: groups whose forms all map to one
concept (merge recall, over the groups whose forms are in the lake), and wrong merges: ``distinct``
pairs in one concept, plus forms of two different groups in one concept. Targets: >= 90 % of groups
merged, 0 wrong merges.
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
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=sorted), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
