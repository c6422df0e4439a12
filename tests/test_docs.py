"""Every command, SQL statement and Python snippet shown in README.md and docs/*.md runs as written,
against a copy of the small gold lake, in a clean environment: no activated venv, no PYSPARK_PYTHON,
``.venv/bin`` not on PATH (as a new shell on a fresh clone). The few that cannot run here are listed in
``EXEMPT``, the one place that says why. ``docs/tables.md`` must equal what the DDL generates. The
examples in the library's docstrings run too (those marked ``+SKIP`` need a lake and say so)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, build, built_once, copy_lake
from transcript_lake.schemas import tables_markdown

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)

# Commands shown in the docs that cannot run against the small test lake, by their first words.
EXEMPT = {
    "make run": "the full bundled corpus into ./lake (minutes); `make test` runs this suite",
    "make test": "this test suite itself",
    "export DELTA_IVY_SETTINGS=/path/to": "a placeholder path for the reader's own repository",
    "export LAKE_ROOT=s3a://": "an object store (the cluster example)",
    ".venv/bin/transcript-lake submit --master spark://": "a real cluster; tests/test_cluster.py runs the same on a local standalone cluster",
    "PYSPARK_PYTHON=.venv/bin/python SPARK_HISTORY_OPTS": "starts Spark's history server, which serves until stopped",
    ".venv/bin/python benchmarks/": "benchmarks read the full-corpus lake of `make run` and take minutes",
}


def blocks(kind: str) -> list[tuple[str, str]]:
    """``(file, text)`` of every fenced block of ``kind`` in the docs."""
    found = []
    for path in DOCS:
        for lang, text in FENCE.findall(path.read_text(encoding="utf-8")):
            if lang == kind:
                found.append((path.relative_to(ROOT).as_posix(), text))
    return found


def commands(text: str) -> list[str]:
    """Shell commands of a block: continuation lines joined, comment-only lines dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        cur += line.rstrip("\\").rstrip() + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            out.append(cur.strip())
            cur = ""
    return out


def statements(text: str) -> list[str]:
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def exempt(command: str) -> str | None:
    return next((why for prefix, why in EXEMPT.items() if command.startswith(prefix)), None)


SHELL = [(f, c) for f, text in blocks("bash") for c in commands(text)]
SQL = [(f, s) for f, text in blocks("sql") for s in statements(text)]
PYTHON = blocks("python")


@pytest.fixture(scope="module")
def doc_lake(spark, gold_lake, tmp_path_factory):
    """A copy of the gold lake whose topics were fitted with the default settings, so the documented
    commands (which use the default configuration) find nothing to redo."""
    def make(folder):
        conf = copy_lake(gold_lake[0], folder / "lake")
        defaults = conf.with_overrides([f"topics.{k}={v}" for k, v in (
            ("min_topic_size", 25), ("hdbscan.min_cluster_size", 25), ("hdbscan.min_samples", 10),
            ("vectorizer.min_df", 3), ("fit_sample", "null"))])
        build(spark, defaults)
        return conf

    return built_once(tmp_path_factory, "docs", make)  # once per run, also with several xdist workers


def clean_env(conf) -> dict:
    """What a new shell has: no venv on PATH, no PYSPARK_PYTHON; the lake and manifest by environment."""
    keep = {k: os.environ[k] for k in ("HOME", "JAVA_HOME", "DELTA_IVY_SETTINGS", "TMPDIR", "LANG") if k in os.environ}
    venv_bin = str(Path(sys.executable).parent)
    path = ":".join(p for p in os.environ.get("PATH", "/usr/bin:/bin").split(":") if p and p != venv_bin)
    return {**keep, "PATH": path, "LAKE_ROOT": conf.get("lake.root"),
            "TRANSCRIPT_LAKE_MANIFEST": conf.get("inputs.manifest"), "PYTHONUNBUFFERED": "1"}


def test_docs_show_the_two_commands_and_a_spark_submit_line():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert any("submit jobs/" in c for f, c in SHELL if f == "README.md")
    assert len(readme.split()) <= 1100, f"README has {len(readme.split())} words: reference material belongs in docs/"
    for f, c in SHELL:
        if "/bin/" in c.split()[0] and not exempt(c):
            assert c.split()[0].startswith(".venv/bin/"), (f, c)  # runs without activating anything


def test_tables_reference_is_generated_from_the_ddl():
    assert (ROOT / "docs" / "tables.md").read_text(encoding="utf-8") == tables_markdown(), \
        "docs/tables.md is stale: run `make docs`"


@pytest.mark.parametrize("where,command", SHELL, ids=[f"{f}:{c[:60]}" for f, c in SHELL])
def test_shell_command_runs_as_written(doc_lake, where, command):
    if exempt(command):
        assert exempt(command)  # listed, with its reason, in EXEMPT
        return
    p = subprocess.run(["bash", "-c", command], cwd=ROOT, env=clean_env(doc_lake), capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, f"{where}: {command}\n{p.stdout[-1500:]}\n{p.stderr[-3000:]}"


@pytest.mark.parametrize("where,statement", SQL, ids=[f"{f}:{s[:50]}" for f, s in SQL])
def test_sql_runs_as_written(doc_lake, where, statement):
    from transcript_lake.sql import duckdb_connect

    duckdb_connect(doc_lake).sql(statement).fetchall()


@pytest.mark.parametrize("where,code", PYTHON, ids=[f"{f}:{i}" for i, (f, _) in enumerate(PYTHON)])
def test_python_runs_as_written(doc_lake, where, code):
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(doc_lake), capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, f"{where}:\n{code}\n{p.stderr[-3000:]}"


def test_exemptions_are_still_in_the_docs():
    shown = [c for _, c in SHELL]
    for prefix in EXEMPT:
        assert any(c.startswith(prefix) for c in shown), f"EXEMPT lists {prefix!r}, which no doc shows any more"


LIBRARY_MODULES = sorted(m.name for m in __import__("pkgutil").walk_packages(
    [str(ROOT / "transcript_lake")], "transcript_lake."))


@pytest.mark.parametrize("name", LIBRARY_MODULES)
def test_docstring_examples_run_as_written(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring example(s) failed (run with -s)"
