"""The stage registry: every ``STAGE`` declared in ``transcript_lake/stages/*.py``, in the order their
inputs and outputs imply (a topological sort; a cycle, or two stages owning one table, is an error at
import). Jobs, the CLI, the orchestrator, the crash test and the docs read the stages from here.

Example::

    from transcript_lake.registry import stage_names, get_stage, select_stages
    stage_names()                     # ['ingest', 'segments', 'windows', 'terms', 'concepts', ...]
    get_stage("terms").inputs         # ('windows', 'videos', 'segments')
    select_stages(start="topics")     # ['topics', ...every stage that depends on it, in order]
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Sequence

from . import stages as _stages_package
from .errors import UserError
from .stage import SHARED_TABLES, Stage


class RegistryError(RuntimeError):
    """The declared stages do not form a pipeline (a cycle, a table with two owners): a bug, not user input."""


def order_stages(declared: Sequence[Stage]) -> list[Stage]:
    """Topological order by data flow: a stage comes after every stage that writes a table it reads
    (by depth of its upstream chain, then by name, so the order is stable)."""
    owner: dict[str, str] = {}
    for s in declared:
        for t in s.outputs:
            if t in SHARED_TABLES:
                raise RegistryError(f"stage {s.name}: {t} is shared; declare it in `writes`, not `outputs`")
            if t in owner:
                raise RegistryError(f"table {t} is an output of both {owner[t]} and {s.name}")
            owner[t] = s.name
        if set(s.inputs) & set(s.outputs):
            raise RegistryError(f"stage {s.name} reads its own output(s) {sorted(set(s.inputs) & set(s.outputs))}")
    by_name = {s.name: s for s in declared}
    deps = {s.name: sorted({owner[t] for t in s.inputs if t in owner}) for s in declared}
    depth: dict[str, int] = {}

    def chain(name: str, path: tuple[str, ...]) -> int:
        if name in path:
            raise RegistryError("stage cycle: " + " -> ".join(path[path.index(name):] + (name,)))
        if name not in depth:
            depth[name] = 1 + max((chain(d, path + (name,)) for d in deps[name]), default=-1)
        return depth[name]

    return [by_name[n] for n in sorted(by_name, key=lambda n: (chain(n, ()), n))]


@lru_cache(maxsize=1)
def all_stages() -> tuple[Stage, ...]:
    """Every declared stage, in dependency order (imports each module of ``transcript_lake.stages`` once)."""
    declared = []
    for info in sorted(pkgutil.iter_modules(_stages_package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_stages_package.__name__}.{info.name}")
        stage = getattr(module, "STAGE", None)
        if isinstance(stage, Stage):
            if stage.name != info.name:
                raise RegistryError(f"transcript_lake/stages/{info.name}.py declares a stage named {stage.name!r}")
            declared.append(stage)
    return tuple(order_stages(declared))


def stage_names() -> list[str]:
    return [s.name for s in all_stages()]


def get_stage(name: str) -> Stage:
    for s in all_stages():
        if s.name == name:
            return s
    raise UserError(f"unknown stage {name!r} (known: {', '.join(stage_names())})")


def downstream(name: str) -> list[str]:
    """``name`` and every stage that (transitively) reads what it writes, in pipeline order."""
    reached = {name}
    for s in all_stages():
        if s.name in reached:
            continue
        produced = {t for r in reached for t in get_stage(r).outputs}
        if set(s.inputs) & produced:
            reached.add(s.name)
    return [s.name for s in all_stages() if s.name in reached]


def select_stages(only: Sequence[str] | None = None, start: str | None = None) -> list[str]:
    """The stages to run, in dependency order: ``only`` these, or ``start`` and every stage downstream of
    it (``--from``), or all. Unknown names are one clear error line."""
    if only and start:
        raise UserError("--only and --from cannot be combined")
    for name in [*(only or []), *([start] if start else [])]:
        get_stage(name)
    names = stage_names()
    if only:
        return [n for n in names if n in set(only)]
    return downstream(start) if start else names


def table_owner(table: str) -> str | None:
    """The stage that writes ``table`` (None for shared / ops tables)."""
    return next((s.name for s in all_stages() if table in s.outputs), None)
