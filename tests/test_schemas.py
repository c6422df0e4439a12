"""``schemas/*.sql`` is the one source of columns, types and keys: what the stages write matches the DDL
exactly, and every table's declared natural key is unique in the session's gold lake (null-safe: a key
column that is legitimately null, such as ``mentions.window_idx`` of title mentions, counts as a value),
like dbt's ``unique`` data tests."""

from __future__ import annotations

import pytest

from conftest import load
from transcript_lake.schemas import SchemaError, arrow_type, spark_type, table_specs

SPECS = table_specs()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_table_matches_its_ddl_and_its_key_is_unique(spark, gold_lake, name):
    conf, _ = gold_lake
    spec = SPECS[name]
    df = load(spark, conf, name)
    assert df.columns == spec.column_names
    assert [f.dataType for f in df.schema.fields] == [f.dataType for f in spec.spark_schema().fields]
    assert df.count() > 0, f"{name} is empty in the gold lake: its key is untested"
    if spec.key is None:
        assert spec.key_note  # a table without a key says why
        return
    dupes = df.groupBy(*spec.key).count().filter("count > 1")  # groupBy: null == null, as a key should
    assert dupes.count() == 0, dupes.limit(5).collect()
    required = [c.name for c in spec.columns if c.name in spec.key and not c.nullable]
    if required:
        assert df.filter(" OR ".join(f"`{c}` IS NULL" for c in required)).count() == 0


def test_types_map_to_spark_and_arrow():
    import pyarrow as pa
    from pyspark.sql import types as T

    t = "ARRAY<STRUCT<term: STRING, weight: DOUBLE>>"
    assert spark_type(t) == T.ArrayType(T.StructType([T.StructField("term", T.StringType()),
                                                      T.StructField("weight", T.DoubleType())]))
    assert arrow_type("MAP<STRING, STRING>") == pa.map_(pa.string(), pa.string())
    assert arrow_type("TIMESTAMP") == pa.timestamp("us", tz="UTC")
    with pytest.raises(SchemaError, match="unsupported column type"):
        spark_type("GEOMETRY")


def test_projections_keep_the_declared_order_and_reject_unknown_columns():
    spec = SPECS["mentions"]
    assert spec.ddl_string(["video_id", "window_idx"]) == "video_id string, window_idx int"
    assert "start_s" not in spec.arrow_schema(exclude=["start_s"]).names
    with pytest.raises(SchemaError, match="no column"):
        spec.spark_schema(["nope"])
