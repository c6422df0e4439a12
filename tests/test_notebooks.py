"""Every notebook executes end to end against a small lake built from the corpus fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcript_lake.notebooks import run_notebook, split_cells
from transcript_lake.pipeline import run_stages

from conftest import ROOT, make_conf, small_manifest

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


def test_cells_are_split_by_kind():
    kinds = [k for k, _ in split_cells((ROOT / "notebooks" / "01_explore_corpus.py").read_text())]
    assert kinds[0] == "md" and "sql" in kinds and "python" in kinds


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(spark, tmp_path, small_corpus, path: Path, capsys):
    conf = make_conf(tmp_path / "lake", small_manifest(small_corpus))
    run_stages(spark, conf, ["ingest", "segments"])
    namespace = run_notebook(path, spark)
    out = capsys.readouterr().out
    if path.name.startswith("01_"):
        assert "words in the corpus" in out and namespace["words"] > 1000
        assert "t3YJ5hKiMQ0" in out  # the videos table was shown
