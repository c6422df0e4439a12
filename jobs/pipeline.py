"""spark-submit job: every stage of the pipeline in dependency order.

    spark-submit $(transcript-lake submit-args) jobs/pipeline.py --env local [--only STAGE] [--lake DIR]
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]], prog="jobs/pipeline.py"))
