"""The shape of the code: the stage registry drives everything, no import cycle (imports inside functions
count too), every table declares its natural key, jobs and docs name only registered stages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT
from transcript_lake.registry import RegistryError, all_stages, order_stages, select_stages, stage_names
from transcript_lake.schemas import table_specs
from transcript_lake.stage import Settings, Stage

PACKAGE = ROOT / "transcript_lake"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports, anywhere in the file (module level or inside functions),
    except under ``if TYPE_CHECKING:`` (never executed)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
                for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                if t in modules and t != name:
                    graph[name].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else path + [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_no_import_cycle_even_through_imports_inside_functions():
    graph = import_graph()
    assert "transcript_lake.tables" in graph and graph["transcript_lake.pipeline"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_stages_are_ordered_by_their_inputs_and_outputs():
    names = stage_names()
    assert names[0] == "ingest"
    for stage in all_stages():
        for table in stage.inputs:
            owner = next((s.name for s in all_stages() if table in s.outputs), None)
            assert owner is None or names.index(owner) < names.index(stage.name), (stage.name, table, owner)
    # --from follows the data: topics feeds nothing downstream; terms feeds concepts, topics, timelines
    assert select_stages(start="topics") == ["topics"]
    downstream = select_stages(start="terms")
    assert downstream[0] == "terms" and {"concepts", "topics", "timelines"} <= set(downstream)
    assert "ingest" not in downstream and "windows" not in downstream
    assert select_stages(only=["timelines", "ingest"]) == ["ingest", "timelines"]


def _stage(name, inputs, outputs):
    return Stage(name=name, run=lambda ctx: None, inputs=inputs, outputs=outputs, settings=lambda conf: Settings({}))


def test_a_cycle_or_a_table_with_two_owners_is_rejected():
    with pytest.raises(RegistryError, match="stage cycle: a -> b -> a|stage cycle: b -> a -> b"):
        order_stages([_stage("a", ("y",), ("x",)), _stage("b", ("x",), ("y",))])
    with pytest.raises(RegistryError, match="output of both"):
        order_stages([_stage("a", (), ("x",)), _stage("b", (), ("x",))])
    with pytest.raises(RegistryError, match="shared"):
        order_stages([_stage("a", (), ("quarantine",))])
    # a new stage slots in by what it reads: no list to edit
    order = [s.name for s in order_stages([_stage("late", ("x",), ("z",)), _stage("early", (), ("x",))])]
    assert order == ["early", "late"]


def test_every_table_is_declared_once_with_a_key_and_owned_by_one_stage():
    specs = table_specs()
    owned = {t: s.name for s in all_stages() for t in s.outputs}
    shared = {"quarantine", "stage_state", "pipeline_runs"}
    assert set(specs) == set(owned) | shared, set(specs) ^ (set(owned) | shared)
    for name, spec in specs.items():
        assert spec.key or spec.key_note, name
        assert all(c.comment for c in spec.columns), name


def test_every_job_file_names_a_registered_stage():
    jobs = {p.stem for p in (ROOT / "jobs").glob("*.py") if not p.name.startswith("_")}
    assert jobs - {"pipeline"} <= set(stage_names())
    for name in jobs - {"pipeline"}:
        assert "stage_job(__file__" in (ROOT / "jobs" / f"{name}.py").read_text()


def test_settings_split_output_from_speed(tmp_path):
    from transcript_lake.config import load_config

    # its own (empty) lake: the terms settings name the lake's encoding, and ./lake after `make run`
    # may hold another one than the suite's
    conf = load_config("test", [f"lake.root={tmp_path / 'lake'}"])
    terms = next(s for s in all_stages() if s.name == "terms").settings(conf)
    fast = next(s for s in all_stages() if s.name == "terms").settings(
        conf.with_overrides(["nlp.device=cpu", "nlp.torch_threads=2", "nlp.embed_batch_size=8", "nlp.spacy_batch_size=4"]))
    assert terms.hash == fast.hash and terms.speed != fast.speed
    assert "/" not in terms.json  # no path: a stop list counts by its content
