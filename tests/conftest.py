"""One SparkSession for the whole test session (2 cores: JVM start-up is the biggest fixed cost)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from transcript_lake.config import load_config

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / "data" / "corpus"


def make_conf(lake: Path, sources: list[dict] | None = None, overrides: list[str] = ()):
    """Test config with its own lake and, if ``sources`` is given, its own manifest."""
    extra = [f"lake.root={lake}"]
    if sources is not None:
        manifest = lake.parent / f"{lake.name}-sources.yaml"
        manifest.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
        extra.append(f"inputs.manifest={manifest}")
    return load_config("test", extra + list(overrides))


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from transcript_lake.spark import build_spark

    session = build_spark(make_conf(tmp_path_factory.mktemp("lake0") / "lake"), app_name="transcript-lake-tests")
    yield session
    session.stop()


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """A writable copy of the small corpus cut from the real one (tests may edit it)."""
    dst = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus_small", dst)
    return dst


def small_manifest(corpus: Path) -> list[dict]:
    return [
        {"path": str(corpus / "epiphany3.hf-viewer.txt"), "listing": "newest_first"},
        {"path": str(corpus / "makemore-head.rolling-captions.txt"), "video_id": "t3YJ5hKiMQ0",
         "title": "Building makemore Part 5: Building a WaveNet", "channel": "Andrej Karpathy"},
        {"path": str(corpus / "paligemma-head.whisper.txt"), "video_id": "vAmKB7iPkWw", "channel": "Umar Jamil"},
        {"path": str(corpus / "transformers-head.comments.txt")},
    ]


# Topic settings sized for the small corpus (a few hundred windows); fit on a sample so the
# distributed assignment path runs too.
SMALL_TOPICS = ["topics.min_topic_size=5", "topics.hdbscan.min_cluster_size=5", "topics.hdbscan.min_samples=3",
                "topics.vectorizer.min_df=1", "topics.fit_sample=0.6"]


@pytest.fixture(scope="session")
def gold_lake(spark, tmp_path_factory):
    """Every stage, once per test session, on the small corpus: the lake the topic, timeline and
    notebook tests read. Tests that change it work on a copy (:func:`copy_lake`)."""
    from transcript_lake.pipeline import STAGES, run_stages

    base = tmp_path_factory.mktemp("gold")
    shutil.copytree(FIXTURES / "corpus_small", base / "corpus")
    conf = make_conf(base / "lake", small_manifest(base / "corpus"), SMALL_TOPICS)
    results = {r.stage: r for r in run_stages(spark, conf, STAGES)}
    return conf, results


def pipeline_command(lake: Path, manifest: str, *extra: str) -> list[str]:
    """``python jobs/pipeline.py`` on ``lake`` with the small corpus's manifest and topic settings, as a
    user runs it (its own process, JVM and lock): for tests that kill or race whole runs."""
    import sys

    sets = [f"inputs.manifest={manifest}", *SMALL_TOPICS]
    return [sys.executable, "jobs/pipeline.py", "--env", "test", "--lake", str(lake),
            *[a for s in sets for a in ("--set", s)], *extra]


def copy_lake(conf, dst: Path):
    """A copy of ``conf``'s lake at ``dst`` and a config pointing at it (same settings otherwise)."""
    shutil.copytree(conf.get("lake.root"), dst)
    return conf.with_overrides([f"lake.root={dst}"])
