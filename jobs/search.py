"""spark-submit job for one stage: the search index (per video: window texts, terms, concepts).

    .venv/bin/transcript-lake submit jobs/search.py --env local [--lake DIR] [--set KEY=VALUE]
    .venv/bin/python jobs/search.py --env local          # plain Python works too
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import stage_job

if __name__ == "__main__":
    stage_job(__file__, sys.argv[1:])
