"""The driver JVM's class archive (HotSpot's class data sharing, CDS): Spark's, Scala's and Delta's
classes parsed and verified once, then mapped by every later driver JVM instead of loaded from the
jars again.

A run's driver loads ~17,000 classes; without an archive every process (every run, every CLI command
that needs Spark, every pipeline process of the test suite) reads, parses and verifies them again. On
the 2-core reference machine the archive takes a new session plus its first query from 15.2 to 9.1 s
and a cold run of the test suite's small corpus from 222.9 to 209.8 s (docs/performance.md).

How it is made: when ``spark.class_archive`` (a folder) holds no archive for this Java and this
Spark, the driver JVM starts with ``-XX:+RecordDynamicDumpInfo``, and after a successful pipeline run
:func:`save` asks it, through its ``DiagnosticCommand`` MBean (what ``jcmd <pid> VM.cds
dynamic_dump`` does, without needing ``jcmd``), to write the classes it has loaded. The file is
written under a temporary name and renamed into place, so a reader never sees half an archive, and
two first runs at once each write their own. Later driver JVMs start with
``-XX:SharedArchiveFile=<it>``. The archive's name is a digest of the Java installation and of
Spark's jars (names, sizes, times): another Java or another Spark gets its own archive; the JVM
itself also refuses an archive that does not match its class path and then simply loads the jars.

Example::

    from transcript_lake.config import load_config
    from transcript_lake.jvm_archive import driver_java_options
    options, recording = driver_java_options(load_config("local"))
    # ["-XX:SharedArchiveFile=~/.cache/transcript-lake/jvm/spark-<digest>.jsa", ...] once an archive exists
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from .config import Config

log = logging.getLogger(__name__)

# The archive this process's driver JVM records for (set by ``spark.build_spark`` when it starts a recording
# JVM); written by :func:`save` after a successful run.
pending: Path | None = None

# -Xlog:cds=off: an archive the JVM cannot use (another JVM build, a changed class path) is not worth a
# warning on every run: the JVM loads the jars as it would without one. Unrecognized -XX options (a JVM
# that is not HotSpot) are ignored rather than fatal.
_QUIET = ["-XX:+IgnoreUnrecognizedVMOptions", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]


def _java_home() -> Path | None:
    """The Java installation PySpark launches: ``$JAVA_HOME`` if set, else ``java`` on ``PATH``."""
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"]).resolve()
    java = shutil.which("java")
    return Path(java).resolve().parents[1] if java else None


def _spark_jars() -> Path | None:
    from pyspark.find_spark_home import _find_spark_home

    jars = Path(_find_spark_home()) / "jars"
    return jars if jars.is_dir() else None


def archive_path(conf: Config) -> Path | None:
    """Where this Java and this Spark's archive lies (or would lie): ``<spark.class_archive>/spark-<digest>.jsa``,
    the digest over the Java installation (its ``release`` file and ``libjvm``) and Spark's jar files. ``None``
    when the setting is off or no Java or Spark installation is found."""
    folder = conf.get("spark.class_archive", None)
    java, jars = _java_home(), _spark_jars()
    if not folder or java is None or jars is None:
        return None
    h = hashlib.sha256()
    for part in [java / "release", *sorted(java.glob("lib/server/libjvm.*")), *sorted(jars.glob("*.jar"))]:
        st = part.stat() if part.exists() else None
        h.update(f"{part}|{st.st_size if st else '-'}|{st.st_mtime_ns if st else '-'}\n".encode())
    return Path(os.path.expanduser(str(folder))) / f"spark-{h.hexdigest()[:16]}.jsa"


def fits_java_options(path: Path) -> bool:
    """Whether ``path`` can go into ``spark.driver.extraJavaOptions``: Spark's launcher splits the options
    at whitespace, so a path with a space in it would split its option and the JVM would not start.

    >>> fits_java_options(Path("/home/me/.cache/x.jsa")), fits_java_options(Path("/my cache/x.jsa"))
    (True, False)
    """
    return not any(c.isspace() for c in str(path))


def driver_java_options(conf: Config) -> tuple[list[str], Path | None]:
    """``(options for the driver JVM, archive to write after the run or None)``: map the archive when it
    exists, else record what the JVM loads so that :func:`save` can write it."""
    path = archive_path(conf)
    if path is None or not fits_java_options(path):  # such a machine goes without the archive
        return [], None
    if path.is_file():
        return [f"-XX:SharedArchiveFile={path}", *_QUIET], None
    return ["-XX:+RecordDynamicDumpInfo", *_QUIET], path


def diagnostic_command(spark, command: str, *arguments: str) -> str:
    """Run a HotSpot diagnostic command (``jcmd``'s ``VM.cds``, ``VM.info``, ... as the MBean's operation
    name: ``vmCds``, ``vmInfo``) in the session's driver JVM; its text output.

    Called through ``MBeanServerConnection.invoke`` by reflection: py4j cannot call the method on the
    platform MBean server's own class, which ``java.management`` does not export."""
    gateway, jvm = spark.sparkContext._gateway, spark.sparkContext._jvm

    def array(cls, values):
        out = gateway.new_array(cls, len(values))
        for i, v in enumerate(values):
            out[i] = v
        return out

    find = jvm.java.lang.Class.forName
    types = array(jvm.java.lang.Class, [find(n) for n in ("javax.management.ObjectName", "java.lang.String",
                                                          "[Ljava.lang.Object;", "[Ljava.lang.String;")])
    invoke = find("javax.management.MBeanServerConnection").getMethod("invoke", types)
    server = jvm.java.lang.management.ManagementFactory.getPlatformMBeanServer()
    name = jvm.javax.management.ObjectName("com.sun.management:type=DiagnosticCommand")
    params = array(jvm.java.lang.Object, [array(jvm.java.lang.String, list(arguments))])
    signature = array(jvm.java.lang.String, ["[Ljava.lang.String;"])
    return str(invoke.invoke(server, array(jvm.java.lang.Object, [name, command, params, signature])))


def save(spark, path: Path | None = None) -> bool:
    """Write the classes the session's driver JVM has loaded to ``path`` (default: the archive this
    process's JVM records for; nothing when there is none or it already exists). Best effort: a JVM that cannot dump or a folder that cannot be written costs
    this one speed-up, never the run. True when an archive was written."""
    path = path or pending
    if path is None or path.is_file():
        return False
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        diagnostic_command(spark, "vmCds", "dynamic_dump", str(tmp))
        if not tmp.is_file():
            return False
        os.replace(tmp, path)  # whole or not at all: later JVMs never map half an archive
        log.info("[spark] class archive for later runs: %s (%.0f MB)", path, path.stat().st_size / 1e6)
        return True
    except Exception as e:  # noqa: BLE001 - an optimisation must never fail the run it follows
        log.debug("no class archive written: %s", e)
        tmp.unlink(missing_ok=True)
        return False


def mapped_bytes(spark) -> int:
    """Bytes of class archives the session's driver JVM has mapped (the JDK's base archive, plus this
    module's archive when it is in use), from ``VM.info``; 0 when the JVM does not say."""
    import re

    found = re.search(r"CDS archive\(s\) mapped at: \[[^)]*\), size (\d+)", diagnostic_command(spark, "vmInfo"))
    return int(found.group(1)) if found else 0


def jvm_arguments(spark) -> list[str]:
    """The options the session's driver JVM was started with, as the JVM itself reports them (what
    :func:`driver_java_options` and ``spark.quick_jit`` gave it, plus Spark's own)."""
    bean = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    return [str(a) for a in bean.getInputArguments()]
