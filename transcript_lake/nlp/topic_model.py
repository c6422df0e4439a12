"""BERTopic for the topics stage: model construction from ``topics.*``, backend selection, the saved
model's worker-side loader, and quality figures (diversity, NPMI coherence).

Backends (``topics.backend``): ``cpu`` = umap-learn + hdbscan; ``gpu`` = cuML's UMAP and HDBSCAN
(RAPIDS) when cuML is importable, else TorchDR's UMAP on CUDA (``pip install torchdr``: torch, numpy and
scikit-learn only, small enough to take anywhere) with hdbscan on the reduced 5-D vectors. Embeddings
are never recomputed (the terms stage stored them), so the GPU only matters for the reduction.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .imports import import_without

log = logging.getLogger("transcript_lake")

# BERTopic imports every embedding backend it knows when it is imported (sentence-transformers, and so
# transformers and torch: ~6 s of an 11 s import on 2 cores). It is fitted here on the stored vectors with
# no embedding model and saved as safetensors through numpy, so none of them is used: the driver imports it
# without them where it has not imported them already (transcript_lake.nlp.imports).
BERTOPIC_UNUSED_BACKENDS = frozenset({"sentence_transformers", "transformers", "torch", "huggingface_hub",
                                      "model2vec", "openai", "cohere", "langchain", "litellm", "fastembed"})


def _importable(*modules: str) -> str | None:
    """None when every module imports, else why not (one line)."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # ImportError, or a CUDA runtime error raised at import
            return f"{name} is not importable ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})"
    return None


def resolve_backend(backend: str, fallback: str) -> tuple[str, str | None]:
    """``(backend to use, reason of a fallback or None)``: ``cpu``, ``gpu:cuml`` or ``gpu:torchdr``.
    ``gpu`` takes cuML first (RAPIDS users), else TorchDR on CUDA; with neither, a ConfigError, or with
    ``fallback: cpu`` a logged, recorded CPU run: never a silent one."""
    if backend == "cpu":
        return "cpu", None
    if backend != "gpu":
        raise ConfigError(f"topics.backend must be cpu or gpu (got {backend!r})")
    cuml = _importable("cuml", "cuml.cluster", "cuml.manifold")
    try:
        import torch

        cuda = None if torch.cuda.is_available() else "torch sees no CUDA device"
    except ImportError:
        cuda = "torch is not installed"
    if cuml is None and cuda is None:
        return "gpu:cuml", None
    torchdr = _importable("torchdr")
    if cuda is None and torchdr is None:
        return "gpu:torchdr", None
    reason = cuda or f"{cuml.split(' (')[0]} and {torchdr}"
    reason = f"{reason} (cuML: {'importable' if cuml is None else 'not importable'}, TorchDR: " \
             f"{'importable' if torchdr is None else 'not importable'})"
    if fallback == "cpu":
        log.warning("[topics] topics.backend=gpu but %s: falling back to CPU (topics.gpu_fallback=cpu)", reason)
        return "cpu", reason
    raise ConfigError(f"topics.backend=gpu but {reason}; on a CUDA machine install RAPIDS cuML or `pip install torchdr`, "
                      "or set topics.backend=cpu (or topics.gpu_fallback=cpu to fall back with a warning)")


class TorchDRUMAP:
    """umap-learn's interface over TorchDR's UMAP, for BERTopic (which calls ``fit`` then ``transform``
    on the same vectors). TorchDR optimises the embedding on the GPU; new points are not projected
    (this pipeline assigns new windows by similarity to the topic embeddings instead)."""

    def __init__(self, n_neighbors: int, n_components: int, min_dist: float, random_state: int | None,
                 device: str = "cuda", max_iter: int = 500):
        self.params = dict(n_neighbors=n_neighbors, n_components=n_components, min_dist=min_dist,
                           random_state=random_state, device=device, max_iter=max_iter)
        self.embedding_ = None
        self._fitted = None

    def fit(self, X, y=None):
        import torch
        from torchdr import UMAP

        if self.params["random_state"] is not None:
            torch.manual_seed(int(self.params["random_state"]))
        # knn by plain torch (no faiss/keops to install); squared euclidean on unit vectors ranks like cosine
        reducer = UMAP(backend=None, verbose=False, **self.params)
        out = reducer.fit_transform(torch.as_tensor(np.asarray(X, dtype="float32")))
        self.embedding_ = (out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)).astype("float32")
        self._fitted = (np.asarray(X).shape, float(np.asarray(X, dtype="float64").sum()))
        return self

    def transform(self, X):
        if self._fitted == (np.asarray(X).shape, float(np.asarray(X, dtype="float64").sum())):
            return self.embedding_
        raise NotImplementedError("TorchDR UMAP projects only the vectors it was fitted on")

    def fit_transform(self, X, y=None):
        return self.fit(X, y).embedding_


def _count_vectorizer(**params):
    """sklearn's CountVectorizer whose integer ``min_df`` is capped by the number of documents it is fitted
    on: BERTopic fits it on one document per topic, and a small lake with two topics would otherwise
    fail with "max_df corresponds to < documents than min_df". The saved model records plain
    CountVectorizer parameters; the class is defined here so sklearn is imported only when needed."""
    from sklearn.feature_extraction.text import CountVectorizer

    class CappedCountVectorizer(CountVectorizer):
        def fit_transform(self, raw_documents, y=None):
            docs = list(raw_documents)
            if isinstance(self.min_df, int) and self.min_df > len(docs):
                self.min_df = max(1, len(docs))
            return super().fit_transform(docs, y)

        def fit(self, raw_documents, y=None):
            self.fit_transform(raw_documents, y)
            return self

    return CappedCountVectorizer(**params)


def cache_numba_compiles(*packages: str) -> int:
    """Have numba keep the machine code of ``packages``' jitted functions on disk (``cache=True``, which
    umap-learn and pynndescent leave off), so only the first process on a machine compiles them. A UMAP
    fit on a small lake is otherwise ~18 s of compiling in every process, and the compiled code is the
    same either way. Functions compile at first call, so this runs right after import. numba keeps the
    files in the package's ``__pycache__``, or in the user's cache folder where that is read-only, and
    compiles again when the source, numba or the CPU changes. Returns how many functions it enabled."""
    import sys

    from numba.core.dispatcher import Dispatcher

    enabled = 0
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in packages:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and type(value._cache).__name__ == "NullCache":
                try:
                    value.enable_caching()
                    enabled += 1
                except RuntimeError:  # no folder numba can write to: it compiles as before
                    pass
    return enabled


def build_model(settings: dict, backend: str, stop_words: list[str], device: str = "cuda"):
    """A BERTopic model from the ``topics.*`` settings on ``backend`` (``resolve_backend``'s answer)."""
    bertopic = import_without("bertopic", BERTOPIC_UNUSED_BACKENDS)
    from bertopic.vectorizers import ClassTfidfTransformer

    u, h = settings["umap"], settings["hdbscan"]
    if backend == "gpu:cuml":
        from cuml.cluster import HDBSCAN
        from cuml.manifold import UMAP
    else:
        from hdbscan import HDBSCAN
        from umap import UMAP

        cache_numba_compiles("umap", "pynndescent")
    if backend == "gpu:torchdr":
        umap_model = TorchDRUMAP(u["n_neighbors"], u["n_components"], u["min_dist"], settings["random_state"], device)
    else:
        umap_model = UMAP(n_neighbors=u["n_neighbors"], n_components=u["n_components"], min_dist=u["min_dist"],
                          metric=u["metric"], random_state=settings["random_state"])
    hdbscan_model = HDBSCAN(min_cluster_size=h["min_cluster_size"], min_samples=h["min_samples"],
                            cluster_selection_method=h["cluster_selection_method"], prediction_data=True)
    vec = settings["vectorizer"]
    vectorizer = _count_vectorizer(stop_words=stop_words, ngram_range=tuple(vec["ngram_range"]), min_df=vec["min_df"])
    return bertopic.BERTopic(umap_model=umap_model, hdbscan_model=hdbscan_model, vectorizer_model=vectorizer,
                             ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=settings["reduce_frequent_words"]),
                             min_topic_size=settings["min_topic_size"], top_n_words=settings["top_n_words"],
                             calculate_probabilities=False, embedding_model=None, verbose=False)


class SavedTopics:
    """What :func:`assign_by_similarity` needs of a saved model (``get_topics()`` and
    ``topic_embeddings_``, as on a fitted ``BERTopic``), read without BERTopic."""

    def __init__(self, representations: dict, embeddings: np.ndarray):
        self.topic_representations_ = representations
        self.topic_embeddings_ = embeddings

    def get_topics(self) -> dict:
        return self.topic_representations_


@lru_cache(maxsize=2)
def load_saved(model_dir: str) -> SavedTopics:
    """The saved model's topics and topic embeddings, read once per Python worker from the two files
    ``BERTopic.save(serialization="safetensors")`` writes them to, the way ``BERTopic.load`` reads them
    (``topics.json``'s ``topic_representations``, ``topic_embeddings.safetensors``). Assignment needs
    nothing else, and importing BERTopic (sentence-transformers, torch, umap) would cost each worker ~12 s.
    Safetensors models keep topic embeddings and c-TF-IDF but not UMAP/HDBSCAN: windows are assigned by
    similarity to the topic embeddings. ``tests/stages/test_topics.py`` checks this reads what
    ``BERTopic.load`` does."""
    import json

    from safetensors.numpy import load_file

    folder = Path(model_dir)
    topics = json.loads((folder / "topics.json").read_text(encoding="utf-8"))
    representations = {int(key): value for key, value in topics["topic_representations"].items()}
    return SavedTopics(representations, load_file(str(folder / "topic_embeddings.safetensors"))["topic_embeddings"])


def assign_by_similarity(model, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Topic and cosine similarity of each vector to the topic embeddings (outlier topic excluded)."""
    ids = np.asarray(sorted(model.get_topics().keys()))      # topic_embeddings_ rows follow sorted ids
    emb = np.asarray(model.topic_embeddings_, dtype="float32")
    if len(emb) == len(ids) + 1 and -1 not in ids:
        # reduce_outliers + update_topics emptied topic -1; its embedding row (the first) is still there
        ids = np.concatenate([[-1], ids])
    keep = ids != -1
    ids, emb = ids[keep], emb[keep]
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = v @ emb.T
    best = sims.argmax(axis=1)
    return ids[best], sims[np.arange(len(v)), best]


def diversity(top_words: list[list[str]]) -> float:
    words = [w for ws in top_words for w in ws]
    return len(set(words)) / len(words) if words else 0.0


def npmi_coherence(top_words: list[list[str]], docs_tokens: list[set[str]]) -> float:
    """Mean NPMI over word pairs of each topic's top words; a word's probability = share of windows holding it."""
    n = len(docs_tokens)
    if not n:
        return 0.0
    index: dict[str, set[int]] = {}
    wanted = {w for ws in top_words for w in ws}
    for i, toks in enumerate(docs_tokens):
        for w in toks & wanted:
            index.setdefault(w, set()).add(i)
    scores = []
    for ws in top_words:
        pair_scores = []
        for a, b in combinations(ws, 2):
            pa, pb = len(index.get(a, ())) / n, len(index.get(b, ())) / n
            pab = len(index.get(a, set()) & index.get(b, set())) / n
            if pa == 0 or pb == 0 or pab == 0:
                pair_scores.append(-1.0)
            elif pab == 1:
                pair_scores.append(1.0)
            else:
                pair_scores.append(math.log(pab / (pa * pb)) / -math.log(pab))
        if pair_scores:
            scores.append(sum(pair_scores) / len(pair_scores))
    return float(np.mean(scores)) if scores else 0.0


def read_stop_words(path: Path) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    extra = []
    if path.is_file():
        extra = [l.strip().lower() for l in path.read_text(encoding="utf-8").splitlines() if l.strip() and not l.startswith("#")]
    return sorted(set(ENGLISH_STOP_WORDS) | set(extra))
