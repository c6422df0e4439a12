"""spark-submit job for one stage: windows -> spaCy mentions, embeddings, KeyBERT keyphrases (silver).

    .venv/bin/transcript-lake submit jobs/terms.py --env local [--lake DIR] [--set KEY=VALUE]
    .venv/bin/python jobs/terms.py --env local          # plain Python works too
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import stage_job

if __name__ == "__main__":
    stage_job(__file__, sys.argv[1:])
