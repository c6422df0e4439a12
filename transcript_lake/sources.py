"""Input discovery: the manifest (``conf/sources.yaml``) plus ``--input`` paths/globs.

Each input file becomes a :class:`SourceFile` with its content hash and a *fingerprint* (hash of the
content + format + manifest metadata): the ingest stage re-parses a file only when its fingerprint
changed since the last successful run.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional

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


def _glob_regex(pattern: str) -> re.Pattern:
    """``**`` any folders (or none), ``*`` / ``?`` / ``[...]`` within one name: glob semantics
    without following the file system (the walk does that, loop-safe)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?"); i += 3
        elif pattern.startswith("**", i):
            out.append(".*"); i += 2
        elif pattern[i] == "*":
            out.append("[^/]*"); i += 1
        elif pattern[i] == "?":
            out.append("[^/]"); i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            j = pattern.index("]", i + 2)
            body = pattern[i + 1:j]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]"); i = j + 1
        else:
            out.append(re.escape(pattern[i])); i += 1
    return re.compile("".join(out) + r"\Z")


def walk_files(top: Path) -> Iterator[tuple[Path, Optional[str]]]:
    """Every file under ``top`` as ``(path, None)``, following symlinks but never in a loop; what
    cannot be read as ``(path, reason)``: a symlink loop, a broken symlink, an unreadable folder.
    Hidden names (``.git``, ``.DS_Store``) are left out."""
    seen: set[tuple[int, int]] = set()

    def visit(folder: Path) -> Iterator[tuple[Path, Optional[str]]]:
        try:
            st = folder.stat()
        except OSError as exc:
            yield folder, f"unreadable_folder: {exc.strerror or exc}"
            return
        if (st.st_dev, st.st_ino) in seen:
            yield folder, f"symlink_loop: {folder} leads back to a folder already read; not followed"
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield folder, f"unreadable_folder: {exc.strerror or exc}"
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()  # follow symlinks
                if entry.is_symlink():
                    os.stat(path)  # ELOOP / ENOENT for loops and dangling links
            except OSError as exc:
                kind = "symlink_loop" if exc.errno == errno.ELOOP else "broken_symlink"
                yield path, f"{kind}: {exc.strerror or exc}"
                continue
            if is_dir:
                yield from visit(path)
            elif is_file:
                yield path, None
            elif entry.is_symlink():
                yield path, f"broken_symlink: {os.readlink(path)} does not exist"
            else:
                yield path, "not_a_regular_file: sockets, pipes and devices are not read"

    yield from visit(top)


def _expand(pattern: str, base: Path) -> list[tuple[Path, Optional[str]]]:
    """Files a manifest path / ``--input`` names: a file, a folder (walked) or a glob (``**`` allowed)."""
    p = Path(os.path.expanduser(pattern))
    p = p if p.is_absolute() else base / p
    if any(ch in pattern for ch in "*?["):
        parts = p.parts
        fixed = next((i for i, part in enumerate(parts) if any(ch in part for ch in "*?[")), len(parts))
        top = Path(*parts[:fixed])
        if not top.is_dir():
            return []
        tail = Path(*parts[fixed:]).as_posix()
        rx = _glob_regex(tail)
        hits = []
        for path, reason in walk_files(top):
            rel = path.relative_to(top).as_posix()
            # a loop or unreadable folder matters to a recursive pattern even if its name does not match
            if rx.match(rel) or (reason and "**" in tail and reason.startswith(("symlink_loop", "unreadable_folder"))):
                hits.append((path, reason))
        return hits
    if p.is_dir():
        return list(walk_files(p))
    if p.is_symlink() and not p.exists():
        return [(p, "broken_symlink: the link's target does not exist")]
    return [(p, None)] if p.exists() else []


def _outside(entry_path: str) -> bool:
    """A relative manifest path that climbs out of the project (``../../etc/passwd``): written by
    someone who should have written an absolute path, or by an attacker. Judged on the text, so a
    symlinked data folder inside the project still works."""
    p = os.path.expanduser(entry_path)
    if os.path.isabs(p):
        return False
    return os.path.normpath(p).split(os.sep)[0] == ".."


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

    def add(hit: Path, reason: Optional[str], fmt=None, meta=None) -> None:
        nonlocal order
        key = hit if reason else hit.resolve()
        if key in found:
            return
        found[key] = SourceFile(key, _display_path(hit if reason else key, root), order, fmt, meta or {}, error=reason)
        order += 1

    for entry in entries:
        raw = str(entry["path"])
        if "\x00" in raw or _outside(raw):
            # not read: quarantined with the reason, the other entries go on
            add(Path(raw.replace("\x00", "\\0")), f"path_outside_project: manifest path {raw!r} climbs out of {root}; "
                "write an absolute path if that file is meant")
            continue
        hits = _expand(raw, root)
        if not hits:
            raise ConfigError(f"input not found: {entry['path']} (manifest {conf.get('inputs.manifest')})")
        meta = {k: entry[k] for k in META_KEYS if entry.get(k) is not None}
        if isinstance(meta.get("published_at"), (int, float)) or hasattr(meta.get("published_at"), "isoformat"):
            meta["published_at"] = str(meta["published_at"])
        for hit, reason in hits:
            add(hit, reason, entry.get("format"), dict(meta))
    for pattern in inputs:
        hits = _expand(pattern, Path.cwd())
        if not hits:
            raise ConfigError(f"input not found: {pattern}")
        for hit, reason in hits:
            add(hit, reason)
    for src in found.values() if hash_files else ():
        if src.error:
            continue
        try:
            src.size = src.path.stat().st_size
            src.sha256 = file_sha256(src.path)
        except OSError as exc:
            src.error = f"unreadable_file: {exc.strerror or exc}"
    return list(found.values())
