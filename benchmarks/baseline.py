"""The script a user would write instead of the pipeline: one Python process, the libraries' README way.

    python benchmarks/baseline.py --windows windows.jsonl --out baseline.json

Same windows (the pipeline's ``windows`` table, exported by ``benchmarks/pipeline_bench.py``), same
models (``nlp.spacy_model`` / ``nlp.embedding_model`` of ``conf/base.yaml``):

1. spaCy: ``nlp.pipe(texts)``; noun chunks + entities collected per window;
2. KeyBERT: ``KeyBERT(model).extract_keywords(texts, keyphrase_ngram_range=(1, 2), stop_words="english", top_n=8)``;
3. BERTopic: ``BERTopic(embedding_model=model).fit_transform(texts)`` (it embeds the windows again).

Timed from process start, model loads included; writes seconds per step and peak RSS as JSON.
Produces no timestamps per mention, no concept merging and no tables.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", required=True, help="JSON lines with a 'text' field, one window each")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from transcript_lake.config import load_config
    from transcript_lake.nlp.models import resolve_embedding_model

    conf = load_config("local")
    texts = [json.loads(line)["text"] for line in Path(args.windows).read_text(encoding="utf-8").splitlines() if line]
    steps = {}

    t = time.perf_counter()
    import spacy

    nlp = spacy.load(conf.get("nlp.spacy_model"))
    terms = [[c.text for c in doc.noun_chunks] + [e.text for e in doc.ents] for doc in nlp.pipe(texts)]
    steps["spacy"] = time.perf_counter() - t

    t = time.perf_counter()
    from keybert import KeyBERT
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_embedding_model(str(conf.get("nlp.embedding_model"))))
    keywords = KeyBERT(model=model).extract_keywords(texts, keyphrase_ngram_range=(1, 2), stop_words="english", top_n=8)
    steps["keybert"] = time.perf_counter() - t

    t = time.perf_counter()
    from bertopic import BERTopic

    topic_model = BERTopic(embedding_model=model)
    topics, _ = topic_model.fit_transform(texts)
    steps["bertopic"] = time.perf_counter() - t

    report = {
        "windows": len(texts), "seconds": round(time.perf_counter() - T0, 1),
        "steps": {k: round(v, 1) for k, v in steps.items()},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "terms": sum(len(x) for x in terms), "keywords": sum(len(k) for k in keywords),
        "topics": len(set(topics) - {-1}),
    }
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
