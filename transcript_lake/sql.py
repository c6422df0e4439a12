"""SQL over the lake by name, from Spark or from DuckDB (no JVM), with the same views.

Views are declared once, in ``schemas/views/<name>.sql`` (portable SQL: it runs unchanged in Spark and
DuckDB). Spark sessions built by the project register them after the tables; :func:`duckdb_connect`
maps every Delta table of the lake to ``transcripts.<table>`` through DuckDB's Delta extension,
loaded from the file the ``duckdb-extension-delta`` wheel ships (DuckDB cannot download it offline).

Example::

    con = duckdb_connect(conf)
    con.sql("SELECT * FROM transcripts.concept_neighbours WHERE concept = 'attention' ORDER BY rank").show()
"""

from __future__ import annotations

import logging
from pathlib import Path

from . import DATABASE
from .config import Config
from .errors import UserError
from .lake import is_remote, lake_root
from .schemas import creatable_views, table_specs

log = logging.getLogger(__name__)


def delta_extension_path() -> Path:
    try:
        import duckdb_extension_delta
    except ImportError as exc:
        raise UserError("the DuckDB engine needs the duckdb-extension-delta package (pip install duckdb-extension-delta), "
                        "or use --engine spark") from exc
    found = sorted(Path(duckdb_extension_delta.__file__).parent.rglob("delta.duckdb_extension"))
    if not found:
        raise UserError(f"no delta.duckdb_extension file inside {Path(duckdb_extension_delta.__file__).parent}")
    return found[-1]


def duckdb_connect(conf: Config):
    """An in-memory DuckDB connection with ``transcripts.<table>`` for every Delta table of the lake
    (read through ``delta_scan``) and every view that can be built over them."""
    try:
        import duckdb
    except ImportError as exc:
        raise UserError("the DuckDB engine needs the duckdb package (pip install duckdb), or use --engine spark") from exc
    root = lake_root(conf)
    if is_remote(root):
        raise UserError(f"the DuckDB engine reads local lakes only; use --engine spark for {root}")
    con = duckdb.connect()
    try:
        con.load_extension(str(delta_extension_path()))
    except duckdb.Error as exc:
        raise UserError(f"DuckDB {duckdb.__version__} cannot load {delta_extension_path()}: {str(exc).splitlines()[0]} "
                        "(install the duckdb version matching duckdb-extension-delta)") from exc
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}")
    tables = []
    for name in table_specs():
        path = Path(root) / name
        if (path / "_delta_log").is_dir():
            literal = str(path).replace("'", "''")
            con.execute(f"CREATE VIEW {DATABASE}.{name} AS SELECT * FROM delta_scan('{literal}')")
            tables.append(name)
    if not tables:
        raise UserError(f"no Delta tables under {root}: run the pipeline first (transcript-lake run)")
    for view in creatable_views(set(tables)):
        try:
            con.execute(view.sql)
        except duckdb.Error as exc:  # a lake written before a column the view reads: the tables still serve
            log.warning("view transcripts.%s skipped: %s (a lake written by an older version gains the column "
                        "on its next run)", view.name, str(exc).strip().splitlines()[0][:200])
    return con
