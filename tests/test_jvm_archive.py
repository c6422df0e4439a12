"""The options the project gives the driver JVM it starts (``transcript_lake.spark.driver_java_options``).
The class archive (``transcript_lake.jvm_archive``): written once, mapped by the next JVM, never in the
way; each case is its own process, as a user's runs are: the JVM maps an archive at start-up only. The
quick compiler (``spark.quick_jit``): on in the test environment's pipeline processes, off in the suite's own
long-lived JVM, and a user's own Java options win whole."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

from transcript_lake import jvm_archive
from transcript_lake.config import load_config
from transcript_lake.spark import QUICK_JIT, driver_java_options

# One driver JVM: a session and a query (a first Delta-free plan), then what the JVM reports.
SESSION = r"""
import json, sys
from transcript_lake import jvm_archive
from transcript_lake.config import load_config
from transcript_lake.spark import build_spark

conf = load_config("test", [f"lake.root={sys.argv[1]}/lake", f"spark.class_archive={sys.argv[1]}/jvm"])
spark = build_spark(conf, register=False)
spark.range(100).selectExpr("sum(id)").collect()
recording = jvm_archive.pending is not None
saved = jvm_archive.save(spark) if sys.argv[2] == "save" else False
print(json.dumps({"recording": recording, "saved": saved, "mapped_bytes": jvm_archive.mapped_bytes(spark),
                  "path": str(jvm_archive.archive_path(conf)), "jvm_args": jvm_archive.jvm_arguments(spark)}))
"""


def session(folder, then: str = "") -> dict:
    p = subprocess.run([sys.executable, "-c", SESSION, str(folder), then], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_the_first_session_writes_the_archive_whole_and_the_next_maps_it(tmp_path):
    first = session(tmp_path, "save")
    assert first["recording"] and first["saved"]
    archive = tmp_path / "jvm"
    assert [p.name for p in archive.iterdir()] == [first["path"].rsplit("/", 1)[1]]  # renamed into place, no temp file
    size = (archive / first["path"].rsplit("/", 1)[1]).stat().st_size
    assert size > 20e6  # Spark's, Scala's and Delta's classes, not an empty file

    second = session(tmp_path, "save")
    assert not second["recording"] and not second["saved"]  # mapped, not recorded again
    # the options as the JVM reports them: the archive mapped, and the test environment's quick compiler
    assert f"-XX:SharedArchiveFile={first['path']}" in second["jvm_args"] and QUICK_JIT in second["jvm_args"], second
    # the JVM's own report: the archive's classes are mapped on top of the JDK's base archive
    assert second["mapped_bytes"] >= first["mapped_bytes"] + size // 2, (first, second)


def test_an_unusable_archive_costs_the_speed_up_not_the_run(tmp_path):
    from transcript_lake.config import load_config
    from transcript_lake.jvm_archive import archive_path

    # where a session of this Java and Spark looks for its archive (the same digest in every process)
    path = archive_path(load_config("test", [f"spark.class_archive={tmp_path}/jvm"]))
    path.parent.mkdir()
    # a file that is no archive (cut off by a full disk, written by another JVM build): the JVM loads the jars
    path.write_bytes(b"\0" * 4096)
    broken = session(tmp_path)
    assert not broken["recording"] and broken["path"] == str(path)
    assert broken["mapped_bytes"] < 50e6  # the JDK's base archive only


def test_a_folder_with_a_space_in_its_path_is_never_passed_to_the_jvm(tmp_path):
    from transcript_lake.config import load_config
    from transcript_lake.jvm_archive import driver_java_options

    # Spark splits the driver's Java options at whitespace: "-XX:SharedArchiveFile=/my cache/..." would end
    # the JVM's start-up, so there is no archive, recorded or mapped, for such a folder
    assert driver_java_options(load_config("test", [f"spark.class_archive={tmp_path}/my cache"])) == ([], None)
    options, recording = driver_java_options(load_config("test", [f"spark.class_archive={tmp_path}/cache"]))
    assert recording is not None and "-XX:+RecordDynamicDumpInfo" in options


def test_the_driver_jvm_compiles_with_the_quick_compiler_only_unless_told_otherwise(spark, tmp_path):
    # a pipeline process of the test environment (conf/test.yaml: quick_jit on) is started with it: the
    # sessions of test_the_first_session_writes_the_archive_whole_and_the_next_maps_it (no JVM more here)
    on = driver_java_options(load_config("test", [f"spark.class_archive={tmp_path}/jvm"]))[0]
    assert QUICK_JIT in on and "-XX:+RecordDynamicDumpInfo" in on
    off = driver_java_options(load_config("test", ["spark.quick_jit=false", f"spark.class_archive={tmp_path}/jvm"]))[0]
    assert QUICK_JIT not in off and "-XX:+RecordDynamicDumpInfo" in off
    # the suite's own JVM lives the whole run: both compilers (tests/conftest.py), the archive all the same
    suite_jvm = jvm_archive.jvm_arguments(spark)
    assert QUICK_JIT not in suite_jvm and any(a.startswith("-XX:SharedArchiveFile=") or a == "-XX:+RecordDynamicDumpInfo"
                                              for a in suite_jvm), suite_jvm


def test_a_spark_property_given_on_the_command_line_is_one_property_and_a_mapping_is_one_error(tmp_path):
    import pytest

    from transcript_lake.config import load_config
    from transcript_lake.errors import ConfigError
    from transcript_lake.spark import build_spark

    # --set spark.conf.<Spark property>=value: the property's name keeps its dots, as in conf/*.yaml
    conf = load_config("test", ["spark.conf.spark.sql.shuffle.partitions=5",
                                "spark.conf.spark.driver.extraJavaOptions=-Xss4m -XX:+UseSerialGC"])
    assert conf.get("spark.conf")["spark.sql.shuffle.partitions"] == 5
    assert conf.get("spark.conf")["spark.driver.extraJavaOptions"] == "-Xss4m -XX:+UseSerialGC"
    assert "spark" not in conf.get("spark.conf")
    # a nested mapping (YAML written key by key) would reach Spark as a dict's text: one clear error instead,
    # before any JVM is asked for anything
    nested = load_config("test", [f"lake.root={tmp_path}/lake", "spark.conf={spark: {sql: {shuffle: {partitions: 5}}}}"])
    with pytest.raises(ConfigError, match="spark.conf must map Spark property names to values; 'spark' holds a mapping"):
        build_spark(nested)


def test_a_project_folder_with_a_space_in_its_path_keeps_spark_s_log_settings(tmp_path):
    from dataclasses import replace

    from transcript_lake.config import load_config
    from transcript_lake.spark import driver_java_options

    conf = load_config("test", ["spark.class_archive=null"])
    for folder, passed in (("my project", False), ("project", True)):
        (tmp_path / folder / "conf").mkdir(parents=True)
        (tmp_path / folder / "conf" / "log4j2.properties").write_text("", encoding="utf-8")
        options, _ = driver_java_options(replace(conf, root=tmp_path / folder))
        # "-Dlog4j.configurationFile=file:/.../my project/..." would be split in two and stop the JVM's start
        assert any(o.startswith("-Dlog4j.configurationFile=") for o in options) is passed, options
