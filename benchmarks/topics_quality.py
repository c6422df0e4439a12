"""Topics quality on the lake built by `make run`: the run's figures (topics, outliers, diversity, NPMI,
fit seconds), the 15 largest topics and the top topics of 6 named videos.

    .venv/bin/python benchmarks/topics_quality.py [--lake lake]    # writes benchmarks/results/topics_quality.json
"""

from __future__ import annotations

import sys

from _lake import open_lake, write_report

VIDEOS = ["Graph Attention Networks (GAT)", "Ultimate Guide to Diffusion Models", "AlphaGo - Mastering",
          "How to Build a Deep Learning Machine", "BigScience BLOOM", "Building makemore"]


def main() -> int:
    spark, conf = open_lake(__doc__.splitlines()[0])
    from quality import topic_report

    titles = {r["title"]: r["video_id"] for r in spark.sql("SELECT title, video_id FROM transcripts.videos").collect()}
    chosen = {}
    for prefix in VIDEOS:
        title = next((t for t in sorted(titles) if prefix.lower() in t.lower()), None)
        if title:
            chosen[titles[title]] = title
    report = topic_report(spark, conf, list(chosen))
    report["top_topics_of_videos"] = {chosen[v]: t for v, t in report["top_topics_of_videos"].items()}
    write_report("topics_quality", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
