"""Pipeline stages. Each stage is one module with one entry, ``run(spark, conf) -> StageResult``.

Order (data flows one way): ingest (bronze) -> segments (silver) -> later stages (gold).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger("transcript_lake")


@dataclass
class StageResult:
    stage: str
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)   # ordered, shown in the run summary
    wrote: list = field(default_factory=list)     # tables committed to in this run
    steps: dict = field(default_factory=dict)     # step message -> seconds it took (for benchmarks)

    def add(self, **metrics) -> None:
        self.metrics.update(metrics)


class StageTimer:
    """``with StageTimer("ingest") as timer:`` logs start/finish lines with elapsed seconds."""

    def __init__(self, stage: str):
        self.result = StageResult(stage)
        self._t0 = 0.0
        self._last = 0.0

    def __enter__(self) -> "StageTimer":
        self._t0 = self._last = time.perf_counter()
        log.info("[%s] started", self.result.stage)
        return self

    def step(self, message: str, *args) -> None:
        now = time.perf_counter()
        text = message % args if args else message
        self.result.steps[text.split(":")[0]] = now - self._last
        self._last = now
        log.info("[%s] %s (%.1f s)", self.result.stage, text, now - self._t0)

    def __exit__(self, exc_type, exc, tb) -> None:
        self.result.seconds = time.perf_counter() - self._t0
        if exc_type is None:
            shown = ", ".join(f"{k}={v}" for k, v in self.result.metrics.items())
            log.info("[%s] finished in %.1f s: %s", self.result.stage, self.result.seconds, shown)
