"""The whole bundled corpus through ingest + segments, with Spark and Delta: the acceptance counts
(102 videos, 54,040 segments by format, 100 chapter lists, 229 comments from 279 lines, one repaired
overlap) and a no-op re-run. A full-corpus check, so a benchmark rather than a test
(tests/test_formats_conformance.py pins the adapters' output on the same files in pure Python).

    .venv/bin/python benchmarks/corpus_check.py        # a fresh lake in a temporary folder; exit 1 on a mismatch
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from pyspark.sql import functions as F

    from transcript_lake.cli import setup_logging
    from transcript_lake.config import load_config
    from transcript_lake.lake import table_path
    from transcript_lake.pipeline import run_pipeline
    from transcript_lake.spark import build_spark

    setup_logging()
    with tempfile.TemporaryDirectory() as tmp:
        conf = load_config("local", [f"lake.root={tmp}/lake", "inputs.manifest=conf/sources.yaml"])
        spark = build_spark(conf)
        load = lambda name: spark.read.format("delta").load(table_path(conf, name))  # noqa: E731
        t0 = time.perf_counter()
        run_pipeline(spark, conf, ["ingest", "segments"])
        cold = time.perf_counter() - t0
        videos = load("videos")
        by_format = {r["source_format"]: r["n"] for r in videos.groupBy("source_format").agg(F.sum("n_segments").alias("n")).collect()}
        comments = load("comments")
        checks = {
            "videos": (videos.count(), 102),
            "segments by format": (by_format, {"hf_viewer": 48126, "rolling_captions": 1559, "whisper_cpp": 4355}),
            "segments": (load("segments").count(), 54040),
            "upload ranks 1..102": (sorted(r[0] for r in videos.select("upload_rank").collect()), list(range(1, 103))),
            "videos with chapters": (load("chapters").select("video_id").distinct().count(), 100),
            "comments kept / lines": ((comments.count(), comments.agg(F.sum("n_copies")).first()[0]), (229, 279)),
            "quarantine": ([(r["reason"].split(":")[0], r["action"]) for r in load("quarantine").collect()],
                           [("overlapping_segments", "repaired")]),
        }
        t0 = time.perf_counter()
        again = run_pipeline(spark, conf, ["ingest", "segments"])
        warm = time.perf_counter() - t0
        checks["re-run skipped"] = ([r.status for r in again.results.values()], ["skipped", "skipped"])
        failed = 0
        for name, (got, want) in checks.items():
            ok = got == want
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {got if not ok else want}" + ("" if ok else f" (expected {want})"))
        print(f"full corpus ingest + segments: cold {cold:.1f} s, no-op re-run {warm:.1f} s")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
