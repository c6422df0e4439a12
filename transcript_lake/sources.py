"""Input discovery: the manifest (``conf/sources.yaml``) plus ``--input`` paths/globs.

Each input file becomes a :class:`SourceFile` with its content hash and a *fingerprint* (hash of the
content + format + manifest metadata): the ingest stage re-parses a file only when its fingerprint
changed since the last successful run.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import yaml

from .config import Config
from .errors import ConfigError
from .formats import FORMATS

META_KEYS = ("video_id", "title", "channel", "url", "description", "published_at", "listing")
ENTRY_KEYS = set(META_KEYS) | {"path", "format"}


@dataclass
class SourceFile:
    path: Path                  # absolute local path
    source_path: str            # key stored in tables: relative to the project root when inside it
    order: int                  # manifest position, then --input order
    fmt: Optional[str] = None   # from the manifest; None = sniff
    meta: dict = field(default_factory=dict)
    size: int = 0
    sha256: str = ""
    error: Optional[str] = None  # unreadable file: quarantined, never parsed

    @property
    def fingerprint(self) -> str:
        payload = json.dumps({"sha": self.sha256, "fmt": self.fmt, "meta": self.meta, "order": self.order}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Streaming hash: memory stays flat whatever the file size."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _display_path(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def load_manifest(conf: Config) -> list[dict]:
    path = conf.path("inputs.manifest")
    if not path.is_file():
        raise ConfigError(f"manifest not found: {path} (inputs.manifest)")
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    entries = data.get("sources", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"manifest {path} must hold `sources:` as a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "path" not in entry:
            raise ConfigError(f"manifest {path}: entry {i + 1} needs a `path`")
        unknown = set(entry) - ENTRY_KEYS
        if unknown:
            raise ConfigError(f"manifest {path}: entry {i + 1} has unknown keys {sorted(unknown)} (known: {sorted(ENTRY_KEYS)})")
        if entry.get("format") and entry["format"] not in FORMATS:
            raise ConfigError(f"manifest {path}: entry {i + 1} format {entry['format']!r} is not one of {', '.join(FORMATS)}")
        if entry.get("listing") not in (None, "newest_first", "oldest_first"):
            raise ConfigError(f"manifest {path}: entry {i + 1} listing must be newest_first or oldest_first")
    return entries


def _expand(pattern: str, base: Path) -> list[Path]:
    p = Path(os.path.expanduser(pattern))
    p = p if p.is_absolute() else base / p
    if any(ch in pattern for ch in "*?["):
        hits = [Path(h) for h in sorted(glob.glob(str(p), recursive=True))]
        return [h for h in hits if h.is_file()]
    if p.is_dir():
        return sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith("."))
    return [p] if p.exists() else []


def discover(conf: Config, inputs: Iterable[str] = (), use_manifest: bool = True, hash_files: bool = True) -> list[SourceFile]:
    """Files to ingest: manifest entries (metadata attached) then ``inputs`` (sniffed).

    A path that matches nothing is a ConfigError (one clear line); a file listed twice is kept once,
    with the manifest's metadata. ``hash_files=False`` only checks the inputs (a pre-flight that
    jobs run before starting Spark, so a typo costs no JVM start).
    """
    root = conf.root
    found: dict[Path, SourceFile] = {}
    entries = load_manifest(conf) if use_manifest else []
    order = 0
    for entry in entries:
        hits = _expand(str(entry["path"]), root)
        if not hits:
            raise ConfigError(f"input not found: {entry['path']} (manifest {conf.get('inputs.manifest')})")
        for hit in hits:
            hit = hit.resolve()
            if hit in found:
                continue
            meta = {k: entry[k] for k in META_KEYS if entry.get(k) is not None}
            if isinstance(meta.get("published_at"), (int, float)) or hasattr(meta.get("published_at"), "isoformat"):
                meta["published_at"] = str(meta["published_at"])
            found[hit] = SourceFile(hit, _display_path(hit, root), order, entry.get("format"), meta)
            order += 1
    for pattern in inputs:
        hits = _expand(pattern, Path.cwd())
        if not hits:
            raise ConfigError(f"input not found: {pattern}")
        for hit in hits:
            hit = hit.resolve()
            if hit not in found:
                found[hit] = SourceFile(hit, _display_path(hit, root), order)
                order += 1
    for src in found.values() if hash_files else ():
        try:
            src.size = src.path.stat().st_size
            src.sha256 = file_sha256(src.path)
        except OSError as exc:
            src.error = f"unreadable_file: {exc.strerror or exc}"
    return list(found.values())
