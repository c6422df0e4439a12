"""spark-submit job: windows, spaCy mentions, KeyBERT keyphrases and concepts (stages windows, terms, concepts).

    spark-submit $(transcript-lake submit-args) jobs/terms.py --env local [--lake DIR]
"""

import sys

import _bootstrap  # noqa: F401

from transcript_lake.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]], prog="jobs/terms.py", default_stages=["windows", "terms", "concepts"]))
