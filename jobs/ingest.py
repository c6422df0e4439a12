"""spark-submit job: ingest every input into bronze and silver (stages ``ingest`` + ``segments``).

    spark-submit $(transcript-lake submit-args) jobs/ingest.py --env local [--lake DIR] [--input GLOB ...]
    python jobs/ingest.py --env local          # plain Python works too: the builder adds Delta itself
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]], prog="jobs/ingest.py", default_stages=["ingest", "segments"]))
