"""Every notebook executes end to end against the small lake built from the corpus fixtures (all stages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcript_lake.notebooks import run_notebook, split_cells
from transcript_lake.catalog import register_lake

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


def test_cells_are_split_by_kind():
    kinds = [k for k, _ in split_cells((ROOT / "notebooks" / "01_explore_corpus.py").read_text())]
    assert kinds[0] == "md" and "sql" in kinds and "python" in kinds


def test_the_documented_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_explore_corpus.py", "02_concept_timelines.py", "03_topics.py"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(spark, gold_lake, tmp_path, path: Path, capsys):
    conf, _ = gold_lake
    register_lake(spark, conf)  # transcripts.* -> this lake (one Spark session serves several test lakes)
    namespace = run_notebook(path, spark, out_dir=tmp_path)
    out = capsys.readouterr().out
    figures = namespace["__html_outputs__"]
    for fig in figures:  # every figure is a real plotly page with data in it
        page = fig.read_text()
        assert "Plotly.newPlot" in page and '"x":' in page.replace(" ", "")
    if path.name.startswith("01_"):
        assert "words in the corpus" in out and namespace["words"] > 1000
        assert "t3YJ5hKiMQ0" in out  # the videos table was shown
    elif path.name.startswith("02_"):
        assert len(figures) == 3 and "following concept" in out
        assert namespace["CONCEPT"] and len(namespace["trend"]) >= 1 and len(namespace["strip"]) >= 1
        assert namespace["heat"].shape[0] >= 5 and namespace["heat"].shape[1] >= 3  # concepts x videos
    elif path.name.startswith("03_"):
        assert len(figures) == 2 and len(namespace["mix"]) > 0 and len(namespace["tot"]) > 0
