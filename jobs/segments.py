"""spark-submit job for one stage: raw_records -> videos, segments, chapters, comments (silver).

    .venv/bin/transcript-lake submit jobs/segments.py --env local [--lake DIR] [--set KEY=VALUE]
    .venv/bin/python jobs/segments.py --env local          # plain Python works too
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import stage_job

if __name__ == "__main__":
    stage_job(__file__, sys.argv[1:])
