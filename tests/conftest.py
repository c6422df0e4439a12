"""Shared fixtures. One SparkSession per test process (JVM start-up is the biggest fixed cost) and one
small gold lake built once by every stage; tests that change a lake work on a copy (:func:`copy_lake`),
so nothing is built twice.

``make test`` runs two pytest-xdist workers (most tests wait on a JVM or a child process; two keep both
cores busy). The lakes every worker reads are built once per run, by whichever worker asks first,
under a file lock (:func:`built_once`); the others wait for it. Modules are handed out in the order
of :func:`pytest_collection_modifyitems`: the crash chain, then modules with lakes of their own, then
the gold-lake readers."""

from __future__ import annotations

import os
import pickle
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from transcript_lake.config import load_config

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / "data" / "corpus"

# Topic settings sized for the small corpus (a few hundred windows); fit on a sample so the
# distributed assignment path runs too.
SMALL_TOPICS = ["topics.min_topic_size=5", "topics.hdbscan.min_cluster_size=5", "topics.hdbscan.min_samples=3",
                "topics.vectorizer.min_df=1", "topics.fit_sample=0.6"]


def make_conf(lake: Path, sources: list[dict] | None = None, overrides: list[str] = ()):
    """Test config with its own lake and, if ``sources`` is given, its own manifest."""
    extra = [f"lake.root={lake}"]
    if sources is not None:
        manifest = lake.parent / f"{lake.name}-sources.yaml"
        manifest.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
        extra.append(f"inputs.manifest={manifest}")
    return load_config("test", extra + list(overrides))


def small_manifest(corpus: Path) -> list[dict]:
    return [
        {"path": str(corpus / "epiphany3.hf-viewer.txt"), "listing": "newest_first"},
        {"path": str(corpus / "makemore-head.rolling-captions.txt"), "video_id": "t3YJ5hKiMQ0",
         "title": "Building makemore Part 5: Building a WaveNet", "channel": "Andrej Karpathy"},
        {"path": str(corpus / "paligemma-head.whisper.txt"), "video_id": "vAmKB7iPkWw", "channel": "Umar Jamil"},
        {"path": str(corpus / "transformers-head.comments.txt")},
    ]


def copy_corpus(dst: Path) -> Path:
    """A writable copy of the small corpus cut from the real one (tests may edit it)."""
    shutil.copytree(FIXTURES / "corpus_small", dst)
    return dst


def small_conf(base: Path, overrides: list[str] = ()):
    """A lake under ``base`` over its own copy of the small corpus (not built yet)."""
    corpus = copy_corpus(base / "corpus")
    return make_conf(base / "lake", small_manifest(corpus), [*SMALL_TOPICS, *overrides])


def build(spark, conf, stages=None):
    """Run stages through the orchestrator (as every job does); ``{stage: StageResult}``."""
    from transcript_lake.pipeline import run_pipeline

    return run_pipeline(spark, conf, stages).results


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from transcript_lake.spark import build_spark

    # Both compilers for this JVM (spark.quick_jit=false): it lives the whole run and runs every stage many
    # times, so C2's faster code pays back; the short pipeline processes the suite starts keep C1 only
    # (conf/test.yaml; docs/performance.md).
    conf = make_conf(tmp_path_factory.mktemp("lake0") / "lake", overrides=["spark.quick_jit=false"])
    session = build_spark(conf, app_name="transcript-lake-tests")
    yield session
    session.stop()


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    return copy_corpus(tmp_path / "corpus")


def built_once(tmp_path_factory, name: str, make):
    """``make(folder)``'s value, made once per test run: under pytest-xdist the first worker to ask
    makes it in a folder all workers share, the others wait on the lock and read the pickled value.
    A folder left half-built (its maker died) is made again."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # pytest-of-<user>/pytest-<n>/: shared by this run's workers
    folder, done = base / name, base / f"{name}.pickle"
    with FileLock(str(base / f"{name}.lock")):
        if done.is_file():
            return pickle.loads(done.read_bytes())
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        value = make(folder)
        done.write_bytes(pickle.dumps(value))
        return value


@pytest.fixture(scope="session")
def gold_lake(spark, tmp_path_factory):
    """Every stage, once per test run, on the small corpus: the lake most tests read. Tests that
    change it work on a copy (:func:`copy_lake`). ``(conf, {stage: StageResult})``."""
    def make(folder):
        from transcript_lake import jvm_archive

        conf = small_conf(folder)
        results = build(spark, conf)
        # This JVM has now loaded what a whole run loads: on a machine without the driver's class archive
        # it is written here, so the suite's later pipeline processes map it (transcript_lake.jvm_archive).
        jvm_archive.save(spark)
        return conf, results

    return built_once(tmp_path_factory, "gold", make)


# One more video for a finished lake: a 4-segment SRT (one window).
NEW_VIDEO = FIXTURES / "formats" / "makemore-intro.srt"
# Speed knobs: they change no row, so a lake built with them changed is still a reference lake.
SPEED_KNOBS = ["nlp.device=cpu", "nlp.torch_threads=2", "nlp.embed_batch_size=16", "nlp.spacy_batch_size=8",
               "nlp.windows_per_partition=50", "topics.refit_share=0.2"]


@pytest.fixture(scope="session")
def gold_plus_one(spark, gold_lake, tmp_path_factory):
    """The gold lake copied and given one more video in place, with the speed knobs changed: what the
    incremental-run, portability and cluster tests compare against. ``(conf, results)``."""
    def make(folder):
        conf = copy_lake(gold_lake[0], folder / "lake").with_overrides([*SPEED_KNOBS, f"inputs.extra=[{NEW_VIDEO}]"])
        return conf, build(spark, conf)

    return built_once(tmp_path_factory, "plus1", make)


def copy_lake(conf, dst: Path):
    """A copy of ``conf``'s lake at ``dst`` and a config pointing at it (same settings and inputs)."""
    shutil.copytree(conf.get("lake.root"), dst)
    return conf.with_overrides([f"lake.root={dst}"])


def pipeline_command(lake: Path, manifest: str, *extra: str) -> list[str]:
    """``python jobs/pipeline.py`` on ``lake`` with the small corpus's manifest and topic settings, as a
    user runs it (its own process, JVM and lock): for tests that kill or race whole runs."""
    sets = [f"inputs.manifest={manifest}", *SMALL_TOPICS]
    return [sys.executable, "jobs/pipeline.py", "--env", "test", "--lake", str(lake),
            *[a for s in sets for a in ("--set", s)], *extra]


def versions(spark, conf, skip=("pipeline_runs",)) -> dict:
    """Delta version of every table of the lake (None when absent), except ``skip``."""
    from transcript_lake.schemas import table_specs
    from transcript_lake.tables import table_version

    return {n: table_version(spark, conf, n) for n in table_specs() if n not in skip}


def load(spark, conf, name):
    from transcript_lake.lake import table_path

    return spark.read.format("delta").load(table_path(conf, name))


# Module order for a two-worker run (``make test`` hands out whole modules in this order: ``--dist
# loadfile --no-loadscope-reorder``; each worker takes the next module when it is free). The crash
# chain first: it builds the gold lake and is the longest. Then the modules that build lakes of their
# own, longest first, so the other worker has work while the gold lake is being built; then the ones
# that read the gold lake, longest first. A pure function of the collected items: every xdist worker
# must collect the same order.
# xdist starts each worker with two modules (round robin): test_structure (seconds) is the crash chain's
# second, so that the long test_hostile_input goes to the other worker.
LONGEST_FIRST = ("test_crash.py", "test_cli.py", "test_structure.py", "test_hostile_input.py", "test_ingest.py",
                 "test_cluster.py", "test_docs.py", "test_concurrency.py", "test_pipeline.py", "test_concepts.py", "test_vocabulary.py",
                 "test_terms.py", "test_timelines.py", "test_embedding.py", "test_topics.py", "test_search.py")


def pytest_collection_modifyitems(config, items):
    gold_modules = {str(item.fspath) for item in items if "gold_lake" in getattr(item, "fixturenames", ())}

    def rank(item):
        name = Path(str(item.fspath)).name
        longest = LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
        return (0 if name == "test_crash.py" else 1 if str(item.fspath) not in gold_modules else 2, longest)

    items.sort(key=rank)  # stable: within a module, and among the rest, collection order
