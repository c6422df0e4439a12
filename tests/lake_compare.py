"""Comparing two lakes table by table: what "the same tables" means in the cluster and crash tests.

Rows are compared as multisets (``exceptAll`` both ways) after dropping what legitimately differs
between two runs of the same inputs: timestamps, run ids, model paths and fit times. Doubles are
rounded to 4 places; embedding vectors are compared element-wise with a tolerance.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import functions as F
from pyspark.sql import types as T

# Tables that record when/how long/where a run happened rather than what it computed.
OPS_TABLES = {"stage_state", "pipeline_runs", "topic_runs", "source_files"}
VOLATILE_COLUMNS = {"model_path", "report_path", "fit_seconds", "run_id"}


def delta_tables(root: Path) -> list[str]:
    return sorted(d.name for d in Path(root).iterdir() if (d / "_delta_log").is_dir())


def is_vector(f) -> bool:
    return isinstance(f.dataType, T.ArrayType) and isinstance(f.dataType.elementType, (T.DoubleType, T.FloatType))


def comparable(df, ignore=frozenset()):
    """Without volatile columns (and ``ignore``) and embedding vectors (compared with a tolerance, see
    below); doubles rounded to 4 places."""
    cols = []
    for f in df.schema.fields:
        if f.name in VOLATILE_COLUMNS or f.name in ignore or isinstance(f.dataType, T.TimestampType) or is_vector(f):
            continue
        cols.append(rounded(F.col(f"`{f.name}`"), f.dataType).alias(f.name))
    return df.select(*cols)


def rounded(c, dtype):
    """Doubles rounded to 4 places, also inside arrays of structs (e.g. concepts.aliases.similarity)."""
    if isinstance(dtype, (T.DoubleType, T.FloatType)):
        return F.round(c, 4)
    if isinstance(dtype, T.MapType):  # maps cannot take part in set operations: sorted entries can
        return F.array_sort(F.map_entries(c))
    if isinstance(dtype, T.ArrayType) and isinstance(dtype.elementType, T.StructType):
        doubles = [s.name for s in dtype.elementType.fields if isinstance(s.dataType, (T.DoubleType, T.FloatType))]
        if doubles:
            def fix(x):
                for name in doubles:
                    x = x.withField(name, F.round(x[name], 4))
                return x
            return F.transform(c, fix)
    return c


def max_vector_difference(mine, theirs) -> float:
    """Largest element-wise difference of the embedding vectors, rows matched on the other columns.
    An embedding's last bits depend on which texts shared its batch (padding), so exact equality is
    not expected; anything above 1e-4 would be a real difference."""
    import numpy as np

    vec = [f.name for f in mine.schema.fields if is_vector(f)]
    if not vec:
        return 0.0
    # rows matched on the scalar columns (they include each table's natural key)
    scalar = (T.StringType, T.IntegerType, T.LongType, T.ShortType, T.BooleanType, T.DateType)
    keys = [f.name for f in comparable(mine, {"source_path"}).schema.fields if isinstance(f.dataType, scalar)]
    a = mine.select(*keys, *vec).toPandas().sort_values(keys).reset_index(drop=True)
    b = theirs.select(*keys, *vec).toPandas().sort_values(keys).reset_index(drop=True)
    assert a[keys].equals(b[keys])
    worst = 0.0
    for v in vec:  # per row: arrays may differ in length between rows (windows.seg_starts)
        for x, y in zip(a[v], b[v]):
            x, y = np.asarray(x if x is not None else [], "float64"), np.asarray(y if y is not None else [], "float64")
            if x.shape != y.shape:
                return float("inf")
            if x.size:
                worst = max(worst, float(np.abs(x - y).max()))
    return worst


def assert_lakes_equal(spark, lake: Path, reference: Path, only=None, ignore_columns=frozenset()) -> list[str]:
    """Every non-ops table of ``reference`` (or ``only`` these) exists in ``lake`` with the same rows
    (``ignore_columns``: informative columns expected to differ, e.g. ``source_path`` of a moved input).
    Returns the tables compared."""
    compared = []
    for table in delta_tables(reference):
        if table in OPS_TABLES or (only is not None and table not in only):
            continue
        assert (Path(lake) / table / "_delta_log").is_dir(), f"{table} missing from {lake}"
        raw_mine = spark.read.format("delta").load(str(Path(lake) / table))
        raw_theirs = spark.read.format("delta").load(str(Path(reference) / table))
        mine, theirs = comparable(raw_mine, ignore_columns), comparable(raw_theirs, ignore_columns)
        assert mine.count() == theirs.count(), f"{table}: {mine.count()} rows, expected {theirs.count()}"
        assert mine.exceptAll(theirs).isEmpty() and theirs.exceptAll(mine).isEmpty(), f"{table} differs"
        assert max_vector_difference(raw_mine, raw_theirs) < 1e-4, f"{table}: embedding vectors differ"
        compared.append(table)
    return compared
