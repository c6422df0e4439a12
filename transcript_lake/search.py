"""Search: the moment that answers a question, across every video, with a link to the second.

Hybrid retrieval over the lake's windows (~60 s of transcript each), JVM-free:

- **lexical** — BM25 (k1, b from ``search.bm25``) over the window text, analysed like the index
  (lower case, stop words out, Snowball English stems: :func:`analyze`);
- **dense** — cosine of the query vector and the stored window vector (``window_embeddings``). The
  query is embedded by the same weights that made the window vectors (``transcript_lake.nlp.encoders``;
  OpenVINO runtime + tokenizers where it reproduces them, no torch on the query path);
- **concept** — the query's words resolved through ``concept_aliases`` (the ``concept_lookup`` view):
  "ViT" also finds the windows where the speech recogniser wrote "VAT" once the two are aliases,
  weighted by the concept's rarity (idf), its mentions (saturated like BM25's term frequency) and its
  KeyBERT salience in the window: on the lexical signal's scale, and normalised together with it;
- **chapter** — BM25 over the authors' chapter titles, only with ``search.chapter_titles: true``
  (every benchmark runs with it off: windows are aligned to chapters, chapters are the ground truth).

Each signal is z-normalised over the corpus (lexical and concept as one) and the weighted sum
(``search.weights``) is the window's score; ``search.context`` adds that share of the previous window's
score (talks announce a topic just before they discuss it). A result points at the window's best
**segment** (the one where the query's words and concepts are spoken; the window start otherwise) and
links to that second.

The index is the Delta tables ``search_windows``, ``search_terms``, ``search_concepts`` (stage
``search``) + ``window_embeddings``; the first query after the tables change packs them into numpy
arrays under ``<lake>/_search_cache/`` (a cache: delete it any time), later queries memory-map them.

Example (a lake built by ``transcript-lake run``)::

    >>> from transcript_lake.config import load_config                         # doctest: +SKIP
    >>> conf = load_config("local")                                            # doctest: +SKIP
    >>> hits = search(conf, "how does the KV cache speed up generation?", top=3)   # doctest: +SKIP
    >>> hits[0].url, hits[0].signals                                           # doctest: +SKIP
    ('https://www.youtube.com/watch?v=...&t=1312s', ['lexical', 'dense', 'concept'])
    >>> print(format_results(hits, "table"))                                   # doctest: +SKIP

The analysis itself needs no lake:

    >>> analyze("Rotary positional embeddings, explained!")
    ['rotari', 'posit', 'embed', 'explain']
    >>> query_terms("where does he explain the rotary embeddings?")
    ['rotari', 'embed']

The same ranking from Spark (big or remote lakes): :func:`search_spark` / :func:`rank_windows_spark`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .config import Config
from .errors import UserError
from .lake import is_remote, lake_root, local_table_dir
from .nlp.identity import joined_index, squash

if TYPE_CHECKING:  # annotations only
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("transcript_lake")

ANALYZER_VERSION = 1      # bump when analyze() changes: the stage re-indexes every video
CACHE_FORMAT = 2          # bump when the cache layout changes: caches are rebuilt
SIGNALS = ("lexical", "dense", "concept", "chapter")
INDEX_TABLES = ("search_windows", "search_terms", "search_concepts")
CACHE_TABLES = INDEX_TABLES + ("window_embeddings", "concept_aliases", "concepts", "videos")
YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
FORMATS = ("table", "json", "csv")

# English stop words (Lucene/Snowball-like, plus the filler of spoken language): never indexed.
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are aren as at be because been before being below between
both but by can cannot could couldn d did didn do does doesn doing don down during each few for from further had
hadn has hasn have haven having he her here hers herself him himself his how i if in into is isn it its itself just
ll m me mightn more most mustn my myself needn no nor not now o of off on once only or other our ours ourselves out
over own re s same shan she should shouldn so some such t than that the their theirs them themselves then there these
they this those through to too under until up ve very was wasn we were weren what when where which while who whom
why will with won would wouldn y you your yours yourself yourselves
um uh uhm hmm oh okay ok yeah yep like gonna wanna gotta kinda sorta basically actually really literally
""".split())
# Words users wrap around a question ("where does he explain ..."): dropped from queries, not from the index.
QUERY_STOP = frozenset("""
explain explains explained explaining explanation discuss discusses discussed discussing discussion talk talks talked
talking mention mentions mentioned mentioning cover covers covered covering describe describes described describing
show shows showed showing video videos part moment moments section find tell says said say go goes going walk
walks through anyone somebody someone
""".split())
_WORD = re.compile(r"[^\W_]+")


# --------------------------------------------------------------------------------------------------
# Analysis (shared by the index stage and every query engine)

@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer
    except ImportError as exc:  # a dependency of the project: only a broken install lacks it
        raise UserError("search needs PyStemmer (pip install PyStemmer)") from exc
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits of any script; punctuation separates).

    >>> words("VQ-VAE's codebook (2x)")
    ['vq', 'vae', 's', 'codebook', '2x']
    """
    return _WORD.findall((text or "").lower())


def analyze(text: str) -> list[str]:
    """Index terms of ``text``: words minus stop words, Snowball-stemmed (order and repeats kept).

    >>> analyze("The transformers are attending to the tokens")
    ['transform', 'attend', 'token']
    """
    return _stemmer().stemWords([w for w in words(text) if w not in STOP_WORDS])


def query_terms(text: str) -> list[str]:
    """Distinct index terms of a query, question wrappers ("where does he explain") left out."""
    kept = [w for w in words(text) if w not in STOP_WORDS and w not in QUERY_STOP]
    return list(dict.fromkeys(_stemmer().stemWords(kept)))


def normalise(text: str) -> str:
    """Concept-key form of free text (lower case, punctuation as spaces), as ``concept_aliases.alias``."""
    from .nlp.concepts import normalise_text

    return normalise_text(text or "")


def concept_candidates(query: str) -> list[str]:
    """Every alias form :func:`resolve_query_concepts` may look up for ``query`` (n-grams of up to 5
    words, as written and with the last word made singular)."""
    ws = normalise(query).split()
    out = []
    for n in range(min(5, len(ws)), 0, -1):
        for s in range(0, len(ws) - n + 1):
            gram = ws[s:s + n]
            out += [" ".join(gram), " ".join(gram[:-1] + [_singular(gram[-1])])]
    return list(dict.fromkeys(out))


def joined_candidates(query: str) -> list[str]:
    """The joined forms :func:`resolve_query_concepts` may look up for ``query`` (its :func:`joinable`
    n-grams of up to 5 words, squashed)."""
    ws = normalise(query).split()
    grams = [ws[s:s + n] for n in range(min(5, len(ws)), 0, -1) for s in range(0, len(ws) - n + 1)]
    return list(dict.fromkeys(squash(" ".join(g)) for g in grams if joinable(g)))


def resolve_query_concepts(query: str, lookup, joined_lookup=None) -> dict:
    """Greedy longest-first match of the query's word n-grams against concept aliases: ``lookup(alias)``
    returns a concept (id) or None. ``{concept: the query words that named it}``; single stop words and
    question wrappers never name a concept. An n-gram that is no alias may still name a concept by its
    joined form (``joined_lookup(squash(words))``, :func:`~transcript_lake.nlp.identity.joined_index`:
    "Conv Next" -> convnext) when none of its words is a stop word and five letters or more remain.

    >>> resolve_query_concepts("how do Vision Transformers use patches?", {"vision transformer": "vit", "patch": "patch"}.get)
    {'vit': 'vision transformers', 'patch': 'patches'}
    >>> resolve_query_concepts("what is Conv Next?", {}.get, {"convnext": "convnext"}.get)
    {'convnext': 'conv next'}
    """
    ws = normalise(query).split()
    used = [False] * len(ws)
    found: dict = {}
    for n in range(min(5, len(ws)), 0, -1):
        for s in range(0, len(ws) - n + 1):
            if any(used[s:s + n]):
                continue
            gram = ws[s:s + n]
            if n == 1 and (gram[0] in STOP_WORDS or gram[0] in QUERY_STOP or len(gram[0]) < 2):
                continue
            c = next((c for c in map(lookup, dict.fromkeys([" ".join(gram), " ".join(gram[:-1] + [_singular(gram[-1])])]))
                      if c is not None), None)
            if c is None and joined_lookup is not None and joinable(gram):
                c = joined_lookup(squash(" ".join(gram)))
            if c is not None:
                found.setdefault(c, " ".join(gram))
                used[s:s + n] = [True] * n
    return found


def joinable(gram: Sequence[str]) -> bool:
    """Whether query words may name a concept by their joined form: no stop word or question wrapper among
    them (so "on line" never becomes "online") and at least five letters."""
    return all(w not in STOP_WORDS and w not in QUERY_STOP and len(w) >= 2 for w in gram) and len("".join(gram)) >= 5


def says_query_words(alias: str, said: str) -> bool:
    """Whether an alias contains the query's own words for its concept (singular or plural): windows that
    say it are the lexical signal's, not an expansion.

    >>> says_query_words("vision transformer model", "vision transformers"), says_query_words("vat", "vit")
    (True, False)
    """
    have = {_singular(w) for w in alias.split()}
    return bool(said.split()) and all(_singular(w) in have for w in said.split())


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


# --------------------------------------------------------------------------------------------------
# Settings

@dataclass(frozen=True)
class SearchSettings:
    weights: dict
    chapter_titles: bool
    context: float
    k1: float
    b: float
    min_dense: float
    max_query_chars: int
    query_backend: str
    threads: int
    video_prior: float = 0.0
    fold_adjacent: int = 1

    @classmethod
    def from_conf(cls, conf: Config) -> "SearchSettings":
        w = dict(conf.get("search.weights", {}) or {})
        weights = {s: float(w.get(s, 0.0) or 0.0) for s in SIGNALS}
        bad = sorted(set(w) - set(SIGNALS))
        if bad:
            raise UserError(f"search.weights: unknown signal(s) {', '.join(bad)} (known: {', '.join(SIGNALS)})")
        if any(v < 0 for v in weights.values()):
            raise UserError("search.weights must not be negative")
        video_prior = float(conf.get("search.video_prior", 0.0) or 0.0)
        if video_prior < 0:
            raise UserError("search.video_prior must not be negative")
        fold = conf.get("search.fold_adjacent", 1)
        if not isinstance(fold, int) or isinstance(fold, bool) or fold < 0:
            raise UserError(f"search.fold_adjacent must be a whole number of windows, 0 or more (got {fold!r})")
        return cls(weights=weights, chapter_titles=bool(conf.get("search.chapter_titles", True)),
                   context=float(conf.get("search.context", 0.5)),
                   k1=float(conf.get("search.bm25.k1", 1.2)), b=float(conf.get("search.bm25.b", 0.75)),
                   min_dense=float(conf.get("search.min_dense", 0.3)),
                   max_query_chars=int(conf.get("search.max_query_chars", 1000)),
                   query_backend=str(conf.get("search.query_backend", "auto")),
                   threads=int(conf.get("search.threads", 2) or 0), video_prior=video_prior, fold_adjacent=fold)

    def weight(self, signal: str) -> float:
        if signal == "chapter" and not self.chapter_titles:
            return 0.0
        return self.weights[signal]


# --------------------------------------------------------------------------------------------------
# Results

@dataclass
class SearchResult:
    """One moment: the best segment (``start_s``/``end_s``) of a window (``window_start_s``/``window_end_s``)."""

    rank: int
    video_id: str
    title: str | None
    channel: str | None
    start_s: float
    end_s: float
    window_start_s: float
    window_end_s: float
    score: float
    url: str | None
    snippet: str                                        # matched words marked **like this**
    signals: list[str] = field(default_factory=list)    # lexical | dense | concept | chapter | context
    matched_terms: list[str] = field(default_factory=list)
    concepts: list[str] = field(default_factory=list)   # labels of the concepts the query resolved to, found here
    window_idx: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def format_results(results: Sequence[SearchResult], fmt: str = "table") -> str:
    """``table`` (for people), ``json`` (one JSON array of result objects) or ``csv`` (one row per result).

    >>> r = SearchResult(1, "abcdefghijk", "A talk", "Chan", 61.0, 64.5, 60.0, 118.0, 2.5,
    ...                  "https://www.youtube.com/watch?v=abcdefghijk&t=61s", "the **kv** **cache** is", ["lexical"])
    >>> json.loads(format_results([r], "json"))[0]["start_s"]
    61.0
    >>> format_results([r], "csv").splitlines()[0].split(",")[:3]
    ['rank', 'video_id', 'title']
    >>> print(format_results([], "table"))
    (no results)
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    rows = [r.to_dict() for r in results]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False)
    if fmt == "csv":
        buf = io.StringIO()
        names = list(SearchResult.__dataclass_fields__)
        writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
        return buf.getvalue().rstrip("\n")
    if not rows:
        return "(no results)"
    lines = []
    for r in results:
        title = (r.title or r.video_id)
        title = title if len(title) <= 70 else title[:69] + "…"
        lines.append(f"{r.rank:>2}. {clock(r.start_s):>7}  {r.score:6.2f}  {title}  [{', '.join(r.signals)}]")
        snippet = r.snippet if len(r.snippet) <= 220 else r.snippet[:219] + "…"
        lines.append(f"    {snippet}")
        lines.append(f"    {r.url or r.video_id + ' @ ' + str(int(r.start_s)) + ' s'}")
    return "\n".join(lines)


def moment_url(conf: Config, video_id: str, url: str | None, seconds: float) -> str | None:
    """``timelines.url_template`` for YouTube ids (the timelines stage's rule), else None.

    >>> from transcript_lake.config import load_config
    >>> moment_url(load_config("test"), "y7J6sSO1k50", None, 71.9)
    'https://www.youtube.com/watch?v=y7J6sSO1k50&t=71s'
    >>> moment_url(load_config("test"), "my-talk", None, 5.0) is None
    True
    """
    template = conf.get("timelines.url_template", None)
    if not template or not YOUTUBE_ID.match(video_id or "") or (url and "youtu" not in url):
        return None
    return str(template).replace("{video_id}", video_id).replace("{seconds}", str(int(math.floor(seconds))))


# --------------------------------------------------------------------------------------------------
# Query checks

def check_query(query: str, settings: SearchSettings) -> str:
    """The query, stripped; a :class:`UserError` with a clear message when it cannot be searched."""
    if query is None or not str(query).strip():
        raise UserError("empty query: say what you are looking for, e.g. transcript-lake search \"kv cache\"")
    text = " ".join(str(query).split())
    if len(text) > settings.max_query_chars:
        raise UserError(f"query is {len(text):,} characters; at most {settings.max_query_chars:,} "
                        "(search.max_query_chars): ask a question, not a document")
    if not words(text):
        raise UserError("the query has no words to search for (only punctuation or symbols)")
    return text


# --------------------------------------------------------------------------------------------------
# The query engine's cache: the index tables packed into numpy arrays

def _table_version(conf: Config, name: str) -> int | None:
    d = local_table_dir(conf, name)
    try:
        versions = [int(f[:-5]) for f in os.listdir(d / "_delta_log") if f.endswith(".json") and f[:-5].isdigit()]
    except (FileNotFoundError, NotADirectoryError, TypeError):
        return None
    return max(versions) if versions else None


def _cache_key(conf: Config, s: SearchSettings) -> tuple[str, dict]:
    versions = {t: _table_version(conf, t) for t in CACHE_TABLES}
    ident = {"versions": versions, "k1": s.k1, "b": s.b, "model": _vectors_key(conf),
             "format": CACHE_FORMAT, "analyzer": ANALYZER_VERSION}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16], versions


def cache_root(conf: Config) -> Path:
    """``<lake>/_search_cache``, or, where the lake is read-only, a folder per lake under the user's cache."""
    root = Path(lake_root(conf))
    here = root / "_search_cache"
    if os.access(here if here.exists() else root, os.W_OK):
        return here
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "transcript-lake" / "search" / hashlib.sha256(str(root).encode()).hexdigest()[:16]


class Index:
    """The packed index of one lake version (numpy arrays, memory-mapped). Made by :func:`load_index`."""

    def __init__(self, folder: Path, meta: dict):
        self.folder = folder
        self.meta = meta
        self.videos: list[dict] = meta["videos"]
        self.model: str | None = meta.get("model")
        self.n = int(meta["n_windows"])
        a = {p.stem: np.load(p, mmap_mode="r", allow_pickle=False) for p in folder.glob("*.npy")}
        self.a = a
        self.vid, self.widx = a["vid"], a["widx"]
        self.wstart, self.wend = a["wstart"], a["wend"]
        self.prev = a["prev"]
        self.vec = a["vec"]
        self.labels: list[str] = meta["concept_labels"]

    # -- lexical ---------------------------------------------------------------------------------
    def _postings(self, field: str, term: str):
        vocab = self.a[f"{field}_vocab"]
        if not len(vocab):
            return None
        i = int(np.searchsorted(vocab, term))
        if i >= len(vocab) or vocab[i] != term:
            return None
        ptr = self.a[f"{field}_ptr"]
        return self.a[f"{field}_doc"][ptr[i]:ptr[i + 1]], self.a[f"{field}_w"][ptr[i]:ptr[i + 1]], float(self.a[f"{field}_idf"][i])

    def bm25(self, field: str, terms: Sequence[str]) -> tuple[np.ndarray, dict[str, float]]:
        """BM25 score of every window for ``terms`` (the weights were computed when the cache was built)."""
        out = np.zeros(self.n, dtype=np.float32)
        found = {}
        for t in terms:
            p = self._postings(field, t)
            if p is None:
                continue
            docs, w, idf = p
            out[docs] += w
            found[t] = idf
        return out, found

    # -- concepts --------------------------------------------------------------------------------
    def resolve_concepts(self, query: str) -> dict[int, str]:
        """Concept ids the query names (longest alias match first) -> the query words that named them."""
        keys = self.a["alias_key"]

        def lookup(candidate: str):
            i = int(np.searchsorted(keys, candidate)) if len(keys) else 0
            return int(self.a["alias_concept"][i]) if i < len(keys) and keys[i] == candidate else None

        return resolve_query_concepts(query, lookup, lambda form: self._joined.get(form))

    @cached_property
    def _joined(self) -> dict[str, int]:
        """Joined form -> concept id, made by the first query that needs it (~0.35 s for 20k aliases on 2
        cores) and kept beside the cache's arrays (``joined.json``) for the next processes."""
        memo = self.folder / "joined.json"
        try:
            return json.loads(memo.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        joined = joined_index(zip((str(k) for k in self.a["alias_key"]), (int(c) for c in self.a["alias_concept"])))
        _write_atomic(memo, json.dumps(joined))
        return joined

    def concept_scores(self, concepts: dict, k1: float = 1.2) -> tuple[np.ndarray, dict]:
        """Per window: idf x concept salience x (BM25's saturation of the mentions + KeyBERT score) of each
        concept the query named (:func:`concept_tf`), counting only the windows that say it under ANOTHER
        name than the query's words (those are the lexical signal's): "ViT" credits the windows that say
        "VAT" on the scale BM25 credits the windows that say "ViT" (:func:`rank` normalises the two signals
        together). Also ``{concept: (docs, first segments, alias ids)}`` for the results."""
        out = np.zeros(self.n, dtype=np.float32)
        detail = {}
        a = self.a
        for c, said in concepts.items():
            ids = [int(x) for x in a["ca_alias"][a["ca_ptr"][c]:a["ca_ptr"][c + 1]]
                   if not says_query_words(str(a["alias_key"][x]), said)]
            if not ids:
                continue
            docs = self._alias_postings("al_doc", ids)
            if not len(docs):
                continue
            m, sal, seg = (self._alias_postings(f, ids) for f in ("al_m", "al_sal", "al_seg"))
            uniq, inv = np.unique(docs, return_inverse=True)
            m_sum = np.bincount(inv, weights=m, minlength=len(uniq))
            sal_max = np.zeros(len(uniq), np.float32)
            np.maximum.at(sal_max, inv, sal)
            seg_min = np.full(len(uniq), np.iinfo(np.int32).max, np.int64)
            np.minimum.at(seg_min, inv, seg)
            w = float(a["con_idf"][c]) * float(a["con_sal"][c]) * (concept_tf(m_sum, k1) + sal_max)
            out[uniq] += w.astype(np.float32)
            detail[c] = (uniq, seg_min, ids)
        return out, detail

    def _alias_postings(self, field: str, ids) -> np.ndarray:
        """One column of the alias postings (``al_doc``, ``al_m``, ``al_sal``, ``al_seg``) for the aliases
        ``ids``, concatenated in their order (empty for no alias)."""
        a = self.a
        parts = [a[field][a["al_ptr"][i]:a["al_ptr"][i + 1]] for i in ids]
        return np.concatenate(parts) if parts else np.zeros(0, a[field].dtype)

    def video_prior(self, concepts: dict) -> np.ndarray:
        """Per window: the sum, over the concepts the query named, of its video's share of all the concept's
        mentions (under any alias, the query's own words included). Constant inside a video."""
        a = self.a
        vid = np.asarray(self.vid)
        prior = np.zeros(self.n, dtype=np.float64)
        for c in concepts:
            ids = a["ca_alias"][a["ca_ptr"][c]:a["ca_ptr"][c + 1]]
            docs, m = self._alias_postings("al_doc", ids), self._alias_postings("al_m", ids).astype(np.float64)
            if not len(docs) or m.sum() <= 0:
                continue
            per_video = np.bincount(vid[docs], weights=m, minlength=len(self.videos))
            prior += (per_video / per_video.sum())[vid]
        return prior

    def concept_segments(self, detail: dict, doc: int) -> list[tuple[int, int, float]]:
        """(concept id, segment index within the window, idf) of the matched concepts spoken in window ``doc``."""
        out = []
        for c, (docs, segs, _) in detail.items():
            j = int(np.searchsorted(docs, doc))
            if j < len(docs) and docs[j] == doc:
                out.append((int(c), int(segs[j]), float(self.a["con_idf"][c])))
        return out

    def concept_words(self, detail: dict, concept_ids: Sequence[int]) -> set[str]:
        """Words of the other names these concepts were found under (what the speech has: "vat" for ViT)."""
        keys = [str(self.a["alias_key"][i]) for c in concept_ids if c in detail for i in detail[c][2]]
        return {w for k in keys for w in k.split() if len(w) > 2 and w not in STOP_WORDS}

    # -- documents -------------------------------------------------------------------------------
    def text(self, doc: int) -> str:
        o = self.a["doc_ptr"]
        return bytes(self.a["doc_blob"][o[doc]:o[doc + 1]]).decode("utf-8")

    def segments(self, doc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.a["seg_ptr"]
        return (self.a["seg_start"][p[doc]:p[doc + 1]], self.a["seg_end"][p[doc]:p[doc + 1]],
                self.a["seg_off"][p[doc]:p[doc + 1]])


def load_index(conf: Config, settings: SearchSettings | None = None) -> Index:
    """The packed index of the lake as it is now: memory-mapped from ``<lake>/_search_cache/<key>`` when
    the index tables have not changed since it was packed, else packed first (about a second per 5,000
    windows). Raises :class:`UserError` when the lake has no search index yet."""
    s = settings or SearchSettings.from_conf(conf)
    root = lake_root(conf)
    if is_remote(root):
        raise UserError(f"search reads local lakes; for {root} use search_spark() (transcript_lake.search)")
    missing = [t for t in ("search_windows", "search_terms") if _table_version(conf, t) is None]
    if missing:
        raise UserError(f"no search index in {root} (missing {', '.join(missing)}): "
                        "run the pipeline first (transcript-lake run, or run --only search)")
    key, versions = _cache_key(conf, s)
    folder = cache_root(conf) / key
    if not (folder / "meta.json").is_file():
        _pack(conf, s, folder, versions)
    return _open(folder)


@lru_cache(maxsize=4)
def _open(folder: Path) -> Index:
    return Index(folder, json.loads((folder / "meta.json").read_text(encoding="utf-8")))


def connect_tables(conf: Config, tables: Sequence[str] = CACHE_TABLES):
    """An in-memory DuckDB connection with ``transcripts.<table>`` for the ``tables`` that exist (no views:
    only what the search engine reads, so a view of another version of the schema cannot break it)."""
    import duckdb

    from . import DATABASE
    from .sql import delta_extension_path

    con = duckdb.connect()
    try:
        con.load_extension(str(delta_extension_path()))
    except duckdb.Error as exc:
        raise UserError(f"DuckDB {duckdb.__version__} cannot load the delta extension: {str(exc).splitlines()[0]}") from exc
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}")
    for name in tables:
        d = local_table_dir(conf, name)
        if d is not None and (d / "_delta_log").is_dir():
            literal = str(d).replace("'", "''")
            con.execute(f"CREATE VIEW {DATABASE}.{name} AS SELECT * FROM delta_scan('{literal}')")
    return con


def _columns(con, table: str) -> set[str]:
    from . import DATABASE

    try:
        return {r[0] for r in con.execute(f"DESCRIBE {DATABASE}.{table}").fetchall()}
    except Exception:
        return set()


def _pack(conf: Config, s: SearchSettings, folder: Path, versions: dict) -> None:
    """Build the cache folder from the Delta tables (DuckDB), atomically (temporary folder + rename)."""
    t0 = time.perf_counter()
    con = connect_tables(conf)
    arrays, meta = pack_arrays(con, conf, s)
    meta["versions"] = versions
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".tmp-{folder.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        tmp.mkdir()
    except OSError as exc:
        raise UserError(f"cannot write the search cache under {parent}: {exc}") from exc
    try:
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        try:
            os.rename(tmp, folder)
        except OSError:  # another process packed the same version meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in parent.iterdir():  # older versions of this lake's cache (and dead temporaries)
        if old.is_dir() and old.name != folder.name and \
                (not old.name.startswith(".tmp-") or time.time() - old.stat().st_mtime > 3600):
            shutil.rmtree(old, ignore_errors=True)
    log.info("[search] packed the index (%d windows) in %.1f s -> %s", meta["n_windows"], time.perf_counter() - t0, folder)


def _postings_arrays(prefix: str, doc: np.ndarray, term: np.ndarray, weight: np.ndarray, idf_of: dict | None = None,
                     extra: dict | None = None) -> dict:
    """CSC-like postings sorted by term then doc: ``<prefix>_vocab`` (sorted), ``_ptr``, ``_doc``, ``_w``."""
    order = np.lexsort((doc, term))
    term, doc, weight = term[order], doc[order], weight[order]
    vocab, start = np.unique(term, return_index=True)
    ptr = np.append(start, len(term)).astype(np.int64)
    out = {f"{prefix}_vocab": vocab, f"{prefix}_ptr": ptr, f"{prefix}_doc": doc.astype(np.int32),
           f"{prefix}_w": weight.astype(np.float32)}
    for name, values in (extra or {}).items():
        out[f"{prefix}_{name}"] = values[order]
    return out


def concept_tf(mentions, k1: float):
    """BM25's term-frequency saturation ``m (k1 + 1) / (m + k1)`` of a window's mentions of a concept (no
    length normalisation: a concept is one name, whatever the window's length), so that a window saying
    a concept under another name scores like a window saying the query's word (same idf scale).

    >>> concept_tf(np.array([1.0, 2.0, 10.0]), 1.2).round(3).tolist()
    [1.0, 1.375, 1.964]
    """
    return mentions * (k1 + 1) / (mentions + k1)


def bm25_weights(tf: np.ndarray, dl: np.ndarray, df: np.ndarray, n_docs: int, avgdl: float, k1: float, b: float):
    """Per-posting BM25 weights (Lucene's idf ``ln(1 + (N - df + 0.5) / (df + 0.5))``) and the idf.

    >>> w, idf = bm25_weights(np.array([1.0]), np.array([10.0]), np.array([1]), 10, 10.0, 1.2, 0.75)
    >>> round(float(w[0]), 4), round(float(idf[0]), 4)
    (1.9924, 1.9924)
    """
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    norm = k1 * (1 - b + b * dl / max(avgdl, 1e-9))
    return idf * tf * (k1 + 1) / (tf + norm), idf


def pack_arrays(con, conf: Config, s: SearchSettings) -> tuple[dict, dict]:
    """The cache's arrays and metadata, read from the lake's tables through a DuckDB connection."""
    from . import DATABASE as db

    wins = con.execute(f"SELECT video_id, window_idx, start_s, end_s, seg_starts, seg_ends, seg_offsets, text, n_terms "
                       f"FROM {db}.search_windows ORDER BY video_id, window_idx").to_arrow_table()
    vids = con.execute(f"SELECT video_id, title, channel, url, upload_rank FROM {db}.videos").fetchall()
    n = wins.num_rows
    video_ids = wins.column("video_id").to_pylist()
    known = {v[0]: v for v in vids}
    order_v = sorted(set(video_ids))
    vcode = {v: i for i, v in enumerate(order_v)}
    videos = [{"video_id": v, "title": known.get(v, (v, None))[1], "channel": known.get(v, (v, None, None))[2],
               "url": known.get(v, (v, None, None, None))[3], "upload_rank": known.get(v, (v, None, None, None, None))[4]}
              for v in order_v]
    vid = np.array([vcode[v] for v in video_ids], dtype=np.int32)
    widx = np.asarray(wins.column("window_idx").to_numpy(), dtype=np.int32)
    row_of = {(v, int(w)): i for i, (v, w) in enumerate(zip(video_ids, widx))}
    prev = np.full(n, -1, dtype=np.int32)
    if n > 1:
        same = vid[1:] == vid[:-1]
        prev[1:][same] = np.arange(n - 1, dtype=np.int32)[same]
    arrays: dict[str, np.ndarray] = {
        "vid": vid, "widx": widx, "prev": prev,
        "wstart": np.asarray(wins.column("start_s").to_numpy(), dtype=np.float64),
        "wend": np.asarray(wins.column("end_s").to_numpy(), dtype=np.float64),
    }
    # texts and segments, flat
    texts = [t.encode("utf-8") for t in wins.column("text").to_pylist()]
    arrays["doc_ptr"] = np.concatenate([[0], np.cumsum([len(t) for t in texts])]).astype(np.int64)
    arrays["doc_blob"] = np.frombuffer(b"".join(texts), dtype=np.uint8) if texts else np.zeros(0, np.uint8)
    starts, ends, offs = (wins.column(c).to_pylist() for c in ("seg_starts", "seg_ends", "seg_offsets"))
    arrays["seg_ptr"] = np.concatenate([[0], np.cumsum([len(x) for x in starts])]).astype(np.int64)
    arrays["seg_start"] = np.asarray([x for xs in starts for x in xs], dtype=np.float64)
    arrays["seg_end"] = np.asarray([x for xs in ends for x in xs], dtype=np.float64)
    arrays["seg_off"] = np.asarray([x for xs in offs for x in xs], dtype=np.int32)

    # dense vectors of the lake's encoding (or the one model the lake has)
    model = _vectors_key(conf)
    models = [r[0] for r in con.execute(f"SELECT DISTINCT model FROM {db}.window_embeddings").fetchall()] \
        if _table_version(conf, "window_embeddings") is not None else []
    if model not in models and len(models) == 1:
        log.warning("[search] window_embeddings hold model %s, not the configured %s: using them", models[0], model)
        model = models[0]
    dim = 0
    vec = np.zeros((n, 0), dtype=np.float32)
    if model in models:
        emb = con.execute(f"SELECT video_id, window_idx, vector FROM {db}.window_embeddings WHERE model = ?", [model]).to_arrow_table()
        if emb.num_rows:
            flat = emb.column("vector").combine_chunks()
            dim = len(flat[0].values)
            values = np.asarray(flat.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, dim)
            vec = np.zeros((n, dim), dtype=np.float32)
            for (v, w), row in zip(zip(emb.column("video_id").to_pylist(), emb.column("window_idx").to_pylist()), values):
                i = row_of.get((v, int(w)))
                if i is not None:
                    vec[i] = row
    arrays["vec"] = vec

    # lexical postings with BM25 weights (per field: text, chapter)
    dl = np.asarray(wins.column("n_terms").to_numpy(), dtype=np.float64)
    terms = con.execute(f"SELECT video_id, window_idx, field, term, tf FROM {db}.search_terms").to_arrow_table()
    t_vid = terms.column("video_id").to_pylist()
    t_w = terms.column("window_idx").to_pylist()
    t_doc = np.array([row_of.get((v, int(w)), -1) for v, w in zip(t_vid, t_w)], dtype=np.int64)
    t_field = np.asarray(terms.column("field").to_pylist(), dtype=object)
    t_term = np.asarray(terms.column("term").to_pylist(), dtype=object)
    t_tf = np.asarray(terms.column("tf").to_numpy(), dtype=np.float64)
    for fld in ("text", "chapter"):
        m = (t_field == fld) & (t_doc >= 0)
        doc, term, tf = t_doc[m], t_term[m].astype(str), t_tf[m]
        if fld == "chapter":  # a chapter title is short: its length is the number of its terms
            lens = np.bincount(doc, weights=tf, minlength=n) if len(doc) else np.zeros(n)
            fdl, has = lens, lens > 0
        else:
            fdl, has = dl, np.ones(n, dtype=bool)
        uniq, inv = np.unique(term, return_inverse=True) if len(term) else (np.array([], dtype=str), np.zeros(0, np.int64))
        df = np.bincount(inv, minlength=len(uniq)) if len(term) else np.zeros(0)
        n_docs = int(has.sum()) or 1
        avgdl = float(fdl[has].mean()) if has.any() else 1.0
        w, idf_t = bm25_weights(tf, fdl[doc] if len(doc) else np.zeros(0), df[inv] if len(term) else np.zeros(0),
                                n_docs, avgdl, s.k1, s.b)
        arrays.update(_postings_arrays(fld, doc, term, w))
        arrays[f"{fld}_idf"] = (np.log1p((n_docs - df + 0.5) / (df + 0.5)) if len(uniq) else np.zeros(0)).astype(np.float32)

    # concepts: every spoken key -> the canonical concepts of the key and of its word n-grams
    cols = _columns(con, "concepts")
    # concept salience (issue 16) where the lake has it: incidental phrases and recording artefacts weigh less
    sal = "coalesce(c.salience, 1.0)" if "salience" in cols else "1.0"
    aliases = con.execute(f"SELECT a.alias, a.concept, c.label, c.n_mentions, {sal} FROM {db}.concept_aliases a "
                          f"JOIN {db}.concepts c ON c.concept = a.concept").fetchall() \
        if _table_version(conf, "concept_aliases") is not None and _table_version(conf, "concepts") is not None else []
    canon = sorted({r[1] for r in aliases})
    cid = {c: i for i, c in enumerate(canon)}
    label = {r[1]: r[2] for r in aliases}
    csal = np.ones(len(canon), dtype=np.float32)
    for r in aliases:
        csal[cid[r[1]]] = float(r[4])
    alias_to: dict[str, tuple[int, int]] = {alias: (cid[c], nm or 0) for alias, c, _, nm, _ in aliases if alias}
    akeys = sorted(alias_to)
    aid = {k: i for i, k in enumerate(akeys)}
    rows = con.execute(f"SELECT video_id, window_idx, concept, mentions, first_seg_idx, salience FROM {db}.search_concepts").fetchall() \
        if _table_version(conf, "search_concepts") is not None else []
    seg_from = {(v, w): sf for v, w, sf in con.execute(f"SELECT video_id, window_idx, seg_from FROM {db}.search_windows").fetchall()}
    per: dict[tuple[int, int], list] = {}  # (alias id, doc) -> [mentions, salience, first segment within window]
    sub_cache: dict[str, set[int]] = {}
    for v, w, key, mentions, first_seg, sal in rows:
        doc = row_of.get((v, int(w)))
        if doc is None:
            continue
        if key not in sub_cache:  # the key itself and each of its word n-grams that is an alias
            ws = key.split()
            sub_cache[key] = {aid[g] for n_ in range(len(ws), 0, -1) for s_ in range(len(ws) - n_ + 1)
                              if (g := " ".join(ws[s_:s_ + n_])) in aid}
        local_seg = int(first_seg) - int(seg_from[(v, int(w))])
        for a in sub_cache[key]:
            cur = per.get((a, doc))
            if cur is None:
                per[(a, doc)] = [int(mentions), float(sal), local_seg]
            else:
                cur[0] += int(mentions)
                cur[1] = max(cur[1], float(sal))
                cur[2] = min(cur[2], local_seg)
    alias_concept = np.array([alias_to[k][0] for k in akeys], dtype=np.int32)
    if per:
        keys = np.array(list(per.keys()), dtype=np.int64)
        vals = np.array(list(per.values()), dtype=np.float64)
        a_ids, a_docs = keys[:, 0], keys[:, 1]
        order = np.lexsort((a_docs, a_ids))
        a_ids, a_docs, vals = a_ids[order], a_docs[order], vals[order]
        arrays["al_ptr"] = np.concatenate([[0], np.cumsum(np.bincount(a_ids, minlength=len(akeys)))]).astype(np.int64)
        arrays["al_doc"] = a_docs.astype(np.int32)
        arrays["al_m"], arrays["al_sal"], arrays["al_seg"] = (vals[:, 0].astype(np.float32), vals[:, 1].astype(np.float32),
                                                              vals[:, 2].astype(np.int32))
        pairs = np.unique(alias_concept[a_ids].astype(np.int64) * max(n, 1) + a_docs)  # (concept, doc) credited
        df_c = np.bincount(pairs // max(n, 1), minlength=len(canon))
    else:
        arrays["al_ptr"] = np.zeros(len(akeys) + 1, dtype=np.int64)
        arrays["al_doc"], arrays["al_seg"] = np.zeros(0, np.int32), np.zeros(0, np.int32)
        arrays["al_m"], arrays["al_sal"] = np.zeros(0, np.float32), np.zeros(0, np.float32)
        df_c = np.zeros(len(canon), dtype=np.int64)
    arrays["con_idf"] = np.log(max(n, 1) / np.maximum(df_c, 1)).astype(np.float32)
    arrays["con_df"] = df_c.astype(np.int64)
    arrays["con_sal"] = csal
    by_concept = np.argsort(alias_concept, kind="stable")
    arrays["ca_ptr"] = np.concatenate([[0], np.cumsum(np.bincount(alias_concept, minlength=len(canon)))]).astype(np.int64)
    arrays["ca_alias"] = by_concept.astype(np.int32)
    arrays["alias_key"] = np.array(akeys, dtype=str) if akeys else np.zeros(0, dtype="<U1")
    arrays["alias_concept"] = alias_concept
    meta = {"n_windows": n, "videos": videos, "model": model if dim else None, "dim": dim,
            "concept_labels": [label[c] for c in canon], "concepts": canon}
    return arrays, meta


# --------------------------------------------------------------------------------------------------
# Query embedding: the same weights as the stored vectors

def _lake_encoding(conf: Config):
    """The Encoding that made the lake's vectors (``transcripts.encodings``, read JVM-free), or None for a
    lake without a record (built before encodings were recorded: torch fp32). On a local lake it is
    remembered in the query cache by the table's last commit (reading the table needs pyarrow.dataset and
    pandas, ~0.6 s of a ~1 s query process)."""
    from .embedding import recorded_encoding

    def read():
        recorded = recorded_encoding(conf)
        return recorded[0] if recorded else None

    version = None if is_remote(lake_root(conf)) else _table_version(conf, "encodings")
    if version is None:
        return read()
    commit = local_table_dir(conf, "encodings") / "_delta_log" / f"{version:020d}.json"
    try:  # the commit's size and time too: a lake rebuilt in the same place starts again at version 0
        st = commit.stat()
    except OSError:
        return read()
    stamp = hashlib.sha256(f"{version}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    memo = cache_root(conf) / f"lake-encoding-{stamp}.json"
    for old in memo.parent.glob("lake-encoding-*.json"):  # earlier commits of the table
        if old != memo:
            old.unlink(missing_ok=True)
    return _remembered(memo, read)


def _remembered(memo: Path | None, make):
    """``make()`` (an Encoding or None), kept as JSON in the cache file ``memo`` and read from it next time
    (written atomically; a damaged file is made again)."""
    from .nlp.encoders import Encoding

    if memo is not None and memo.is_file():
        try:
            text = memo.read_text(encoding="utf-8")
            return None if text == "null" else Encoding.from_json(text)
        except Exception:
            pass
    value = make()
    if memo is not None:
        _write_atomic(memo, "null" if value is None else value.to_json())
    return value


def _write_atomic(path: Path, text: str) -> None:
    """Write a cache file so that a reader sees all of it or none (best effort: a cache)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def _vectors_key(conf: Config) -> str:
    """The ``model`` value of the lake's window vectors: its encoding's key (older lakes: the model name)."""
    recorded = _lake_encoding(conf)
    return recorded.key if recorded is not None else str(conf.get("nlp.embedding_model"))


def _model_stamp(model: str) -> str:
    """Sizes and mtimes of the model's files: a cheap stand-in for hashing ~90 MB of weights per query."""
    from .nlp.encoders import resolve_model_dir

    root = resolve_model_dir(model)
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    text = json.dumps([[str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns] for p in files])
    return hashlib.sha256(f"{root}|{text}".encode()).hexdigest()[:16]


def _fp32_encoding(model: str, backend: str, memo_dir: Path | None):
    """``make_encoding(model, backend, "fp32")``, remembered in ``memo_dir`` by the model files' stamp
    (the content hash of the weights is computed once per install, not once per query)."""
    from .nlp import encoders

    memo = None if memo_dir is None else \
        memo_dir / f"encoding-{hashlib.sha256(f'{model}|{backend}|{_model_stamp(model)}'.encode()).hexdigest()[:16]}.json"
    return _remembered(memo, lambda: encoders.make_encoding(model, backend, "fp32"))


@lru_cache(maxsize=4)
def _query_encoder(model: str, backend: str, threads: int, recorded_json: str | None, memo_dir: str | None = None):
    """An encoder whose vectors match the lake's: its recorded encoding when that is an exported one
    (OpenVINO / ONNX, int8 included); for torch fp32/bf16 vectors the OpenVINO fp32 export of the same
    weights (cosine >= 0.9999 to torch fp32, no torch import), else torch itself."""
    from .nlp import encoders

    recorded = encoders.Encoding.from_json(recorded_json) if recorded_json else None
    if backend == "auto":
        if recorded is not None and recorded.backend != "torch":
            return encoders.load_encoder(recorded, "cpu", threads, model=model, compiled_cache=True)
        backend = "openvino" if encoders.supported("openvino", "fp32", "cpu")[0] else "torch"
    enc = _fp32_encoding(model, backend, Path(memo_dir) if memo_dir else None)
    return encoders.load_encoder(enc, "cpu", threads, model=model, compiled_cache=True)


def embed_query(conf: Config, text: str, settings: SearchSettings | None = None) -> np.ndarray:
    """The query's L2-normalised vector (float32, 1-D) from the lake's model."""
    s = settings or SearchSettings.from_conf(conf)
    return np.asarray(query_encoder(conf, s).encode([text], batch_size=1)[0], dtype=np.float32)


def query_encoder(conf: Config, settings: SearchSettings | None = None):
    """The encoder :func:`embed_query` uses (``encode(texts, batch_size)``), loaded once per process."""
    s = settings or SearchSettings.from_conf(conf)
    recorded = _lake_encoding(conf)
    memo = None if is_remote(lake_root(conf)) else str(cache_root(conf))
    return _query_encoder(str(conf.get("nlp.embedding_model")), s.query_backend, s.threads,
                          recorded.to_json() if recorded is not None else None, memo)


# --------------------------------------------------------------------------------------------------
# Ranking (shared by the DuckDB/numpy engine and, through the same formulas, by search_spark)

def zscore(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std over every window; zeros when the signal is flat (did not match anything)."""
    x = np.asarray(x, dtype=np.float64)
    sd = float(x.std())
    if not np.isfinite(sd) or sd <= 1e-12:
        return np.zeros_like(x)
    return (x - float(x.mean())) / sd


def fuse_signals(raw: dict, s: "SearchSettings") -> np.ndarray:
    """The weighted sum of the z-normalised signals (``search.weights``). ``lexical`` and ``concept`` are
    one scale (a window saying the query's concept under another name, "VAT" for ViT, is scored like BM25
    scores the word: :func:`concept_tf`), so they share one normalisation, that of their sum. Alone, the
    concept signal is non-zero in a handful of windows and its z-score there (~sqrt(windows / matches),
    ~40 in a 5,000-window corpus) outweighed every other signal: a passing "Detre" in another video
    ranked above the DETR videos' own explanation.

    >>> from dataclasses import replace
    >>> defaults = SearchSettings.from_conf(Config({}, "local", Path(".")))
    >>> s = replace(defaults, weights={"lexical": 1.0, "dense": 0.0, "concept": 1.0, "chapter": 0.0})
    >>> raw = {"lexical": np.array([2.0, 0, 0, 0]), "concept": np.array([0, 2.0, 0, 0]),
    ...        "dense": np.zeros(4), "chapter": np.zeros(4)}
    >>> fuse_signals(raw, s).round(2).tolist()   # the other name scores like the word itself
    [1.0, 1.0, -1.0, -1.0]
    """
    fused = np.zeros(len(raw["lexical"]), dtype=np.float64)
    for sig in ("dense", "chapter"):
        if s.weight(sig):
            fused += s.weight(sig) * zscore(raw[sig])
    lexical, concept = (np.asarray(raw[k], np.float64) for k in ("lexical", "concept"))
    words = s.weight("lexical") * lexical + s.weight("concept") * concept
    sd = float((lexical + concept).std())
    if np.isfinite(sd) and sd > 1e-12:
        fused += (words - float(words.mean())) / sd
    return fused


@dataclass
class Ranking:
    score: np.ndarray                   # fused score per window (context included)
    fused: np.ndarray                   # the weighted sum of the window's own signals
    eligible: np.ndarray                # every window when the query matched anything, else none
    raw: dict                           # signal -> raw per-window score
    terms: dict                         # lexical term -> idf (found in the index)
    concepts: dict                      # concept id -> query words that named it
    chapter_terms: dict
    concept_detail: dict = field(default_factory=dict)   # concept id -> (docs, first segments, alias ids)


def rank(index: Index, query: str, s: SearchSettings, qvec: np.ndarray | None) -> Ranking:
    """Every window's fused score for ``query`` (see the module docstring)."""
    terms = query_terms(query)
    raw = {}
    raw["lexical"], found = index.bm25("text", terms) if s.weight("lexical") else (np.zeros(index.n, np.float32), {})
    concepts = index.resolve_concepts(query) if s.weight("concept") else {}
    raw["concept"], concept_detail = index.concept_scores(concepts, s.k1)
    raw["chapter"], chap = index.bm25("chapter", terms) if s.weight("chapter") else (np.zeros(index.n, np.float32), {})
    if qvec is not None and index.vec.shape[1] == len(qvec) and s.weight("dense"):
        raw["dense"] = np.asarray(index.vec @ qvec, dtype=np.float32)
    else:
        raw["dense"] = np.zeros(index.n, np.float32)
    fused = fuse_signals(raw, s)
    own = (raw["lexical"] > 0) | (raw["concept"] > 0) | (raw["chapter"] > 0) | (raw["dense"] >= s.min_dense)
    prev = np.asarray(index.prev)
    has_prev = prev >= 0
    score = fused.copy()
    if s.context:
        score[has_prev] += s.context * fused[prev[has_prev]]
    if s.video_prior and concepts:
        # the videos that talk about the query's concepts (their share of its mentions): the same for every
        # window of a video, so it ranks videos and never reorders the windows inside one
        score += s.video_prior * zscore(index.video_prior(concepts))
    # A query that matches nothing anywhere (no word, no concept, no window at min_dense) has no answer;
    # otherwise every window is ranked (inside one video the best window may be a weak one).
    # Only stop words / question wrappers: nothing to look for, whatever the embedding of "the of and" is near.
    eligible = np.full(index.n, bool(own.any()) and bool(terms or concepts))
    return Ranking(score, fused, eligible, raw, found, concepts, chap, concept_detail)


@dataclass
class Candidate:
    """What a result is built from, whichever engine ranked the window."""

    video: dict                      # video_id, title, channel, url
    window_idx: int
    window_start_s: float
    window_end_s: float
    text: str
    seg_starts: Sequence[float]
    seg_ends: Sequence[float]
    seg_offsets: Sequence[int]
    raw: dict                        # signal -> the window's raw value
    score: float
    context: bool                    # the previous window matched (lexical / concept) and added to the score
    concept_segs: list               # (segment index within the window, weight) of the matched concepts' first mentions
    concept_words: set
    concept_labels: list


def _segment_choice(c: Candidate, terms: dict) -> tuple[int, list[set]]:
    """The segment (index within the window) where the query is spoken, and each segment's matched stems."""
    k = len(c.seg_starts)
    bounds = [int(o) for o in c.seg_offsets] + [len(c.text)]
    matched, score = [], np.zeros(k)
    for i in range(k):
        stems = set(analyze(c.text[bounds[i]:bounds[i + 1]])) & set(terms)
        matched.append(stems)
        score[i] = sum(terms[t] for t in stems)
    for seg, w in c.concept_segs:
        if 0 <= seg < k:
            score[seg] += w
    if not score.any():
        return 0, matched
    smooth = score + 0.5 * np.append(score[1:], 0.0)  # the segment where the matches begin
    return int(np.argmax(smooth)), matched


def _mark(text: str, stems: set[str], concept_words: set[str]) -> str:
    if not stems and not concept_words:
        return text
    out, last = [], 0
    for m in _WORD.finditer(text):
        w = m.group(0).lower()
        if (w not in STOP_WORDS and _stemmer().stemWord(w) in stems) or w in concept_words:
            out.append(text[last:m.start()] + "**" + m.group(0) + "**")
            last = m.end()
    out.append(text[last:])
    return "".join(out)


def build_result(conf: Config, c: Candidate, rank_no: int, s: SearchSettings, terms: dict) -> SearchResult:
    """A :class:`SearchResult` for a ranked window: its best segment, snippet, link and matched signals."""
    best, matched = _segment_choice(c, terms)
    bounds = [int(o) for o in c.seg_offsets] + [len(c.text)]
    n = len(c.seg_starts)
    lo, hi = max(0, best - 1), min(n, best + 2)
    stems = set().union(*matched[lo:hi]) if matched else set()
    snippet = _mark(c.text[bounds[lo]:bounds[hi]].strip() if n else c.text, stems, c.concept_words)
    if len(snippet) > 300:
        snippet = snippet[:299].rsplit(" ", 1)[0] + " …"
    signals = [sig for sig, hit in (("lexical", c.raw["lexical"] > 0), ("dense", c.raw["dense"] >= s.min_dense),
                                    ("concept", c.raw["concept"] > 0), ("chapter", c.raw["chapter"] > 0)) if hit]
    if c.context:
        signals.append("context")  # the previous window (often the announcement) matched too
    start = float(c.seg_starts[best]) if n else c.window_start_s
    end = float(c.seg_ends[best]) if n else c.window_end_s
    v = c.video
    return SearchResult(
        rank=rank_no, video_id=v["video_id"], title=v["title"], channel=v["channel"], start_s=start, end_s=end,
        window_start_s=c.window_start_s, window_end_s=c.window_end_s, score=round(float(c.score), 4),
        url=moment_url(conf, v["video_id"], v["url"], start), snippet=snippet, signals=signals,
        matched_terms=sorted(set().union(*matched)) if matched else [], concepts=c.concept_labels,
        window_idx=c.window_idx)


def _candidate(index: Index, r: Ranking, doc: int, s: SearchSettings) -> Candidate:
    found = index.concept_segments(r.concept_detail, doc) if r.raw["concept"][doc] > 0 else []
    concept_ids = [c for c, _, _ in found]
    starts, ends, offs = index.segments(doc)
    p = int(index.prev[doc])
    return Candidate(
        video=index.videos[int(index.vid[doc])], window_idx=int(index.widx[doc]),
        window_start_s=float(index.wstart[doc]), window_end_s=float(index.wend[doc]), text=index.text(doc),
        seg_starts=starts, seg_ends=ends, seg_offsets=offs,
        raw={sig: float(r.raw[sig][doc]) for sig in SIGNALS}, score=float(r.score[doc]),
        context=bool(s.context and p >= 0 and r.fused[p] > 0 and (r.raw["lexical"][p] > 0 or r.raw["concept"][p] > 0)),
        concept_segs=[(seg, idf) for _, seg, idf in found], concept_words=index.concept_words(r.concept_detail, concept_ids),
        concept_labels=[index.labels[c] for c in concept_ids])


def _filter_mask(index: Index, video: str | None, channel: str | None) -> np.ndarray | None:
    if not video and not channel:
        return None
    keep = np.ones(len(index.videos), dtype=bool)
    if video:
        ids = [v["video_id"] for v in index.videos]
        if video not in ids:
            raise UserError(f"no video {video!r} in the search index (SELECT video_id, title FROM transcripts.videos)")
        keep &= np.array([i == video for i in ids])
    if channel:
        names = sorted({v["channel"] for v in index.videos if v["channel"]})
        want = channel.strip().lower()
        match = np.array([(v["channel"] or "").lower() == want for v in index.videos])
        if not match.any():
            raise UserError(f"no channel {channel!r} in the search index (channels: {', '.join(names[:10])})")
        keep &= match
    return keep[np.asarray(index.vid)]


def fold_adjacent(ranked: Sequence[tuple], radius: int, top: int) -> list[int]:
    """Positions in ``ranked`` (``(video, window_idx)`` pairs, best first) of the results to show: a
    window within ``radius`` windows of a better-ranked result of the same video is the same passage
    (windows overlap in what they discuss, and the context signal lifts a match's neighbours), so it is
    folded into that result instead of taking one of the ``top`` places. ``radius`` 0 keeps every window.

    >>> fold_adjacent([("a", 4), ("a", 5), ("b", 5), ("a", 3), ("a", 7)], 1, 3)
    [0, 2, 4]
    """
    kept: list[int] = []
    folded: set = set()  # (video, window_idx) next to a shown result
    for i, (video, widx) in enumerate(ranked):
        if len(kept) == top:
            break
        if (video, int(widx)) in folded:
            continue
        kept.append(i)
        folded.update((video, int(widx) + d) for d in range(-radius, radius + 1))
    return kept


def fold_candidates(top: int, radius: int) -> int:
    """How many best-ranked windows :func:`fold_adjacent` needs to still show ``top`` results: each shown
    result folds at most ``2 radius`` windows, so ``top (2 radius + 1)`` always leave ``top``.

    >>> fold_candidates(10, 1)
    30
    """
    return top * (2 * radius + 1)


def search(conf: Config, query: str, video: str | None = None, channel: str | None = None, top: int = 10) -> list[SearchResult]:
    """The ``top`` moments for ``query`` across the lake (or inside one ``video`` / ``channel``).

    Bad input (empty or 10,000-character queries, punctuation only, an unknown video or channel) raises
    :class:`~transcript_lake.errors.UserError` with one clear line; a query that matches nothing (only
    stop words, a script the corpus does not contain) returns ``[]``.

    >>> search(conf, "rotary positional embeddings", top=3)[0].signals     # doctest: +SKIP
    ['lexical', 'dense', 'concept']
    """
    s = SearchSettings.from_conf(conf)
    text = check_query(query, s)
    if not isinstance(top, int) or top < 1 or top > 1000:
        raise UserError(f"--top must be between 1 and 1000 (got {top!r})")
    index = load_index(conf, s)
    return search_index(conf, index, text, video, channel, top, s)


def search_index(conf: Config, index: Index, text: str, video: str | None, channel: str | None, top: int,
                 s: SearchSettings, qvec: np.ndarray | None = None) -> list[SearchResult]:
    """:func:`search` on an already loaded :class:`Index` (benchmarks reuse one index for many queries)."""
    mask = _filter_mask(index, video, channel)
    if not query_terms(text) and not (s.weight("concept") and index.resolve_concepts(text)):
        return []  # only stop words / question wrappers: nothing to look for (and no model to load)
    if qvec is None and s.weight("dense") and index.vec.shape[1]:
        try:
            qvec = embed_query(conf, text, s)
        except UserError as exc:
            log.warning("[search] no query embedding (%s): ranking without the dense signal", exc)
    r = rank(index, text, s, qvec)
    cand = r.eligible if mask is None else (r.eligible & mask)
    docs = np.flatnonzero(cand)
    if not len(docs):
        return []
    k = min(fold_candidates(top, s.fold_adjacent), len(docs))
    scores = r.score[docs]
    pick = docs[np.argpartition(-scores, k - 1)[:k]] if k < len(docs) else docs
    pick = sorted(pick, key=lambda d: (-r.score[d], int(index.vid[d]), int(index.widx[d])))
    pick = [pick[i] for i in fold_adjacent([(int(index.vid[d]), int(index.widx[d])) for d in pick], s.fold_adjacent, top)]
    return [build_result(conf, _candidate(index, r, int(d), s), i, s, r.terms) for i, d in enumerate(pick, start=1)]


# --------------------------------------------------------------------------------------------------
# The same ranking in Spark: big or remote lakes, notebooks

def _ngram_expr(column: str, max_words: int = 8):
    """Spark SQL: every word n-gram of ``column`` (a space-separated key), as an array of strings."""
    from pyspark.sql import functions as F

    return F.expr(f"""filter(flatten(transform(sequence(1, least(size(split({column}, ' ')), {max_words})), n ->
        transform(sequence(0, size(split({column}, ' ')) - n), s -> array_join(slice(split({column}, ' '), s + 1, n), ' ')))),
        g -> g <> '')""")


def _spark_model(spark, conf: Config) -> str | None:
    from .tables import read_table

    model = _vectors_key(conf)
    models = [r[0] for r in read_table(spark, conf, "window_embeddings").select("model").distinct().collect()]
    if model not in models and len(models) == 1:
        return models[0]
    return model if model in models else None


def rank_windows_spark(spark: "SparkSession", conf: Config, query: str, qvec: np.ndarray | None = None,
                       settings: SearchSettings | None = None) -> tuple["DataFrame", dict]:
    """Every window's score for ``query`` as a Spark DataFrame, with the formulas of :func:`rank`
    (BM25 from ``search_terms``, cosine with ``window_embeddings``, concepts through ``concept_aliases``,
    z-normalised over the corpus (lexical and concept together, :func:`fuse_signals`), weighted, plus
    ``search.context`` x the previous window's score and ``search.video_prior`` x the z-normalised share
    of the query's concepts said in the window's video).

    Returns ``(frame, info)``: frame columns ``video_id, window_idx, lexical, dense, concept, chapter,
    video_prior, fused, prev_fused, prev_matched, score``; info = ``{"terms": {term: idf}, "concepts": {concept: words},
    "matched": bool}``. Example (a notebook on a big lake)::

        frame, info = rank_windows_spark(spark, conf, "kv cache")
        frame.orderBy(F.desc("score")).show(10)
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from .tables import read_table

    s = settings or SearchSettings.from_conf(conf)
    text = check_query(query, s)
    terms = query_terms(text)
    keys = ["video_id", "window_idx"]
    wins = read_table(spark, conf, "search_windows").select(*keys, "n_terms")
    stats = wins.agg(F.count("*").alias("n"), F.avg("n_terms").alias("avgdl")).first()
    n_docs, avgdl = int(stats["n"]), float(stats["avgdl"] or 1.0)
    postings = read_table(spark, conf, "search_terms")

    def bm25(field: str, weight: float, name: str):
        if not weight or not terms:
            return None, {}
        rows = postings.filter((F.col("field") == field) & F.col("term").isin(terms))
        if field == "chapter":  # the chapter title's length and the windows that have one
            lens = postings.filter(F.col("field") == field).groupBy(*keys).agg(F.sum("tf").cast("double").alias("dl"))
            st = lens.agg(F.count("*").alias("n"), F.avg("dl").alias("avg")).first()
            n_f, avg_f = int(st["n"]) or 1, float(st["avg"] or 1.0)
            rows = rows.join(lens, keys)
        else:
            n_f, avg_f = n_docs or 1, avgdl
            rows = rows.join(wins.withColumn("dl", F.col("n_terms").cast("double")), keys)
        df = rows.groupBy("term").agg(F.count("*").alias("df"))
        idf = F.log1p((F.lit(float(n_f)) - F.col("df") + 0.5) / (F.col("df") + 0.5))
        tf = F.col("tf").cast("double")
        w = idf * tf * (s.k1 + 1) / (tf + s.k1 * (1 - s.b + s.b * F.col("dl") / F.lit(max(avg_f, 1e-9))))
        scored = rows.join(df, "term").withColumn("w", w).withColumn("idf", idf)
        found = {r["term"]: float(r["idf"]) for r in scored.select("term", "idf").distinct().collect()}
        return scored.groupBy(*keys).agg(F.sum("w").alias(name)), found

    lexical, found = bm25("text", s.weight("lexical"), "lexical")
    chapter, chap = bm25("chapter", s.weight("chapter"), "chapter")

    # concepts: the query's n-grams looked up in concept_aliases, then every spoken key (or word n-gram
    # of a key) that is an alias of a found concept
    concepts_found: dict = {}
    concept_idf: dict = {}
    concept = grams = prior = None
    if s.weight("concept"):
        aliases = read_table(spark, conf, "concept_aliases")
        # the aliases the query's n-grams name as written, or by their joined form (spaces removed; the
        # plural and British spellings squash() also irons out are matched on the driver)
        forms = joined_candidates(text)
        rows = aliases.filter(F.col("alias").isin(concept_candidates(text))
                              | F.regexp_replace("alias", " ", "").isin([*forms, *(f + "s" for f in forms)])) \
            .select("alias", "concept").collect()
        hits = {r["alias"]: r["concept"] for r in rows}
        concepts_found = resolve_query_concepts(text, hits.get, joined_index((r["alias"], r["concept"]) for r in rows).get)
        if concepts_found:
            cols = read_table(spark, conf, "concepts").columns
            sal = F.coalesce(F.col("salience"), F.lit(1.0)) if "salience" in cols else F.lit(1.0)
            csal = read_table(spark, conf, "concepts").select(F.col("concept").alias("canon"), sal.alias("csal"))
            # every alias of the found concepts; the windows saying one that contains the query's own words
            # count for the idf only (they are the lexical signal's), the others are the expansion
            names = aliases.filter(F.col("concept").isin(list(concepts_found))).select("alias", "concept").collect()
            amap = spark.createDataFrame(
                [(r["alias"], r["concept"], not says_query_words(r["alias"], concepts_found[r["concept"]])) for r in names],
                "gram string, canon string, kept boolean")
            sc = read_table(spark, conf, "search_concepts")
            grams = (sc.withColumn("gram", F.explode(_ngram_expr("concept"))).join(F.broadcast(amap), "gram")
                     .select(*keys, "concept", "gram", "canon", "kept", "mentions", "salience", "first_seg_idx").distinct()
                     .cache())
            dfc = grams.select(*keys, "canon").distinct().groupBy("canon").agg(F.count("*").alias("dfc"))
            concept_idf = {r["canon"]: math.log(max(n_docs, 1) / r["dfc"]) for r in dfc.collect()}
            credited = (grams.filter("kept").groupBy(*keys, "canon")
                        .agg(F.sum("mentions").alias("m"), F.max("salience").alias("sal"),
                             F.min("first_seg_idx").alias("first_seg")))
            weighted = (credited.join(dfc, "canon").join(csal, "canon", "left")
                        .withColumn("idf_c", F.log(F.lit(float(max(n_docs, 1))) / F.col("dfc")))
                        .withColumn("w", F.col("idf_c") * F.coalesce("csal", F.lit(1.0))
                                    * (concept_tf(F.col("m").cast("double"), s.k1) + F.col("sal"))))
            concept = weighted.groupBy(*keys).agg(F.sum("w").alias("concept"))
            if s.video_prior:  # each video's share of every found concept's mentions (any alias), summed
                per_video = grams.groupBy("video_id", "canon").agg(F.sum("mentions").alias("m"))
                prior = (per_video.join(per_video.groupBy("canon").agg(F.sum("m").alias("total")), "canon")
                         .groupBy("video_id").agg(F.sum(F.col("m") / F.col("total")).alias("video_prior")))

    dense = None
    if qvec is not None and s.weight("dense"):
        model = _spark_model(spark, conf)
        if model is not None:
            q = F.array(*[F.lit(float(x)) for x in np.asarray(qvec, dtype=np.float64)])
            dot = F.aggregate(F.zip_with("vector", q, lambda a, b: a.cast("double") * b), F.lit(0.0), lambda acc, x: acc + x)
            dense = (read_table(spark, conf, "window_embeddings").filter(F.col("model") == model)
                     .select(*keys, dot.alias("dense")))

    frame = wins.select(*keys)
    for name, part in (("lexical", lexical), ("dense", dense), ("concept", concept), ("chapter", chapter)):
        frame = frame.join(part, keys, "left") if part is not None else frame.withColumn(name, F.lit(0.0))
        frame = frame.withColumn(name, F.coalesce(F.col(name).cast("double"), F.lit(0.0)))
    frame = (frame.join(prior, "video_id", "left") if prior is not None else frame.withColumn("video_prior", F.lit(None)))
    frame = frame.withColumn("video_prior", F.coalesce(F.col("video_prior").cast("double"), F.lit(0.0))).cache()
    # lexical and concept are normalised together, as in fuse_signals
    words = F.lit(s.weight("lexical")) * F.col("lexical") + F.lit(s.weight("concept")) * F.col("concept")
    aggs = [F.avg("video_prior").alias("video_prior_mean"), F.stddev_pop("video_prior").alias("video_prior_sd"),
            F.avg(words).alias("words_mean"), F.stddev_pop(F.col("lexical") + F.col("concept")).alias("words_sd")]
    for sig in ("dense", "chapter"):
        aggs += [F.avg(sig).alias(f"{sig}_mean"), F.stddev_pop(sig).alias(f"{sig}_sd")]
    aggs.append(F.max(((F.col("lexical") > 0) | (F.col("concept") > 0) | (F.col("chapter") > 0)
                       | (F.col("dense") >= s.min_dense)).cast("int")).alias("matched"))
    st = frame.agg(*aggs).first()   # materialises the cached frame
    if grams is not None:
        grams.unpersist()
    fused = F.lit(0.0)
    for sig in ("dense", "chapter"):
        w, sd = s.weight(sig), st[f"{sig}_sd"]
        if w and sd is not None and sd > 1e-12:
            fused = fused + F.lit(w) * (F.col(sig) - F.lit(float(st[f"{sig}_mean"]))) / F.lit(float(sd))
    if st["words_sd"] is not None and st["words_sd"] > 1e-12:
        fused = fused + (words - F.lit(float(st["words_mean"]))) / F.lit(float(st["words_sd"]))
    order = Window.partitionBy("video_id").orderBy("window_idx")
    prev_matched = (F.lag("lexical").over(order) > 0) | (F.lag("concept").over(order) > 0)
    frame = (frame.withColumn("fused", fused)
             .withColumn("prev_fused", F.lag("fused").over(order))
             .withColumn("prev_matched", F.coalesce(prev_matched, F.lit(False)))
             .withColumn("score", F.col("fused") + F.lit(float(s.context)) * F.coalesce("prev_fused", F.lit(0.0))))
    sd = st["video_prior_sd"]
    if s.video_prior and concepts_found and sd is not None and sd > 1e-12:
        frame = frame.withColumn("score", F.col("score") + F.lit(float(s.video_prior))
                                 * (F.col("video_prior") - F.lit(float(st["video_prior_mean"]))) / F.lit(float(sd)))
    return frame, {"terms": found, "chapter_terms": chap, "concepts": concepts_found,
                   "concept_idf": concept_idf, "matched": bool(st["matched"])}


def search_spark(spark: "SparkSession", conf: Config, query: str, video: str | None = None, channel: str | None = None,
                 top: int = 10) -> list[SearchResult]:
    """:func:`search` computed by Spark (same ranking, same results), for lakes on object storage or too
    big for one machine's memory; the query is embedded on the driver.

    >>> hits = search_spark(spark, conf, "rotary positional embeddings", top=5)   # doctest: +SKIP
    >>> spark.createDataFrame([h.to_dict() for h in hits]).show()                  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    from .tables import read_table

    s = SearchSettings.from_conf(conf)
    text = check_query(query, s)
    if not isinstance(top, int) or top < 1 or top > 1000:
        raise UserError(f"--top must be between 1 and 1000 (got {top!r})")
    qvec = None
    if s.weight("dense"):
        try:
            qvec = embed_query(conf, text, s)
        except UserError as exc:
            log.warning("[search] no query embedding (%s): ranking without the dense signal", exc)
    frame, info = rank_windows_spark(spark, conf, text, qvec, s)
    videos = read_table(spark, conf, "videos").select("video_id", "title", "channel", "url")
    if video:
        if not videos.filter(F.col("video_id") == video).limit(1).count():
            raise UserError(f"no video {video!r} in the lake (SELECT video_id, title FROM transcripts.videos)")
        frame = frame.filter(F.col("video_id") == video)
    if channel:
        wanted = videos.filter(F.lower("channel") == channel.strip().lower()).select("video_id")
        if not wanted.limit(1).count():
            names = sorted(r[0] for r in videos.select("channel").distinct().collect() if r[0])
            raise UserError(f"no channel {channel!r} in the lake (channels: {', '.join(names[:10])})")
        frame = frame.join(wanted, "video_id")
    if not info["matched"] or not (query_terms(text) or info["concepts"]):
        frame.unpersist()
        return []
    ranked = frame.orderBy(F.desc("score"), "video_id", "window_idx").limit(fold_candidates(top, s.fold_adjacent)).collect()
    top_rows = [ranked[i] for i in fold_adjacent([(r["video_id"], r["window_idx"]) for r in ranked], s.fold_adjacent, top)]
    if not top_rows:
        frame.unpersist()
        return []
    keys = [(r["video_id"], r["window_idx"]) for r in top_rows]
    from .sqltext import sql_string

    cond = " OR ".join(f"(video_id = {sql_string(v)} AND window_idx = {int(w)})" for v, w in keys)
    docs = {(r["video_id"], r["window_idx"]): r for r in read_table(spark, conf, "search_windows").filter(cond).collect()}
    vids = {r["video_id"]: r.asDict() for r in videos.filter(F.col("video_id").isin(list({v for v, _ in keys}))).collect()}
    concept_segs: dict = {}
    concept_words: dict = {}
    labels: dict = {}
    if info["concepts"]:
        aliases = read_table(spark, conf, "concept_aliases").filter(F.col("concept").isin(list(info["concepts"])))
        amap = {r["alias"]: r["concept"] for r in aliases.select("alias", "concept").collect()
                if not says_query_words(r["alias"], info["concepts"][r["concept"]])}
        for a, c in amap.items():
            concept_words.setdefault(c, set()).update(w for w in a.split() if len(w) > 2 and w not in STOP_WORDS)
        labels = {r["concept"]: r["label"] for r in read_table(spark, conf, "concepts")
                  .filter(F.col("concept").isin(list(info["concepts"]))).select("concept", "label").collect()}
        sc = read_table(spark, conf, "search_concepts").filter(cond).collect()
        for r in sc:
            ws = r["concept"].split()
            grams = {" ".join(ws[a:a + n]) for n in range(1, min(len(ws), 8) + 1) for a in range(len(ws) - n + 1)}
            for c in {amap[g] for g in grams if g in amap}:
                k = (r["video_id"], r["window_idx"], c)
                seg = int(r["first_seg_idx"])
                concept_segs[k] = min(concept_segs.get(k, seg), seg)
    results = []
    for i, row in enumerate(top_rows, start=1):
        d = docs[(row["video_id"], row["window_idx"])]
        found_here = [c for c in info["concepts"] if (row["video_id"], row["window_idx"], c) in concept_segs] \
            if row["concept"] > 0 else []
        segs = [(concept_segs[(row["video_id"], row["window_idx"], c)] - int(d["seg_from"]),
                 info["concept_idf"].get(c, 0.0)) for c in found_here]
        cand = Candidate(
            video={"video_id": row["video_id"], **{k: vids.get(row["video_id"], {}).get(k) for k in ("title", "channel", "url")}},
            window_idx=int(row["window_idx"]), window_start_s=float(d["start_s"]), window_end_s=float(d["end_s"]),
            text=d["text"], seg_starts=d["seg_starts"], seg_ends=d["seg_ends"], seg_offsets=d["seg_offsets"],
            raw={sig: float(row[sig]) for sig in SIGNALS}, score=float(row["score"]),
            context=bool(s.context and row["prev_fused"] is not None and row["prev_fused"] > 0 and row["prev_matched"]),
            concept_segs=segs, concept_words=set().union(*(concept_words.get(c, set()) for c in found_here)),
            concept_labels=[labels.get(c, c) for c in found_here])
        results.append(build_result(conf, cand, i, s, info["terms"]))
    frame.unpersist()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m transcript_lake.search "QUERY" [--video ID] [--channel C] [--top K] [--format F] [--lake DIR]``:
    what ``transcript-lake search`` runs (for benchmarks and checkouts without the CLI entry)."""
    import argparse
    import sys

    from .config import load_config

    p = argparse.ArgumentParser(prog="python -m transcript_lake.search", description="search the lake for a moment")
    p.add_argument("query")
    p.add_argument("--video")
    p.add_argument("--channel")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--env", default=os.environ.get("TRANSCRIPT_LAKE_ENV", "local"))
    p.add_argument("--lake")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    try:
        overrides = list(args.set) + ([f"lake.root={Path(args.lake).expanduser().resolve()}"] if args.lake else [])
        conf = load_config(args.env, overrides)
        print(format_results(search(conf, args.query, args.video, args.channel, args.top), args.format))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
