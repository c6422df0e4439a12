"""The one SparkSession builder used by every job, test and notebook.

- Delta Lake: extension + catalog, jars resolved by Maven coordinates (``spark.jars.packages``, set by
  ``delta.configure_spark_with_delta_pip`` from the installed delta-spark version).
- Air-gapped machines: ``DELTA_IVY_SETTINGS=/path/ivysettings.xml`` (or ``delta.ivy_settings`` in conf)
  makes Ivy resolve from that file's repositories instead of Maven Central.
- Catalog: tables are path-based Delta tables under the lake root; every session the project builds
  registers them as ``transcripts.<table>`` (:mod:`transcript_lake.catalog`) so SQL by name works from
  any new session.

Example::

    from transcript_lake.config import load_config
    from transcript_lake.spark import build_spark
    spark = build_spark(load_config("local"))
    spark.sql("SELECT count(*) FROM transcripts.segments").show()
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pyspark import SparkContext
from pyspark.sql import SparkSession

from . import jvm_archive
from .catalog import register_lake
from .config import Config, ensure_writable_dir
from .errors import ConfigError
from .lake import lake_root

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def ivy_settings(conf: Config) -> Path | None:
    """``DELTA_IVY_SETTINGS`` wins over ``delta.ivy_settings``; a named file that is missing is an error."""
    raw = os.environ.get("DELTA_IVY_SETTINGS") or conf.get("delta.ivy_settings", None)
    if not raw:
        return None
    path = Path(os.path.expanduser(str(raw)))
    path = path if path.is_absolute() else (Path.cwd() / path)
    if not path.is_file():
        raise ConfigError(f"DELTA_IVY_SETTINGS points to {path}, which is not a file")
    return path.resolve()


def delta_submit_args(conf: Config) -> list[str]:
    """The spark-submit flags that put Delta on the classpath (a JVM started by spark-submit
    cannot add jars afterwards, so ``spark-submit`` users pass these; see README)."""
    import importlib.metadata as md

    scala = "2.13"
    args = ["--packages", f"io.delta:delta-spark_{scala}:{md.version('delta-spark')}"]
    settings = ivy_settings(conf)
    if settings:
        args += ["--conf", f"spark.jars.ivySettings={settings}"]
    args += ["--conf", f"spark.jars.ivy={conf.path('delta.ivy_cache')}"]
    return args


def _check_delta_loaded(spark: SparkSession) -> None:
    try:
        # Spark's loader sees jars added by spark.jars.packages (the system class loader does not).
        spark._jvm.org.apache.spark.util.Utils.classForName(DELTA_EXTENSION, False, False)  # type: ignore[union-attr]
    except Exception:
        raise ConfigError(
            "Delta Lake classes are not on Spark's classpath. Under spark-submit add "
            "`--packages io.delta:delta-spark_2.13:4.0.1` (and `--conf spark.jars.ivySettings=$DELTA_IVY_SETTINGS` "
            "offline), or run the job with plain `python`."
        ) from None


def build_spark(conf: Config, app_name: str | None = None, register: bool = True) -> SparkSession:
    """Create (or reuse) the SparkSession for ``conf`` and register the lake's tables by name."""
    from delta import configure_spark_with_delta_pip

    root = lake_root(conf)
    if "://" not in root:
        ensure_writable_dir(Path(root), "lake root")

    builder = SparkSession.builder.appName(app_name or conf.get("spark.app_name", "transcript-lake"))
    master = conf.get("spark.master", None)
    # Under spark-submit the master comes from the command line; never override it there.
    if master and not _launched_by_spark_submit():
        builder = builder.master(str(master))
    # Under spark-submit, a property it was started with (`--conf`, a properties file, the cluster's
    # spark-defaults.conf) wins over the environment's default for that key in conf/<env>.yaml.
    submitted = _submitted_conf()
    spark_conf = conf.get("spark.conf", {}) or {}
    nested = sorted(k for k, v in spark_conf.items() if isinstance(v, dict))
    if nested:  # e.g. `spark: {conf: {spark: {sql: ...}}}` in YAML: Spark would get a dict's text as the value
        raise ConfigError(f"spark.conf must map Spark property names to values; {nested[0]!r} holds a mapping "
                          f"(write the whole name as one key: spark.conf: {{spark.sql.shuffle.partitions: 8}})")
    for key, value in spark_conf.items():
        if key not in submitted:
            builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
    builder = (
        builder.config("spark.sql.extensions", DELTA_EXTENSION)
        .config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
        .config("spark.sql.warehouse.dir", f"{root}/_warehouse")
    )
    effective = {**spark_conf, **submitted}
    if str(effective.get("spark.eventLog.enabled", "")).lower() == "true" and not effective.get("spark.eventLog.dir"):
        # Event logs (for Spark's history server) go next to the tables unless told otherwise.
        events = f"{root}/_spark_events"
        if "://" not in events:
            Path(events).mkdir(parents=True, exist_ok=True)
            events = Path(events).resolve().as_uri()
        builder = builder.config("spark.eventLog.dir", events)
    starts_jvm = SparkContext._active_spark_context is None and not _launched_by_spark_submit()
    if starts_jvm and "spark.driver.extraJavaOptions" not in effective:  # the user's own options win whole
        options, jvm_archive.pending = driver_java_options(conf)
        if options:
            builder = builder.config("spark.driver.extraJavaOptions", " ".join(options))
    settings = ivy_settings(conf)
    if settings:
        builder = builder.config("spark.jars.ivySettings", str(settings))
    ivy_cache = conf.path("delta.ivy_cache")
    ensure_writable_dir(ivy_cache, "Ivy cache (delta.ivy_cache)")
    builder = builder.config("spark.jars.ivy", str(ivy_cache))

    # Python workers must run the interpreter that has pyarrow/pandas/the models: this one, unless
    # the user points PYSPARK_PYTHON elsewhere (on a real cluster: the executors' environment).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel(str(conf.get("spark.log_level", "WARN")))
    _check_delta_loaded(spark)
    if register:
        register_lake(spark, conf)
    return spark


# HotSpot's quick compiler only (C1, no C2): see driver_java_options.
QUICK_JIT = "-XX:TieredStopAtLevel=1"


def driver_java_options(conf: Config) -> tuple[list[str], Path | None]:
    """The options the project gives a driver JVM it starts, and the class archive to write after the run
    (:func:`transcript_lake.jvm_archive.driver_java_options`).

    - the project's log4j settings;
    - the class archive (``spark.class_archive``);
    - ``spark.quick_jit`` (off by default, on in the test environment): compile with HotSpot's quick
      compiler (C1) only. A run on a small lake is mostly short Spark jobs and Delta commits, which end
      before C2's optimised code pays back its compiling; on a large lake the aggregations run long
      enough for C2 to pay (docs/performance.md, "Fixed costs of a run").

    Not applied when the user sets ``spark.driver.extraJavaOptions`` (theirs win whole) or under
    spark-submit (its driver JVM is already running).

    >>> from transcript_lake.config import load_config
    >>> QUICK_JIT in driver_java_options(load_config("test", ["spark.class_archive=null"]))[0]
    True
    >>> driver_java_options(load_config("test", ["spark.class_archive=null", "spark.quick_jit=false"]))[0]
    ['-Dlog4j.configurationFile=file:...log4j2.properties']
    """
    options, pending = jvm_archive.driver_java_options(conf)
    log4j = conf.root / "conf" / "log4j2.properties"
    # a project folder with a space in its path keeps Spark's own log settings (more log lines)
    if log4j.is_file() and jvm_archive.fits_java_options(log4j):
        options = [f"-Dlog4j.configurationFile=file:{log4j}", *options]
    if conf.get("spark.quick_jit", False):
        options.append(QUICK_JIT)
    return options, pending


def _submitted_conf() -> dict[str, str]:
    """The Spark properties spark-submit was started with (``--conf``, ``--properties-file``, its own
    flags); empty when the session is not launched by spark-submit. They win over the project's defaults."""
    if not _launched_by_spark_submit():
        return {}
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # attach to spark-submit's JVM, so SparkConf() sees its spark.* properties
    return dict(SparkConf().getAll())


def _launched_by_spark_submit() -> bool:
    # spark-submit starts the JVM first and hands the gateway to Python through these variables.
    return "PYSPARK_GATEWAY_PORT" in os.environ and "PYSPARK_GATEWAY_SECRET" in os.environ
