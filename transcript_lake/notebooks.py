"""Run a Databricks source-format notebook locally: Python cells run as code, ``# MAGIC %sql`` cells
through ``spark.sql`` (results shown), ``# MAGIC %md`` cells skipped. Used by the tests so every
notebook is executed end to end.

Example::

    run_notebook("notebooks/01_explore_corpus.py", spark)
"""

from __future__ import annotations

from pathlib import Path

HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"


def split_cells(text: str) -> list[tuple[str, str]]:
    """``[(kind, source)]`` with kind ``python``, ``sql`` or ``md``."""
    if not text.startswith(HEADER):
        raise ValueError("not a Databricks source notebook (first line must be '# Databricks notebook source')")
    cells = []
    for raw in text[len(HEADER):].split(SEPARATOR):
        lines = [l for l in raw.strip("\n").split("\n")]
        if not any(l.strip() for l in lines):
            continue
        if lines and lines[0].startswith("# MAGIC %"):
            body = [l[len("# MAGIC"):].lstrip(" ") if l.startswith("# MAGIC") else l for l in lines]
            kind = body[0].split()[0].lstrip("%")
            cells.append((kind, "\n".join([body[0][len(kind) + 1:]] + body[1:]).strip()))
        else:
            cells.append(("python", "\n".join(lines)))
    return cells


def run_notebook(path: str | Path, spark, show_rows: int = 20, out_dir: str | Path | None = None) -> dict:
    """Execute every cell in order with ``spark``, ``display`` and ``displayHTML`` defined (as on
    Databricks); HTML output (figures) is written to ``out_dir`` as ``<notebook>-<n>.html``. Returns the namespace."""
    html_dir = Path(out_dir) if out_dir else Path(path).resolve().parent / "_output"
    shown: list[Path] = []

    def display_html(text: str) -> None:
        html_dir.mkdir(parents=True, exist_ok=True)
        target = html_dir / f"{Path(path).stem}-{len(shown) + 1}.html"
        target.write_text(text, encoding="utf-8")
        shown.append(target)
        print(f"displayHTML -> {target}")

    namespace: dict = {"spark": spark, "display": lambda df, *a, **k: df.show(show_rows, truncate=60),
                       "displayHTML": display_html, "__html_outputs__": shown}
    for idx, (kind, source) in enumerate(split_cells(Path(path).read_text(encoding="utf-8"))):
        if kind == "python":
            exec(compile(source, f"{path}#cell{idx}", "exec"), namespace)  # noqa: S102 - our own notebook
        elif kind == "sql":
            spark.sql(source).show(show_rows, truncate=60)
    return namespace
