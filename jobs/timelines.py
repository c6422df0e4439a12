"""spark-submit job for one stage: gold concept tables: timelines, per-video figures, trends, co-occurrence.

    .venv/bin/transcript-lake submit jobs/timelines.py --env local [--lake DIR] [--set KEY=VALUE]
    .venv/bin/python jobs/timelines.py --env local          # plain Python works too
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import stage_job

if __name__ == "__main__":
    stage_job(__file__, sys.argv[1:])
