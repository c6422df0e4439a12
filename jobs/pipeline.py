"""spark-submit job: every stage of the pipeline in dependency order (``--only`` / ``--from`` narrow it).

    .venv/bin/transcript-lake submit jobs/pipeline.py --env local [--only STAGE] [--lake DIR]
    .venv/bin/python jobs/pipeline.py --env local          # plain Python works too
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import entry

if __name__ == "__main__":
    entry(["run", *sys.argv[1:]], prog="jobs/pipeline.py")
