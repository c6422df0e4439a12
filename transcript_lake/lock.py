"""One pipeline run per lake at a time: an OS file lock at ``<lake>/_pipeline.lock``.

Why a lock rather than letting two runs race through Delta's conflict detection: every write is
atomic on its own, but a stage is several commits whose order matters (rows first, markers last),
and two runs of the same stage would both redo the same videos and then conflict on the same
files; the loser would fail half-way anyway. One run at a time is what a scheduler would enforce,
so the lake enforces it too.

- ``run.lock_wait_s: 0`` (default): a second run fails at once, before starting a JVM, with the
  holder's pid, host, run and start time (CLI exit code 75, "try again later").
- ``run.lock_wait_s: N``: it waits up to N seconds for the first run to finish, then runs (and,
  thanks to the stages' own checks, does only what is left).
- The lock is ``flock(2)`` on a file that is never deleted: the kernel releases it when the holding
  process dies, even by SIGKILL, so a crashed run never leaves a stale lock behind.
- Lakes on object stores (``s3a://``, ``abfss://``) have no such lock: the run logs a warning and
  relies on Delta's optimistic concurrency (a conflicting commit fails, nothing is corrupted); run
  one pipeline per lake from the scheduler there.

Example::

    with lake_lock(conf):
        run_pipeline(spark, conf, ["ingest"])
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .config import Config, ensure_writable_dir
from .errors import UserError
from .lake import lake_root

log = logging.getLogger("transcript_lake")

LOCK_FILE = "_pipeline.lock"
EXIT_LOCKED = 75  # sysexits EX_TEMPFAIL: a scheduler may retry later
_held: dict[str, int] = {}  # lock path -> nesting depth in this process


class LakeLocked(UserError):
    """Another run holds the lake's lock."""


def lock_path(conf: Config) -> Path | None:
    """The lock file of a local lake; None for lakes on object stores."""
    root = lake_root(conf)
    if "://" in root and not root.startswith("file:"):
        return None
    return Path(root.removeprefix("file://").removeprefix("file:")) / LOCK_FILE


def holder(path: Path) -> dict:
    """What the holder wrote into the lock file: empty when free or just being taken. A holder killed
    by SIGKILL leaves its info behind (the lock itself is free), until the next run overwrites it."""
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _holder_once_written(path: Path, patience_s: float = 2.0) -> dict:
    """The holder's info, allowing it the instant between taking the lock and writing who it is.

    Two runs started together meet exactly there; the loser's message should still name the winner."""
    deadline = time.monotonic() + patience_s
    info = holder(path)
    while not info and time.monotonic() < deadline:
        time.sleep(0.02)
        info = holder(path)
    return info


def _describe(info: dict) -> str:
    if not info:
        return "a run that is starting or finishing"
    return (f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started_at')}"
            f" ({info.get('command', '')})")


@contextmanager
def lake_lock(conf: Config, wait_s: float | None = None) -> Iterator[dict | None]:
    """Hold the lake's lock for the duration of the block (re-entrant within a process).

    Raises :class:`LakeLocked` when another process holds it for longer than ``wait_s`` seconds
    (default ``run.lock_wait_s``)."""
    path = lock_path(conf)
    if path is None:
        log.warning("[lock] %s is not a local lake: no lock; run one pipeline at a time on it "
                    "(concurrent commits are caught by Delta's conflict detection)", lake_root(conf))
        yield None
        return
    key = str(path)
    if key in _held:
        _held[key] += 1
        try:
            yield holder(path)
        finally:
            _held[key] -= 1
        return
    wait_s = float(conf.get("run.lock_wait_s", 0) or 0) if wait_s is None else wait_s
    ensure_writable_dir(path.parent, "lake root")  # one clear line, before any JVM
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    announced = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # the holder is read only for a message: in the wait loop it would delay the take-over
                if time.monotonic() >= deadline:
                    hint = ("set run.lock_wait_s (or --wait SECONDS) to wait for it" if not wait_s
                            else f"gave up after waiting {wait_s:.0f} s")
                    raise LakeLocked(f"lake {lake_root(conf)} is busy: another pipeline run holds {path} "
                                     f"({_describe(_holder_once_written(path))}); {hint}") from None
                if not announced:
                    log.info("[lock] waiting up to %.0f s for %s, held by %s", wait_s, path,
                             _describe(_holder_once_written(path)))
                    announced = True
                time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                # the program only: arguments may carry --set values a user would not want in a file
                "command": os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"}
        data = json.dumps(info).encode()
        os.pwrite(fd, data, 0)  # overwrite, then cut to length: once written, never empty while held
        os.ftruncate(fd, len(data))
        _held[key] = 1
        try:
            yield info
        finally:
            del _held[key]
            os.ftruncate(fd, 0)  # the file stays (deleting it would race with a waiter's open)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
