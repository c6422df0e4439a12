"""spark-submit job: gold concept tables: timelines, per-video figures, trends, co-occurrence (stage timelines).

    spark-submit $(transcript-lake submit-args) jobs/timelines.py --env local [--lake DIR] [--set timelines.bucket_seconds=30]
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]], prog="jobs/timelines.py", default_stages=["timelines"]))
