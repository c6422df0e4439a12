"""Shared start of the quality scripts: ``--lake`` argument, logging, and a session on that lake."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def open_lake(description: str):
    """``(spark, conf)`` for the lake named by ``--lake`` (default: ``lake.root`` of ``conf/local.yaml``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lake", default=None, help="lake root (default: ./lake)")
    args = parser.parse_args()
    from transcript_lake.cli import setup_logging
    from transcript_lake.config import load_config
    from transcript_lake.spark import build_spark

    setup_logging()
    conf = load_config("local", [f"lake.root={Path(args.lake).resolve()}"] if args.lake else [])
    return build_spark(conf), conf


def write_report(name: str, report: dict) -> None:
    """``benchmarks/results/<name>.json`` + the same JSON on stdout."""
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, default=str)
    (out / f"{name}.json").write_text(text)
    print(text)
