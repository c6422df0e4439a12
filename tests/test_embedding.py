"""The lake's embedding encoding through the pipeline: recorded at the first build, used by every later
run, never mixed with another (one error line before any JVM starts), changed only by an explicit
re-embed that replaces every vector. Real models; OpenVINO bf16 where this CPU has native bf16."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pyspark.sql import functions as F

from conftest import ROOT, build, copy_lake, load
from transcript_lake.embedding import lake_encoding, recorded_encoding
from transcript_lake.errors import ConfigError


def test_the_first_build_records_its_encoding_and_every_vector_carries_its_key(spark, gold_lake):
    conf, _ = gold_lake
    enc, why = recorded_encoding(conf)
    assert (enc.backend, enc.precision) == ("torch", "fp32") and why.startswith("explicit")
    rows = load(spark, conf, "encodings").collect()
    assert [(r["key"], r["current"]) for r in rows] == [(enc.key, True)]
    for table in ("window_embeddings", "phrase_embeddings"):
        assert {r["model"] for r in load(spark, conf, table).select("model").distinct().collect()} == {enc.key}
    # auto on a lake with a record: the recorded encoding, not a new choice
    assert lake_encoding(conf.with_overrides(["nlp.embedding_backend=auto", "nlp.embedding_precision=auto"]))[0] == enc


def test_asking_for_another_encoding_is_one_error_line_before_spark_starts(gold_lake, tmp_path):
    conf = copy_lake(gold_lake[0], tmp_path / "lake")
    with pytest.raises(ConfigError, match=r"made by torch fp32 .*nlp.reembed=true"):
        lake_encoding(conf.with_overrides(["nlp.embedding_backend=onnx"]))
    p = subprocess.run([sys.executable, "jobs/pipeline.py", "--env", "test", "--lake", conf.get("lake.root"),
                        "--set", f"inputs.manifest={conf.get('inputs.manifest')}", "--set", "nlp.embedding_backend=onnx",
                        "--set", "nlp.embedding_precision=fp32"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stderr[-2000:]
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the lake's vectors were made by torch fp32") and "nlp.reembed=true" in last
    assert "Ivy" not in p.stderr  # no JVM was started


def test_an_explicit_re_embed_replaces_every_vector_and_keeps_the_history(spark, gold_lake, tmp_path):
    # OpenVINO fp32: the OpenVINO runtime on any x86 CPU (bf16 needs native bf16; tests/test_encoders.py covers it)
    conf = copy_lake(gold_lake[0], tmp_path / "lake").with_overrides(
        ["nlp.embedding_backend=openvino", "nlp.embedding_precision=fp32", "nlp.reembed=true"])
    old, _ = recorded_encoding(conf)
    results = build(spark, conf, ["terms"])
    assert results["terms"].reason == "config changed" and results["terms"].metrics["videos_processed"] == 5
    new, why = recorded_encoding(conf)
    assert (new.backend, new.precision) == ("openvino", "fp32") and new != old and why.startswith("explicit")
    assert {(r["key"], r["current"]) for r in load(spark, conf, "encodings").collect()} == {(old.key, False), (new.key, True)}
    wv = load(spark, conf, "window_embeddings")
    assert {r["model"] for r in wv.select("model").distinct().collect()} == {new.key}  # nothing of the old kind left
    assert wv.count() == load(spark, conf, "windows").count()
    # the same vectors up to float noise: OpenVINO against torch, window by window
    import numpy as np

    a = {(r["video_id"], r["window_idx"]): r["vector"] for r in wv.collect()}
    b = {(r["video_id"], r["window_idx"]): r["vector"] for r in load(spark, gold_lake[0], "window_embeddings").collect()}
    cos = [float(np.dot(a[k], b[k])) for k in b]
    assert min(cos) > 0.9999
    # later runs keep the new encoding without being told again
    later = conf.with_overrides(["nlp.reembed=false", "nlp.embedding_backend=auto", "nlp.embedding_precision=auto"])
    assert lake_encoding(later)[0] == new
    assert build(spark, later, ["terms"])["terms"].status == "skipped"
    assert load(spark, conf, "phrase_embeddings").filter(F.col("model") == new.key).count() > 0
