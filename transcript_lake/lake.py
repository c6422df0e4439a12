"""Where a lake's tables, models and reports live: paths derived from config, nothing else.

Every table is the folder ``<lake>/<table>/``. Stored paths (model folders, report folders) are kept
*relative to the lake root* and resolved here at read time, so a lake copied to another folder, machine
or bucket keeps working (see docs/guarantees.md, "Portable lakes").

Example::

    lake_root(conf)                    # '/abs/path/to/lake' or 's3a://bucket/lake'
    table_path(conf, "segments")       # '/abs/path/to/lake/segments'
    lake_relative(conf, "/abs/path/to/lake/models/topics/ab12")   # 'models/topics/ab12'
    resolve_in_lake(conf, "models/topics/ab12")                    # '/abs/path/to/lake/models/topics/ab12'
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import Config


def is_remote(path: str) -> bool:
    """An object-store / Hadoop URI (``s3a://``, ``abfss://``, ``hdfs://``) rather than a local path."""
    return "://" in str(path) and not str(path).startswith("file:")


def lake_root(conf: Config) -> str:
    """Lake root as a string Spark understands: an absolute local path, or a URI left as given."""
    raw = str(conf.get("lake.root"))
    if "://" in raw:
        return raw.rstrip("/")
    return str(conf.path("lake.root"))


def table_path(conf: Config, name: str) -> str:
    return f"{lake_root(conf)}/{name}"


def local_table_dir(conf: Config, name: str) -> Path | None:
    """The table's folder when the lake is on a local file system (listing ``_delta_log`` there needs
    no JVM), else None."""
    path = table_path(conf, name)
    if is_remote(path):
        return None
    return Path(path.removeprefix("file:"))


def lake_relative(conf: Config, path: str | Path) -> str:
    """``path`` as stored in a table: relative to the lake root when inside it (portable), else as given."""
    root, text = lake_root(conf).rstrip("/"), str(path)
    if text == root:
        return "."
    if text.startswith(root + "/"):
        return text[len(root) + 1:]
    return text


def resolve_in_lake(conf: Config, stored: str) -> str:
    """The inverse of :func:`lake_relative`: a stored lake-relative path made absolute for this run.
    Absolute paths and URIs (written by an older version, or pointing outside the lake) pass unchanged."""
    if stored is None:
        return stored
    if "://" in stored or os.path.isabs(stored):
        return stored
    return f"{lake_root(conf)}/{stored}" if stored != "." else lake_root(conf)
