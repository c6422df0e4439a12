"""Terms quality on the lake built by `make run`: chapter-title recall and the top concepts of 7 videos.

    .venv/bin/python benchmarks/terms_quality.py [--lake lake]     # writes benchmarks/results/terms_quality.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VIDEOS = ["OpenAI CLIP - Connecting", "ConvNeXt", "DINO: Emerging", "VQ-GAN", "Google DeepMind's AlphaFold 2",
          "Building makemore", "Coding a Multimodal"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", default=None)
    args = parser.parse_args()
    from transcript_lake.cli import setup_logging
    from transcript_lake.config import load_config
    from transcript_lake.quality import chapter_recall, top_concepts
    from transcript_lake.spark import build_spark

    setup_logging()
    conf = load_config("local", [f"lake.root={Path(args.lake).resolve()}"] if args.lake else [])
    spark = build_spark(conf)
    report = {"chapter_recall": chapter_recall(spark, conf), "top_concepts": {}}
    titles = {r["title"]: r["video_id"] for r in spark.sql("SELECT title, video_id FROM transcripts.videos").collect()}
    for prefix in VIDEOS:
        title = next((t for t in titles if t.startswith(prefix)), None)
        if title:
            report["top_concepts"][title] = top_concepts(spark, conf, titles[title])
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "terms_quality.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
