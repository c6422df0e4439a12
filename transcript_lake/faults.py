"""Fault injection for the crash tests: SIGKILL the run at a named point of a table write.

Every Delta write of the pipeline goes through :mod:`transcript_lake.tables` (or calls
:func:`checkpoint` itself), which calls :func:`checkpoint` with the table name before the write
starts and after its commit returned. ``TRANSCRIPT_LAKE_FAULT`` names where to die::

    TRANSCRIPT_LAKE_FAULT="<table>:<when>[#<nth>][@<delay_s>]"

    mentions:before        killed just before the first write of ``mentions`` starts
    mentions:during@2.5    killed 2.5 s after that write started (Spark tasks are writing Parquet
                           files), or at its commit if the write is faster than that
    mentions:during+file   killed as soon as that write has put its first new data file in the
                           table's folder (``TRANSCRIPT_LAKE_FAULT_LAKE`` names the lake root):
                           mid-write whatever the machine's speed; ``@s`` adds a delay after it
    quarantine:after#2     killed right after the second commit to ``quarantine`` in this process

The kill takes the whole process group when this process leads one (the tests start runs with
``start_new_session=True``, so the JVM and the Python workers die with the driver, as on a lost
node); otherwise only this process. Unset, which is the case outside the tests, a checkpoint costs
one environment lookup.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections import Counter

ENV = "TRANSCRIPT_LAKE_FAULT"
LAKE_ENV = "TRANSCRIPT_LAKE_FAULT_LAKE"
_SPEC = re.compile(r"^(?P<table>[a-z_]+):(?P<when>before|during|after)(?P<file>\+file)?(?:#(?P<nth>\d+))?(?:@(?P<delay>[0-9.]+))?$")
_seen: Counter = Counter()
_timers: dict = {}  # table -> something with .cancel(): a Timer, or the event of a file watch


def kill_now(point: str) -> None:
    """SIGKILL this process group (or this process when it leads none). Never returns."""
    sys.stderr.write(f"[fault] SIGKILL at {point}\n")
    sys.stderr.flush()
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def checkpoint(table: str, when: str) -> None:
    """Called by every table write with ``when`` = ``before`` (the write starts) or ``after`` (its
    commit returned). Kills the run if ``TRANSCRIPT_LAKE_FAULT`` names this point."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    m = _SPEC.match(spec)
    if m is None:
        raise ValueError(f"{ENV}={spec!r} is not <table>:<before|during|after>[#n][@delay_s]")
    if m["table"] != table:
        return
    wanted = m["when"]
    if when == "before":
        _seen[table] += 1
    if _seen[table] != int(m["nth"] or 1):
        return
    point = f"{table}:{wanted}#{_seen[table]}"
    if wanted == "before" and when == "before":
        kill_now(point)
    elif wanted == "after" and when == "after":
        kill_now(point)
    elif wanted == "during" and when == "before" and m["file"]:
        # the write runs on this thread; a watcher kills the run once the write's first file is there
        folder = os.path.join(os.environ.get(LAKE_ENV, "."), table)
        stop = threading.Event()
        threading.Thread(target=_kill_at_first_new_file, args=(folder, _data_files(folder), float(m["delay"] or 0),
                                                             point, stop), daemon=True).start()
        _timers[table] = _Cancel(stop)
    elif wanted == "during" and when == "before":
        # the write runs on this thread; a timer kills the run while it does
        timer = threading.Timer(float(m["delay"] or 0.5), kill_now, args=(point,))
        timer.daemon = True
        timer.start()
        _timers[table] = timer
    elif wanted == "during" and when == "after" and table in _timers:
        # the write finished before the timer: die at its commit, so the kill stays inside this write
        # whatever the machine's speed (a later kill could let the stage finish and skip the point)
        _timers.pop(table).cancel()
        kill_now(point + " (the write finished first: killed at its commit)")


class _Cancel:
    def __init__(self, event: threading.Event):
        self.event = event

    def cancel(self) -> None:
        self.event.set()


def _data_files(folder: str) -> set[str]:
    found = set()
    for top, _, names in os.walk(folder):
        if "_delta_log" not in top:
            found.update(os.path.join(top, n) for n in names if n.endswith(".parquet"))
    return found


def _kill_at_first_new_file(folder: str, before: set[str], delay: float, point: str, stop: threading.Event) -> None:
    while not stop.wait(0.02):
        if _data_files(folder) - before:
            if delay and stop.wait(delay):
                return
            kill_now(point + " (its first data file was written)")


class writing:
    """``with writing("mentions"): <the write>`` - the checkpoints around one table write."""

    def __init__(self, table: str):
        self.table = table

    def __enter__(self):
        checkpoint(self.table, "before")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            checkpoint(self.table, "after")
        return False
