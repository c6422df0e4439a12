"""spark-submit job for one stage: titles, descriptions, chapters, comments, file names, glossary -> the written vocabulary (silver).

    .venv/bin/transcript-lake submit jobs/vocabulary.py --env local [--lake DIR] [--set KEY=VALUE]
    .venv/bin/python jobs/vocabulary.py --env local          # plain Python works too
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import stage_job

if __name__ == "__main__":
    stage_job(__file__, sys.argv[1:])
