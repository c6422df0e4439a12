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

    def add(self, **metrics) -> None:
        self.metrics.update(metrics)


class StageTimer:
    """``with StageTimer("ingest") as timer:`` logs start/finish lines with elapsed seconds."""

    def __init__(self, stage: str):
        self.result = StageResult(stage)
        self._t0 = 0.0

    def __enter__(self) -> "StageTimer":
        self._t0 = time.perf_counter()
        log.info("[%s] started", self.result.stage)
        return self

    def step(self, message: str, *args) -> None:
        log.info("[%s] %s (%.1f s)", self.result.stage, message % args if args else message, time.perf_counter() - self._t0)

    def __exit__(self, exc_type, exc, tb) -> None:
        self.result.seconds = time.perf_counter() - self._t0
        if exc_type is None:
            shown = ", ".join(f"{k}={v}" for k, v in self.result.metrics.items())
            log.info("[%s] finished in %.1f s: %s", self.result.stage, self.result.seconds, shown)
