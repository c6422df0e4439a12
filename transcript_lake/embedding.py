"""The lake's embedding encoding: chosen once, recorded in ``transcripts.encodings``, checked on every run.

Backend and precision (``nlp.embedding_backend`` / ``nlp.embedding_precision``) are output settings of
a lake, not speed knobs: vectors made by two encodings must never mix. So:

- a **new lake** (no current row) takes the configured encoding; ``auto`` chooses the fastest option
  that passes the quality gate on this machine (:func:`transcript_lake.nlp.encoders.choose_encoding`);
- a **lake with a record** uses its recorded encoding when this machine can run it (another laptop,
  a GPU box, a cluster, a moved lake) and the settings are ``auto`` or name the same; otherwise the run
  stops before any JVM starts with one ``error:`` line that names the options: run where the recorded
  encoding runs, or re-embed explicitly (``--set nlp.reembed=true``: every window and phrase again).

Example::

    enc, why, new = lake_encoding(conf)      # the Encoding to embed with; ``new``: to be recorded
    enc.key                                   # 'openvino-bf16-e65add5ccc17' -> window_embeddings.model
"""

from __future__ import annotations

from functools import lru_cache

from .config import Config
from .errors import ConfigError
from .lake import is_remote, lake_root, local_table_dir
from .nlp import encoders as E


def recorded_encoding(conf: Config) -> tuple[E.Encoding, str] | None:
    """The lake's current encoding and why it was chosen, read JVM-free from ``encodings``; None for a lake
    that has none yet."""
    root = lake_root(conf)
    if is_remote(root):
        from deltalake import DeltaTable, exceptions

        try:
            table = DeltaTable(f"{root}/encodings")
        except (exceptions.TableNotFoundError, OSError):
            return None
    else:
        folder = local_table_dir(conf, "encodings")
        if not (folder / "_delta_log").is_dir():
            return None
        from deltalake import DeltaTable

        table = DeltaTable(str(folder))
    rows = [r for r in table.to_pyarrow_table(columns=["current", "encoding", "chosen_because"]).to_pylist() if r["current"]]
    if not rows:
        return None
    return E.Encoding.from_json(rows[0]["encoding"]), rows[0]["chosen_because"] or ""


def lake_encoding(conf: Config) -> tuple[E.Encoding, str, bool]:
    """``(encoding, why, new)``: what this run embeds with (see the module docstring). Raises
    ConfigError (one line) when the recorded encoding cannot run here or the settings ask for another."""
    model = str(conf.get("nlp.embedding_model"))
    backend, precision = str(conf.get("nlp.embedding_backend", "auto")), str(conf.get("nlp.embedding_precision", "auto"))
    device = str(conf.get("nlp.device", "auto"))
    recorded = recorded_encoding(conf)
    reembed = bool(conf.get("nlp.reembed", False))
    if recorded is None or reembed:
        enc, why = _choose(model, backend, precision, device)
        return enc, why, recorded is None or enc != recorded[0]
    enc, why = recorded
    asked = [(name, value, have) for name, value, have in (("nlp.embedding_backend", backend, enc.backend),
                                                           ("nlp.embedding_precision", precision, enc.precision))
             if value != "auto" and value != have]
    if asked:
        settings = ", ".join(f"{n}={v}" for n, v, _ in asked)
        raise ConfigError(f"the lake's vectors were made by {enc.label()} ({enc.key}); this run asks for {settings}. "
                          "Vectors of two encodings never mix: set nlp.embedding_backend/precision to auto (or the lake's) "
                          "to continue, or re-embed every window and phrase with --set nlp.reembed=true")
    ok, reason = E.can_run(enc, device, model=model)
    if not ok:
        raise ConfigError(reason + " (--set nlp.reembed=true)")
    return enc, why, False


@lru_cache(maxsize=8)
def _choose(model: str, backend: str, precision: str, device: str) -> tuple[E.Encoding, str]:
    # cached per process: every stage's settings ask, the quick gate runs once
    return E.choose_encoding(model, backend, precision, device)


def check(conf: Config) -> None:
    """Pre-flight for the stages that make or read vectors: one error line before any JVM starts."""
    lake_encoding(conf)
