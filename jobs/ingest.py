"""spark-submit job for one stage: input files -> raw_records and the source_files ledger (bronze).

    .venv/bin/transcript-lake submit jobs/ingest.py --env local [--lake DIR] [--set KEY=VALUE]
    .venv/bin/python jobs/ingest.py --env local          # plain Python works too
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import stage_job

if __name__ == "__main__":
    stage_job(__file__, sys.argv[1:])
