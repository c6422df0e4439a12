"""``schemas/*.sql`` is the one source of every table's columns, types, comments and natural key;
this module reads it and derives what the code needs (Spark and Arrow schemas, DDL strings for
``mapInArrow``), so a column is declared once.

A table file holds a header and a ``CREATE TABLE`` statement::

    -- layer: silver
    -- key: video_id, seg_idx
    -- The exploded transcript: one row per timed text fragment.
    CREATE TABLE IF NOT EXISTS transcripts.segments (
      video_id  STRING NOT NULL COMMENT 'Video.',
      ...
    ) USING DELTA

``-- key:`` names the natural key (unique, null-safe: a key column that is legitimately null, such as
``mentions.window_idx`` of title mentions, counts as one value), or says ``none`` with the reason
(``-- key: none (append-only history: one row per stage per run)``). Views live in
``schemas/views/<name>.sql`` as ``CREATE OR REPLACE VIEW transcripts.<name> AS ...`` (portable SQL:
the same text runs in Spark and DuckDB).

Example::

    spec = table_specs()["mentions"]
    spec.key                                            # ('video_id', 'window_idx', 'char_start')
    spec.spark_schema(["video_id", "surface"])          # StructType of those columns (nullable)
    spec.arrow_schema(exclude=["start_s"])              # pyarrow schema for a mapInArrow body
    spec.ddl_string(["video_id", "window_idx"])         # 'video_id string, window_idx int'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from . import DATABASE
from .config import project_root

_LAYER = re.compile(r"^--\s*layer:\s*(\w+)", re.MULTILINE)
_KEY = re.compile(r"^--\s*key:\s*(.+)$", re.MULTILINE)
_TABLE = re.compile(r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+" + DATABASE + r"\.(\w+)", re.IGNORECASE)
_VIEW = re.compile(r"CREATE\s+OR\s+REPLACE\s+VIEW\s+" + DATABASE + r"\.(\w+)", re.IGNORECASE)
_REF = re.compile(DATABASE + r"\.(\w+)")
_COLUMN = re.compile(r"^\s*(\w+)\s+(.+?)(\s+NOT\s+NULL)?(?:\s+COMMENT\s+'((?:[^'\\]|\\.|'')*)')?\s*,?\s*$", re.IGNORECASE)


class SchemaError(RuntimeError):
    """A file in ``schemas/`` that does not follow the format above (a bug in the project, not user input)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str          # SQL type as written: STRING, ARRAY<STRUCT<term: STRING, weight: DOUBLE>>, ...
    nullable: bool
    comment: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    layer: str                       # bronze | silver | gold | ops
    ddl: str                         # CREATE TABLE IF NOT EXISTS transcripts.<name> (...) USING DELTA ... (no LOCATION)
    columns: tuple[Column, ...]
    key: tuple[str, ...] | None      # natural key; None with key_note saying why there is none
    key_note: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def _pick(self, columns: Sequence[str] | None, exclude: Iterable[str]) -> list[Column]:
        by_name = {c.name: c for c in self.columns}
        unknown = [c for c in [*(columns or []), *exclude] if c not in by_name]
        if unknown:
            raise SchemaError(f"schemas/{self.name}.sql declares no column(s) {unknown}")
        names = list(columns) if columns else self.column_names
        return [by_name[n] for n in names if n not in set(exclude)]

    def spark_schema(self, columns: Sequence[str] | None = None, exclude: Iterable[str] = (), nullable: bool = True):
        """A Spark StructType of the chosen columns. ``nullable=True`` (the default) for intermediate
        results, where Spark must not assume a NOT NULL it cannot check; ``False`` keeps the DDL's flags."""
        from pyspark.sql import types as T

        return T.StructType([T.StructField(c.name, spark_type(c.type), True if nullable else c.nullable)
                             for c in self._pick(columns, exclude)])

    def arrow_schema(self, columns: Sequence[str] | None = None, exclude: Iterable[str] = (), nullable: bool = True):
        """A pyarrow schema of the chosen columns: all nullable (``mapInArrow`` bodies), or with the DDL's
        NOT NULL flags (``nullable=False``: rows written straight to the table)."""
        import pyarrow as pa

        return pa.schema([pa.field(c.name, arrow_type(c.type), True if nullable else c.nullable)
                          for c in self._pick(columns, exclude)])

    def ddl_string(self, columns: Sequence[str] | None = None, exclude: Iterable[str] = ()) -> str:
        """``"video_id string, window_idx int"``: the schema string ``mapInArrow`` / ``applyInPandas`` take."""
        return ", ".join(f"{c.name} {c.type.lower()}" for c in self._pick(columns, exclude))


@dataclass(frozen=True)
class ViewSpec:
    name: str
    sql: str                 # CREATE OR REPLACE VIEW transcripts.<name> AS ...
    needs: frozenset[str]    # tables and views it reads


# -- SQL types -> Spark / Arrow -------------------------------------------------------------------

def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside ``<...>``."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


_SCALARS = {"STRING", "INT", "INTEGER", "BIGINT", "LONG", "DOUBLE", "FLOAT", "BOOLEAN", "TIMESTAMP", "DATE", "SMALLINT"}


def _parse(text: str):
    """SQL type text -> nested tuple: ('STRING',), ('ARRAY', t), ('MAP', k, v), ('STRUCT', [(name, t)])."""
    t = text.strip()
    upper = t.upper()
    if upper in _SCALARS:
        return (upper,)
    m = re.fullmatch(r"(ARRAY|MAP|STRUCT)\s*<(.*)>", t, re.IGNORECASE | re.DOTALL)
    if not m:
        raise SchemaError(f"unsupported column type {text!r}")
    kind, inner = m.group(1).upper(), m.group(2)
    if kind == "ARRAY":
        return ("ARRAY", _parse(inner))
    if kind == "MAP":
        k, v = _split_top(inner)
        return ("MAP", _parse(k), _parse(v))
    fields = []
    for part in _split_top(inner):
        name, _, ftype = part.partition(":")
        fields.append((name.strip(), _parse(ftype)))
    return ("STRUCT", fields)


def spark_type(text: str):
    from pyspark.sql import types as T

    scalars = {"STRING": T.StringType(), "INT": T.IntegerType(), "INTEGER": T.IntegerType(), "BIGINT": T.LongType(),
               "LONG": T.LongType(), "DOUBLE": T.DoubleType(), "FLOAT": T.FloatType(), "BOOLEAN": T.BooleanType(),
               "TIMESTAMP": T.TimestampType(), "DATE": T.DateType(), "SMALLINT": T.ShortType()}

    def build(node):
        if node[0] == "ARRAY":
            return T.ArrayType(build(node[1]), True)
        if node[0] == "MAP":
            return T.MapType(build(node[1]), build(node[2]), True)
        if node[0] == "STRUCT":
            return T.StructType([T.StructField(n, build(t), True) for n, t in node[1]])
        return scalars[node[0]]

    return build(_parse(text))


def arrow_type(text: str):
    import pyarrow as pa

    scalars = {"STRING": pa.string(), "INT": pa.int32(), "INTEGER": pa.int32(), "BIGINT": pa.int64(), "LONG": pa.int64(),
               "DOUBLE": pa.float64(), "FLOAT": pa.float32(), "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us", tz="UTC"),
               "DATE": pa.date32(), "SMALLINT": pa.int16()}

    def build(node):
        if node[0] == "ARRAY":
            return pa.list_(build(node[1]))
        if node[0] == "MAP":
            return pa.map_(build(node[1]), build(node[2]))
        if node[0] == "STRUCT":
            return pa.struct([(n, build(t)) for n, t in node[1]])
        return scalars[node[0]]

    return build(_parse(text))


# -- reading schemas/ -----------------------------------------------------------------------------

def _columns(name: str, ddl: str) -> tuple[Column, ...]:
    start = _TABLE.search(ddl).end()
    body = ddl[ddl.index("(", start) + 1: ddl.rindex(") USING")]
    out = []
    for line in body.splitlines():
        if not line.strip() or line.strip().startswith("--"):
            continue
        m = _COLUMN.match(line)
        if not m:
            raise SchemaError(f"schemas/{name}.sql: cannot read column line {line.strip()!r}")
        _parse(m.group(2))  # fail at load time on a type the derivations cannot map
        out.append(Column(m.group(1), m.group(2).strip(), m.group(3) is None, (m.group(4) or "").replace("''", "'")))
    return tuple(out)


def _key(name: str, text: str, columns: tuple[Column, ...]) -> tuple[tuple[str, ...] | None, str]:
    m = _KEY.search(text)
    if not m:
        raise SchemaError(f"schemas/{name}.sql must declare its natural key (`-- key: a, b`) or `-- key: none (why)`")
    value = m.group(1).strip()
    if value.lower().startswith("none"):
        note = value[4:].strip(" -—:()")
        if not note:
            raise SchemaError(f"schemas/{name}.sql: `-- key: none` must say why, e.g. `-- key: none (append-only log)`")
        return None, note
    key = tuple(k.strip() for k in value.split(","))
    missing = [k for k in key if k not in {c.name for c in columns}]
    if missing:
        raise SchemaError(f"schemas/{name}.sql: key column(s) {missing} are not declared")
    return key, ""


@lru_cache(maxsize=1)
def table_specs() -> dict[str, TableSpec]:
    """All tables declared in ``schemas/*.sql``, by name."""
    specs = {}
    for path in sorted((project_root() / "schemas").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        name = _TABLE.search(text)
        if not name or name.group(1) != path.stem:
            raise SchemaError(f"{path} must declare CREATE TABLE IF NOT EXISTS {DATABASE}.{path.stem}")
        layer = _LAYER.search(text)
        ddl = text.strip().rstrip(";")
        columns = _columns(path.stem, ddl)
        key, note = _key(path.stem, text, columns)
        specs[path.stem] = TableSpec(path.stem, layer.group(1) if layer else "unknown", ddl, columns, key, note)
    return specs


@lru_cache(maxsize=1)
def view_specs() -> dict[str, ViewSpec]:
    """All views declared in ``schemas/views/*.sql``, by name."""
    specs = {}
    for path in sorted((project_root() / "schemas" / "views").glob("*.sql")):
        text = path.read_text(encoding="utf-8").strip().rstrip(";")
        name = _VIEW.search(text)
        if not name or name.group(1) != path.stem:
            raise SchemaError(f"{path} must declare CREATE OR REPLACE VIEW {DATABASE}.{path.stem}")
        body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
        specs[path.stem] = ViewSpec(path.stem, text, frozenset(_REF.findall(body)) - {path.stem})
    return specs


def creatable_views(available: set[str]) -> list[ViewSpec]:
    """Views whose tables all exist (e.g. no topic views before the topics stage ran), in an order where
    a view comes after the views it reads."""
    specs = view_specs()
    ready, out = set(available), []
    pending = [v for v in specs.values()]
    while pending:
        progress = [v for v in pending if v.needs <= ready]
        if not progress:
            break
        for v in progress:
            out.append(v)
            ready.add(v.name)
            pending.remove(v)
    return out


# -- the table reference (docs/tables.md is generated from the DDL, never written by hand) ---------

LAYERS = ("bronze", "silver", "gold", "ops")


def _header_comment(ddl_text: str) -> str:
    """The free-text comment lines above ``CREATE TABLE`` (not the layer/key tags)."""
    lines = []
    for line in ddl_text.splitlines():
        if line.upper().startswith("CREATE"):
            break
        text = line.lstrip("-").strip()
        if line.startswith("--") and not text.startswith(("layer:", "key:")):
            lines.append(text)
    return " ".join(lines)


def tables_markdown() -> str:
    """``docs/tables.md``: every table with its layer, key, what it holds and every column, from the DDL.

    Regenerate with ``make docs`` (``python -m transcript_lake.schemas > docs/tables.md``); a test fails
    when the file and the DDL disagree.
    """
    specs = table_specs()
    out = ["# Tables", "",
           "Generated from [`schemas/`](../schemas/) by `make docs` (do not edit by hand): the DDL is the one source",
           "of every column, type, comment and natural key. Every table lives at `<lake>/<table>/` and is registered",
           "as `transcripts.<table>`. Data flows one way: bronze → silver → gold; ops tables record runs.", ""]
    out += ["| table | layer | natural key | what |", "|---|---|---|---|"]
    ordered = sorted(specs.values(), key=lambda s: (LAYERS.index(s.layer) if s.layer in LAYERS else 9, s.name))
    for s in ordered:
        key = ", ".join(f"`{k}`" for k in s.key) if s.key else f"none ({s.key_note})"
        out.append(f"| [`{s.name}`](#{s.name}) | {s.layer} | {key} | {_header_comment(s.ddl)} |")
    for s in ordered:
        out += ["", f"## {s.name}", "", f"{s.layer} · key: " + (", ".join(f"`{k}`" for k in s.key) if s.key else f"none — {s.key_note}"),
                "", _header_comment(s.ddl), "", "| column | type | null | comment |", "|---|---|---|---|"]
        for c in s.columns:
            out.append(f"| `{c.name}` | `{c.type}` | {'yes' if c.nullable else 'no'} | {c.comment.replace('|', '/')} |")
    views = view_specs()
    out += ["", "## Views", "", "Declared in [`schemas/views/`](../schemas/views/); see [querying.md](querying.md).", "",
            "| view | reads | what |", "|---|---|---|"]
    for v in views.values():
        what = " ".join(l.lstrip("-").strip() for l in v.sql.splitlines() if l.startswith("--") and "Example" not in l)
        out.append(f"| `{v.name}` | {', '.join(f'`{n}`' for n in sorted(v.needs))} | {what} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(tables_markdown(), end="")
