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
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import DATABASE
from .config import Config, project_root
from .errors import UserError

log = logging.getLogger(__name__)

_REF = re.compile(DATABASE + r"\.(\w+)")
_VIEW = re.compile(r"CREATE\s+OR\s+REPLACE\s+VIEW\s+" + DATABASE + r"\.(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class ViewSpec:
    name: str
    sql: str                 # CREATE OR REPLACE VIEW transcripts.<name> AS ...
    needs: frozenset[str]    # tables and views it reads


@lru_cache(maxsize=1)
def view_specs() -> dict[str, ViewSpec]:
    """All views declared in ``schemas/views/*.sql``, by name."""
    specs = {}
    for path in sorted((project_root() / "schemas" / "views").glob("*.sql")):
        text = path.read_text(encoding="utf-8").strip().rstrip(";")
        name = _VIEW.search(text)
        if not name or name.group(1) != path.stem:
            raise RuntimeError(f"{path} must declare CREATE OR REPLACE VIEW {DATABASE}.{path.stem}")
        body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
        specs[path.stem] = ViewSpec(path.stem, text, frozenset(_REF.findall(body)) - {path.stem})
    return specs


def creatable_views(available: set[str]) -> list[ViewSpec]:
    """Views whose tables all exist (e.g. no topic views before the topics stage ran)."""
    return [v for v in view_specs().values() if v.needs <= available]


def register_views(spark, tables: list[str]) -> list[str]:
    """Create the views over ``tables`` (already registered) in the Spark session's catalog."""
    made = []
    for view in creatable_views(set(tables)):
        spark.sql(view.sql)
        made.append(view.name)
    return made


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
    from .spark import lake_root
    from .tables import table_specs

    root = lake_root(conf)
    if "://" in root:
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
        con.execute(view.sql)
    return con
