"""spark-submit job: BERTopic over the stored window embeddings (stage topics).

    spark-submit $(transcript-lake submit-args) jobs/topics.py --env local [--lake DIR] [--set topics.backend=gpu]
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]], prog="jobs/topics.py", default_stages=["topics"]))
