"""Terms quality on the lake built by `make run`: chapter-title recall and the top concepts of 10 videos.

    .venv/bin/python benchmarks/terms_quality.py [--lake lake]     # writes benchmarks/results/terms_quality.json
"""

from __future__ import annotations

import sys

from _lake import open_lake, write_report

VIDEOS = ["OpenAI CLIP - Connecting", "ConvNeXt", "DINO: Emerging", "VQ-GAN", "Google DeepMind's AlphaFold 2",
          "Building makemore", "Coding a Multimodal", "Vision Transformer (ViT)", "NeuroEvolution of Augmenting",
          "Stable Diffusion: High-Resolution"]


def main() -> int:
    spark, conf = open_lake(__doc__.splitlines()[0])
    from quality import chapter_recall, top_concepts

    report = {"chapter_recall": chapter_recall(spark, conf), "top_concepts": {}}
    titles = {r["title"]: r["video_id"] for r in spark.sql("SELECT title, video_id FROM transcripts.videos").collect()}
    for prefix in VIDEOS:
        title = next((t for t in titles if t.startswith(prefix)), None)
        if title:
            report["top_concepts"][title] = top_concepts(spark, conf, titles[title])
    write_report("terms_quality", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
