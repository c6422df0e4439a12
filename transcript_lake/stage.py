"""What a pipeline stage is: one declared unit (like kedro's ``node(func, inputs, outputs)`` or spaCy's
``Language.factory(assigns=..., default_config=...)``).

A stage module under ``transcript_lake/stages/`` ends with one declaration::

    STAGE = Stage(
        name="windows",
        run=run,                                   # run(ctx: StageContext) -> None; fills ctx.result
        inputs=("videos", "segments", "chapters"), # tables it reads
        outputs=("windows",),                      # tables only it writes
        settings=settings,                         # settings(conf) -> Settings: the ONLY source of what
        per_video=True,                            #   decides whether (and which videos) to rebuild
    )

The registry (:mod:`transcript_lake.registry`) finds every ``STAGE``, orders stages by their inputs and
outputs and rejects cycles. The orchestrator (:mod:`transcript_lake.pipeline`) decides whether a stage
runs (:mod:`transcript_lake.incremental`), builds its :class:`StageContext`, runs it and writes its
markers. So adding a stage = its module + its DDL in ``schemas/`` + its section in ``conf/base.yaml``.

:class:`Settings` splits a stage's settings in two: ``output`` (what the stage computes depends on them;
they are hashed into the stage fingerprint and every per-video marker) and ``speed`` (threads, batch
sizes, device: they never change a row, so changing them reruns nothing). Files that settings name
(stop lists) count by content hash, never by path, so the same lake continues from any checkout.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .config import Config

if TYPE_CHECKING:  # annotations only: no import of Spark or the change-detection module at run time
    from pyspark.sql import DataFrame, SparkSession

    from .incremental import VideoPlan

log = logging.getLogger("transcript_lake")

SHARED_TABLES = ("quarantine", "stage_state", "pipeline_runs")  # written by several stages / the orchestrator


def stable_json(values: Any) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def file_digest(path: Path) -> dict | None:
    """``{"sha256": ...}`` of a settings file (stop list): content only, never its path."""
    return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()} if path.is_file() else None


@dataclass(frozen=True)
class Settings:
    """A stage's settings. ``output`` values decide what it computes (hashed: :attr:`hash`); ``speed``
    values (threads, batch sizes, device) only decide how fast, and are never hashed."""

    output: dict
    speed: dict = field(default_factory=dict)

    @property
    def json(self) -> str:
        return stable_json(self.output)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.json.encode()).hexdigest()[:16]

    def __getitem__(self, key: str) -> Any:
        return self.output[key] if key in self.output else self.speed[key]


@dataclass
class StageResult:
    stage: str
    status: str = "succeeded"                     # succeeded | skipped | failed
    reason: str = ""
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)   # ordered, shown in the run summary
    wrote: list = field(default_factory=list)     # tables committed to in this run
    steps: dict = field(default_factory=dict)     # step message -> seconds it took (for benchmarks)

    def add(self, **metrics) -> None:
        self.metrics.update(metrics)


class StageTimer:
    """Logs a stage's steps with elapsed seconds (``ctx.step("%d video(s) to rebuild", n)``)."""

    def __init__(self, result: StageResult):
        self.result = result
        self._t0 = self._last = time.perf_counter()

    def step(self, message: str, *args) -> None:
        now = time.perf_counter()
        text = message % args if args else message
        self.result.steps[text.split(":")[0]] = now - self._last
        self._last = now
        log.info("[%s] %s (%.1f s)", self.result.stage, text, now - self._t0)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._t0


@dataclass(frozen=True)
class Stage:
    """A declared pipeline stage (see the module docstring)."""

    name: str
    run: Callable[["StageContext"], None]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    settings: Callable[[Config], Settings]
    per_video: bool = False          # rebuilds per video, with markers in stage_state
    writes: tuple[str, ...] = ()     # shared tables it also writes (quarantine)
    sources: Callable[[Config], str] | None = None  # fingerprint of inputs that are not tables (ingest: files)
    preflight: Callable[[Config], None] | None = None  # checks run before any JVM starts; raise ConfigError
    doc: str = ""

    def __post_init__(self):
        bad = set(self.writes) - set(SHARED_TABLES)
        if bad:
            raise ValueError(f"stage {self.name}: `writes` is for shared tables {SHARED_TABLES}, not {sorted(bad)}")


@dataclass
class StageContext:
    """What a running stage gets: the session, config, its settings and result, and the change detection.

    Example (a per-video stage)::

        def run(ctx):
            plan = ctx.plan_videos(upstream)           # (video_id, upstream_hash) rows
            ctx.step("%d video(s) to rebuild", len(plan.changed))
            ... rebuild plan.changed, delete plan.removed ...
            ctx.result.add(windows_written=n)
        # the orchestrator writes the plan's markers once run() returned
    """

    spark: "SparkSession"
    conf: Config
    stage: Stage
    settings: Settings
    full_refresh: bool
    result: StageResult
    video_plan: "VideoPlan | None" = None
    timer: StageTimer | None = None

    def __post_init__(self):
        self.timer = self.timer or StageTimer(self.result)

    def step(self, message: str, *args) -> None:
        self.timer.step(message, *args)

    def at_once(self, *steps: Callable[[], Any]) -> list:
        """Run independent steps of the stage at the same time (threads on the stage's session) and return
        their results in order; once all have finished, the first error is raised. Why: a step's Spark
        jobs and commits leave the cores idle in between (planning, Delta log, Python worker start-up),
        and another step fills the gaps. With ``run.parallel_stages: 1`` they run one after another.

        Example (terms: spaCy and the window embeddings read the same windows, not each other)::

            (n_mentions, mentions), vectors = ctx.at_once(spacy_step, embedding_step)
        """
        if int(self.conf.get("run.parallel_stages", 1)) <= 1 or len(steps) < 2:
            return [step() for step in steps]
        from concurrent.futures import ThreadPoolExecutor, wait

        with ThreadPoolExecutor(max_workers=len(steps), thread_name_prefix=f"{self.stage.name}-step") as pool:
            futures = [pool.submit(step) for step in steps]
            wait(futures)
        for future in futures:
            if future.exception() is not None:
                raise future.exception()
        return [future.result() for future in futures]

    def plan_videos(self, upstream: "DataFrame") -> "VideoPlan":
        """Which videos to rebuild: ``upstream`` (video_id, upstream_hash) against this stage's markers
        and settings hash. The orchestrator commits the markers after ``run`` returns."""
        from .incremental import plan_videos

        self.video_plan = plan_videos(self.spark, self.conf, self.stage.name, upstream, self.settings, self.full_refresh)
        return self.video_plan

    def upstream(self, stage: str) -> "DataFrame":
        """(video_id, upstream_hash) of the videos ``stage`` has finished: a per-video stage's input."""
        from .incremental import marker_hashes

        return marker_hashes(self.spark, self.conf, stage)

    def same_upstream_as_last_run(self, upstream: "DataFrame", videos: list[str]) -> list[str]:
        """Of ``videos``, those this stage last finished from the ``upstream`` they have now (whatever its
        settings were then): its stored rows for them were computed from their current input."""
        from .incremental import same_upstream_as_last_run

        return same_upstream_as_last_run(self.spark, self.conf, self.stage.name, upstream, videos)
