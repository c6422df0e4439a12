"""Layered configuration: ``conf/base.yaml`` + ``conf/<env>.yaml`` + command-line overrides.

Later layers win; mappings merge key by key. Relative paths in config files resolve against the
project root (the folder that holds ``conf/``); paths given on the command line resolve against the
current directory. ``${VAR}`` / ``${VAR:-default}`` in string values expand from the environment.

Example::

    conf = load_config(env="local", overrides=["segments.overlap_tolerance_s=0.1"])
    conf.get("lake.root")          # '/abs/path/to/lake'
"""

from __future__ import annotations

import copy
import functools
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import ConfigError

_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_MISSING = object()


@functools.lru_cache(maxsize=1)
def project_root() -> Path:
    """The folder holding ``conf/`` and ``schemas/``: the repo checkout, or the bundled copy in a wheel
    (installed, or imported straight from the archive as ``spark-submit --py-files`` does)."""
    here = Path(__file__).resolve().parent
    bundled = here / "_bundled"
    if (bundled / "conf").is_dir():
        return bundled
    if not here.is_dir():
        return _unpack_bundled(here)
    return here.parent


def _unpack_bundled(package_dir: Path) -> Path:
    """Extract ``transcript_lake/_bundled`` from the zip/wheel the package is imported from, once per
    archive version, into the user's cache (conf/ and schemas/ are read as plain files)."""
    import hashlib
    import zipfile

    archive = next(p for p in package_dir.parents if p.is_file())
    st = archive.stat()
    key = hashlib.sha256(f"{archive}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "transcript-lake" / "bundled" / key
    prefix = package_dir.relative_to(archive).as_posix() + "/_bundled/"
    if not (cache / "_bundled" / "conf").is_dir():
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name.startswith(prefix) and not name.endswith("/"):
                    target = cache / "_bundled" / name[len(prefix):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zf.read(name))
    return cache / "_bundled"


def _deep_merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _expand_env(value: Any) -> Any:
    if isinstance(value, str):
        return _ENV_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: _expand_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v) for v in value]
    return value


def _read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


# Keys under these paths are names of their own with dots in them (Spark properties), not nested keys.
FLAT_KEY_PARENTS = (("spark", "conf"),)


def parse_override(text: str) -> dict:
    """``"a.b.c=value"`` -> ``{"a": {"b": {"c": value}}}`` with the value read as YAML (so 3 is an int).
    Under ``spark.conf`` the rest of the key is one Spark property, as in the YAML files:

    >>> parse_override("spark.conf.spark.sql.shuffle.partitions=4")
    {'spark': {'conf': {'spark.sql.shuffle.partitions': 4}}}
    """
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override {text!r} has an empty key")
    for parent in FLAT_KEY_PARENTS:
        if tuple(parts[:len(parent)]) == parent and len(parts) > len(parent) + 1:
            parts = [*parent, ".".join(parts[len(parent):])]
    value: Any = yaml.safe_load(raw) if raw.strip() else ""
    for part in reversed(parts):
        value = {part: value}
    return value


@dataclass
class Config:
    """Resolved settings of one run. ``get("a.b")`` reads nested keys; ``path("a.b")`` gives an absolute Path."""

    data: dict
    env: str
    root: Path
    sources: list[str] = field(default_factory=list)

    def get(self, key: str, default: Any = _MISSING) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is _MISSING:
                    raise ConfigError(f"missing config key {key!r} (looked in {', '.join(self.sources)})")
                return default
            node = node[part]
        return node

    def path(self, key: str) -> Path:
        value = self.get(key)
        if value in (None, ""):
            raise ConfigError(f"config key {key!r} must name a path")
        p = Path(os.path.expanduser(str(value)))
        return p if p.is_absolute() else (self.root / p).resolve()

    def with_overrides(self, overrides: Iterable[str]) -> "Config":
        data = self.data
        for text in overrides:
            data = _deep_merge(data, parse_override(text))
        return Config(_expand_env(data), self.env, self.root, self.sources + list(overrides))


def load_config(env: str = "local", overrides: Iterable[str] = (), conf_dir: Path | None = None) -> Config:
    """Read ``base.yaml`` then ``<env>.yaml`` from ``conf_dir`` (default: the project's ``conf/``)."""
    root = project_root()
    conf_dir = Path(conf_dir) if conf_dir else root / "conf"
    if not re.fullmatch(r"[A-Za-z0-9_-]+", env):
        raise ConfigError(f"environment name {env!r} may only hold letters, digits, '-' and '_'")
    env_file = conf_dir / f"{env}.yaml"
    if not env_file.is_file():
        known = sorted(p.stem for p in conf_dir.glob("*.yaml") if p.stem not in ("base", "sources"))
        raise ConfigError(f"unknown environment {env!r}: no {env_file} (known: {', '.join(known)})")
    data = _deep_merge(_read_yaml(conf_dir / "base.yaml"), _read_yaml(env_file))
    conf = Config(_expand_env(data), env, conf_dir.parent.resolve(), [str(conf_dir / "base.yaml"), str(env_file)])
    return conf.with_overrides(overrides)


def ensure_writable_dir(path: Path, what: str) -> Path:
    """Create ``path`` if needed and prove it is writable, or raise one clear ConfigError."""
    if "://" in str(path):  # object stores: Spark/Hadoop checks access itself
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        # a unique probe per process: with one fixed name, two runs starting at once deleted each other's
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"{what} {path} is not writable: {exc.strerror or exc}") from None
    return path
