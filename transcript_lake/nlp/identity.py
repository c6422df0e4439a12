"""Concept identity: which concept keys name the same thing, by which rule, with what evidence.

A concept key is the normalised form of a mention (:func:`~transcript_lake.nlp.concepts.concept_key`).
Several keys often name one thing; this module decides which, from four kinds of evidence:

- **variant** (:func:`joined_form`): the same letters up to spaces, hyphens, case and a plural ``s``:
  ``soft max`` / ``softmax``, ``pin sage`` / ``pinsage``, ``monte carlo`` / ``montecarlo``. Guarded
  against short forms and ordinary English word pairs (:func:`variant_blocked`).
- **definition**: an acronym defined in written text, Schwartz & Hearst style
  (:func:`~transcript_lake.nlp.vocabulary.acronym_definitions`): ``Vision Transformer (ViT)``.
- **initials** (:func:`initials`): a spoken acronym whose letters are the initials of a spoken phrase
  (``rl`` / ``reinforcement learning``), accepted only with evidence from the transcripts: both said
  in the same videos and their contexts (the windows they are said in) embedded alike.
- **misheard** (:func:`misheard_score`): a spoken key that never occurs in written text, is rare in
  general language (``wordfreq``) and sounds (``jellyfish`` metaphone) and is spelled (``rapidfuzz``)
  like a written name of the same video, channel or corpus: ``polygamma`` -> ``paligemma``.
- plus the embedding rules of the concepts stage (``generic_head``, ``embedding``) and the user's
  glossary (:func:`load_glossary`), which may force merges and forbid them.

:func:`resolve` merges keys over these edges (strongest rule first) with union-find, refusing any merge
that would put a never-merge pair (:func:`never_merge`, the glossary) into one concept. Every function
is pure Python over small metadata (keys, counts, written names), so the stage can run it on the driver.

Example::

    >>> joined_form("pin sage") == joined_form("pinsage"), joined_form("graph neural networks")
    (True, 'graphneuralnetwork')
    >>> initials("reinforcement learning"), never_merge("gpt 2", "gpt 3"), never_merge("alphago", "alphago zero")
    ('rl', True, False)
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# Rules, strongest first: an alias keeps the strongest rule that joined it.
RULES = ("glossary", "definition", "variant", "initials", "misheard", "generic_head", "embedding")
RULE_RANK = {r: i for i, r in enumerate(RULES)}
# Rules whose evidence is a similarity, not an identity of letters: they may not grow a concept by
# chaining (each joins a key to a concept's canonical key only, like the original greedy pass).
WEAK_RULES = {"generic_head", "embedding"}


# ---------------------------------------------------------------------------------------------- forms

# Spelling variants the joined form irons out: British / American spelling, and spaCy's occasional
# lemma "datum" for "data" (it depends on the sentence: "data parallelism" / "datum parallelism").
_SPELLING = [(re.compile(r"(?<=[a-z]{3})our(?=(s|al|hood|ed|ing|ite|ites)?$)"), "or"),  # behaviour(al), neighbour(hood)
             (re.compile(r"(?<=[a-z]{2})is(?=ation|ed$|ing$|er$)"), "iz"),  # normalisation, tokenised
             (re.compile(r"(?<=[a-z]{2}e)ll(?=ing$|ed$|er$)"), "l"),        # modelling, labelled
             (re.compile(r"^datum$"), "data")]


def spelling_form(word: str) -> str:
    """A word with British spellings made American (``behaviour`` -> ``behavior``, ``normalisation``
    -> ``normalization``, ``modelling`` -> ``modeling``) and ``datum`` read as ``data``."""
    for pattern, repl in _SPELLING:
        word = pattern.sub(repl, word)
    return word


def squash(key: str) -> str:
    """Joined form of a key: words in their American spelling (:func:`spelling_form`), spaces removed,
    then a plural ``s`` dropped when more than five letters remain (so ``lens`` never becomes ``len``,
    and ``lp ips`` / ``lpips`` agree).

    >>> squash("graph neural networks"), squash("lp ips") == squash("lpips"), squash("lens"), squash("class")
    ('graphneuralnetwork', True, 'lens', 'class')
    >>> squash("behaviour cloning") == squash("behavior cloning"), squash("datum parallelism")
    (True, 'dataparallelism')
    """
    joined = "".join(spelling_form(w) for w in key.split())
    if len(joined) > 5 and joined.endswith("s") and not joined.endswith("ss"):
        return joined[:-1]
    return joined


joined_form = squash


def joined_index(pairs) -> dict:
    """``{joined form: concept}`` over ``(alias, concept)`` pairs, for the joined forms that belong to one
    concept only: how a name typed with other spacing, hyphens or a plural ("Conv Next", "pali-gemma",
    "convnexts") finds its concept when it is no alias itself. Ambiguous forms are left out.

    >>> joined_index([("convnext", "convnext"), ("conv net", "convnet"), ("convnets", "convnet"), ("a b", "x"), ("ab", "y")])
    {'convnext': 'convnext', 'convnet': 'convnet'}
    """
    owners: dict[str, set] = {}
    for alias, concept in pairs:
        if alias:
            owners.setdefault(squash(alias), set()).add(concept)
    return {form: next(iter(c)) for form, c in owners.items() if len(c) == 1}


def numbers(key: str) -> tuple[str, ...]:
    """The numbers in a key, in order: GPT-2 and GPT-3 differ here (``('2',)`` vs ``('3',)``)."""
    return tuple(re.findall(r"\d+", key))


def initials(key: str) -> str:
    """First letters of the words of a key (``latent diffusion model`` -> ``ldm``)."""
    return "".join(w[0] for w in key.split() if w)


@lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    """General-language frequency of ``word`` on the Zipf scale (``wordfreq``: 0 unknown, 3 = once per
    million words, 6 = "the"). The data ships in the wordfreq wheel: no download."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


@lru_cache(maxsize=200_000)
def sound(text: str) -> str:
    """Phonetic code (metaphone) of a key's joined form: ``paligemma`` PLJM, ``polygamma`` PLKM."""
    import jellyfish

    return jellyfish.metaphone(text.replace(" ", "")) if text else ""


def ratio(a: str, b: str) -> float:
    """Spelling similarity in [0, 1] (rapidfuzz normalised Indel similarity)."""
    from rapidfuzz import fuzz

    return fuzz.ratio(a, b) / 100.0


# --------------------------------------------------------------------------------------------- guards

def never_merge(a: str, b: str) -> bool:
    """Pairs no rule except the user's glossary may merge: keys whose numbers differ (GPT-2 / GPT-3,
    AlphaFold 1 / AlphaFold 2, ``tensor programs 5`` / ``tensor programs``)."""
    return numbers(a) != numbers(b)


def refines(a: str, b: str) -> bool:
    """One key is the other plus words (``alphago`` / ``alphago zero``, ``encoder`` / ``text encoder``):
    a narrower thing, not another name of the same thing."""
    wa, wb = set(a.split()), set(b.split())
    return wa != wb and (wa < wb or wb < wa)


def opposite_stems(a: str, b: str, min_prefix: int = 3) -> bool:
    """The words that differ do not share a beginning: ``encoder`` / ``decoder``, ``input`` /
    ``output``, ``generator`` / ``discriminator``, ``vae`` / ``gan``. Morphological variants share
    their stem (``relation`` / ``relationship``, ``checkpoint`` / ``checkpointing``, ``older`` / ``old``).

    >>> opposite_stems("text encoder", "text decoder"), opposite_stems("spatial relation", "spatial relationship")
    (True, False)
    """
    wa, wb = a.split(), b.split()
    da = [w for w in wa if w not in wb]
    db = [w for w in wb if w not in wa]
    if not da or not db:
        return False
    if len(da) != len(db):
        return True
    for x, y in zip(sorted(da), sorted(db)):
        n = min(min_prefix, len(x), len(y))
        if x[:n] != y[:n]:
            return True
    return False


def variant_blocked(a: str, b: str, min_chars: int, common_zipf: float) -> str | None:
    """Why two keys with the same joined form must not merge, or None.

    - ``short``: the joined form is shorter than ``min_chars`` (``a i`` / ``ai``): too little to tell;
    - ``ordinary words``: one key is two ordinary English words and the other their ordinary compound
      (``every one`` / ``everyone``, ``in sight`` / ``insight``): English has both, with two meanings.
      Technical compounds (``soft max``, ``pin sage``) have an uncommon part or an uncommon compound.
    """
    j = squash(a)
    if len(j) < min_chars:
        return "short"
    spaced, solid = (a, b) if len(a.split()) > len(b.split()) else (b, a)
    parts = spaced.split()
    if (len(parts) == 2 and len(solid.split()) == 1 and all(zipf(p) >= common_zipf for p in parts)
            and zipf(solid) >= common_zipf):
        return "ordinary words"
    return None


# ------------------------------------------------------------------------------------------ acronyms

def acronym_like(key: str, upper_share: float, min_upper_share: float, max_zipf: float) -> bool:
    """A one-word key that is an acronym: 2-6 letters/digits and either usually spoken-transcribed in
    capitals (``RL``, ``GNN``) or not an ordinary word (``mcts``)."""
    return (" " not in key and 2 <= len(key) <= 6 and key.isalnum() and not key.isdigit()
            and (upper_share >= min_upper_share or zipf(key) < max_zipf))


def expansion_candidates(acronym: str, phrases: dict[str, list[str]]) -> list[str]:
    """Multi-word keys whose initials spell ``acronym`` (``phrases``: initials -> keys)."""
    return [p for p in phrases.get(acronym, []) if 2 <= len(p.split()) <= 6]


# ----------------------------------------------------------------------------------------- mis-hearing

def differing(spoken: str, written: str) -> tuple[str, str]:
    """The parts of two keys that differ, words shared by both removed (``sheaf loplation`` /
    ``sheaf laplacian`` -> ``loplation`` / ``laplacian``); the whole keys when no word is shared."""
    ws, ww = spoken.split(), written.split()
    ds = " ".join(w for w in ws if w not in ww)
    dw = " ".join(w for w in ww if w not in ws)
    if not ds or not dw or len(ds.split()) == len(ws) and len(dw.split()) == len(ww):
        return spoken, written
    return ds, dw


def misheard_score(spoken: str, written: str) -> tuple[float, float, float]:
    """``(score, spelling, sound)`` of a spoken key against a written name, on the parts that differ:
    spelling = Indel similarity of the joined forms, sound = Indel similarity of their metaphone codes,
    score = their mean.

    >>> [round(x, 2) for x in misheard_score("polygamma", "paligemma")]
    [0.71, 0.67, 0.75]
    """
    ds, dw = differing(spoken, written)
    js, jw = ds.replace(" ", ""), dw.replace(" ", "")
    spelling = ratio(js, jw)
    ss, sw = sound(js), sound(jw)
    sounding = ratio(ss, sw) if ss and sw else 0.0
    return (spelling + sounding) / 2, spelling, sounding


def real_word(spoken: str, written: str, nonword_zipf: float) -> bool:
    """Whether the spoken part that differs is an ordinary (if rare) English word, like ``vat``, rather
    than a non-word like ``polygamma``: a real word needs more evidence to be called a mis-hearing."""
    ds, _ = differing(spoken, written)
    return max(zipf(w) for w in ds.split()) >= nonword_zipf


def rare_enough(spoken: str, written: str, max_zipf: float) -> bool:
    """Rare in general language: every word of the differing spoken part below ``max_zipf``
    (``unit`` at 4.9 is too common to be read as U-Net; ``vat`` at 3.5 may be ViT)."""
    ds, _ = differing(spoken, written)
    return all(zipf(w) < max_zipf for w in ds.split())


@lru_cache(maxsize=4)
def _all_names(written_names: frozenset) -> str:
    """Every written name in one string, one per line: ``part in`` it is ``part in`` some name (a key
    part has no newline), one substring search instead of one per name (misheard_ok runs ~80k times)."""
    return "\n".join(sorted(written_names))


def misheard_ok(spoken: str, written: str, score: tuple[float, float, float], s: dict, level: str = "video",
                written_names: frozenset = frozenset()) -> bool:
    """The thresholds and guards of ``concepts.misheard`` (conf/base.yaml):

    - rare in English, the same numbers, not a refinement (``alphago`` / ``alphago zero``), not a
      spelling variant (the variant rule's case);
    - not an affix form: neither differing part contains the other (``rescaling`` / ``scaling``,
      ``qbert`` / ``bert``, ``decoder`` / ``coder``);
    - the spoken part is not itself a written name, nor inside one (``alphazero``, ``resnext`` inside
      ``esresnext``): the authors write it, so it is a name of its own, not a mis-hearing;
    - the same first sound (``linformer`` / ``transformer`` differ there);
    - a short differing part (``vat`` / ``vit``): an identical sound code, (almost) the same length, and
      the name written in the same video;
    - spelling, sound and their mean above the thresholds (a higher mean beyond the video itself).
    """
    total, spelling, sounding = score
    if spoken == written or numbers(spoken) != numbers(written) or refines(spoken, written):
        return False
    if squash(spoken) == squash(written):
        return False
    if not rare_enough(spoken, written, float(s["max_zipf"])):
        return False
    ds, dw = differing(spoken, written)
    js, jw = ds.replace(" ", ""), dw.replace(" ", "")
    if min(len(js), len(jw)) < int(s["min_chars"]):
        return False
    if len(ds.split()) >= 2 and all(zipf(w) >= float(s["nonword_zipf"]) for w in ds.split()):
        return False  # several ordinary words ("neighboring node" / "neighborhood"): a phrase, not a mis-heard name
    # An affix form (rescaling / scaling, qbert / bert; detokenizer / text tokenizer, jaxper / jax api: a
    # word of the name inside the key), except a non-word that is the name with its last letter lost or
    # added, in the name's own video (detre / detr, vqva / vqvae, mushr / mushra).
    truncated = (len(jw) - len(js) in (1, -1) and (jw.startswith(js) or js.startswith(jw)) and level == "video"
                 and not real_word(spoken, written, float(s["nonword_zipf"])))
    affix = (js in jw or jw in js or any(len(w) >= 3 and w in js for w in dw.split())
             or any(len(w) >= 3 and w in jw for w in ds.split()))
    if affix and not truncated:
        return False
    if any(w in written_names for w in ds.split()) or (len(js) >= 5 and js in _all_names(written_names)):
        return False
    ss, sw = sound(js), sound(jw)
    if not ss or not sw or ss[0] != sw[0]:
        return False
    prefix = len(os.path.commonprefix([js, jw]))
    if real_word(spoken, written, float(s["nonword_zipf"])) and prefix >= 4 and prefix >= min(len(js), len(jw)) - 3:
        return False  # a derivation (transcribe / transcription, hyperbola / hyperbolic), not a mis-hearing
    if abs(len(js) - len(jw)) > max(2, int(0.35 * max(len(js), len(jw)))):
        return False
    if len(js) <= int(s["short_chars"]) and (ss != sw or abs(len(jw) - len(js)) > 1 or level != "video"):
        return False
    floor = float(s["min_score"]) if level == "video" else float(s["min_score_far"])
    return spelling >= float(s["min_spelling"]) and sounding >= float(s["min_sound"]) and total >= floor


# ---------------------------------------------------------------------------------------------- glossary

GLOSSARY_KEYS = {"concepts", "never_merge"}
ENTRY_KEYS = {"name", "aliases"}


@dataclass
class Glossary:
    """``conf/glossary.yaml``: canonical names with their known aliases / mis-hearings, and pairs
    that must never be merged. Forms are compared by their normalised text (lower case, punctuation
    as spaces); the vocabulary stage keys them exactly like mentions."""

    concepts: list[tuple[str, list[str]]] = field(default_factory=list)
    never: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.concepts and not self.never


def load_glossary(path: Path | str | None) -> Glossary:
    """Read and validate the glossary; any problem is one :class:`~transcript_lake.errors.ConfigError`
    line (bad YAML, unknown keys, wrong types, an entry contradicting a never-merge pair). A missing
    file or ``null`` path is an empty glossary.

    Format::

        concepts:
          - name: PaliGemma                 # the label the concept gets
            aliases: [polygamma, pali gemma]
        never_merge:
          - [GPT-2, GPT-3]
    """
    import yaml

    from ..errors import ConfigError
    from .concepts import normalise_text

    if not path:
        return Glossary()
    p = Path(path)
    if not p.is_file():
        return Glossary()
    where = f"glossary {p}"
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        return Glossary()
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with keys {sorted(GLOSSARY_KEYS)}")
    unknown = set(data) - GLOSSARY_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} (known: {sorted(GLOSSARY_KEYS)})")
    g = Glossary()
    for i, entry in enumerate(data.get("concepts") or []):
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: concepts[{i}] must be a mapping with `name` and `aliases`")
        bad = set(entry) - ENTRY_KEYS
        if bad:
            raise ConfigError(f"{where}: concepts[{i}]: unknown key(s) {sorted(bad)} (known: {sorted(ENTRY_KEYS)})")
        name = entry.get("name")
        aliases = entry.get("aliases") or []
        if not isinstance(name, str) or not normalise_text(name):
            raise ConfigError(f"{where}: concepts[{i}]: `name` must be a non-empty string")
        if not isinstance(aliases, list) or not all(isinstance(a, str) and normalise_text(a) for a in aliases):
            raise ConfigError(f"{where}: concepts[{i}] ({name}): `aliases` must be a list of non-empty strings")
        g.concepts.append((name, list(aliases)))
    for i, pair in enumerate(data.get("never_merge") or []):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) and normalise_text(x) for x in pair)):
            raise ConfigError(f"{where}: never_merge[{i}] must be a pair of names, e.g. [GPT-2, GPT-3]")
        g.never.append((pair[0], pair[1]))
    group_of: dict[str, str] = {}
    for name, aliases in g.concepts:
        for form in [name, *aliases]:
            n = normalise_text(form)
            if n in group_of and group_of[n] != name:
                raise ConfigError(f"{where}: {form!r} is listed under both {group_of[n]!r} and {name!r}")
            group_of[n] = name
    for a, b in g.never:
        ga, gb = group_of.get(normalise_text(a)), group_of.get(normalise_text(b))
        if normalise_text(a) == normalise_text(b) or (ga is not None and ga == gb):
            raise ConfigError(f"{where}: never_merge [{a}, {b}] contradicts concepts entry {ga or a!r} "
                              "(it names both as one concept)")
    return g


# ---------------------------------------------------------------------------------------------- merging

@dataclass(frozen=True)
class Edge:
    """A candidate merge of key ``a`` into the concept of key ``b`` (``b`` is the better name)."""

    a: str
    b: str
    rule: str
    score: float
    evidence: str
    source: str | None = None  # written source that supports it (title, description, ...)


@dataclass
class Merge:
    concept: str
    rule: str
    score: float | None
    evidence: str
    source: str | None = None


def resolve(keys: list[str], edges: list[Edge], preference: dict[str, tuple], never: set[frozenset]) -> dict[str, Merge]:
    """Union-find over ``edges``, strongest rule first (then highest score).

    ``preference[key]``: sort key, lowest first, of which key names a concept (glossary names, then
    written names, then the most said); ``never``: pairs of keys that must stay apart (the glossary's
    never-merge entries). Two groups are joined only if no never-merge pair (glossary, or
    :func:`never_merge`) would end up inside one concept; weak rules (``generic_head``, ``embedding``)
    only attach a key that is still alone to the canonical key of the other group.

    Returns, for every key in ``keys`` and every key of an edge, its concept and why.
    """
    parent: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    via: dict[str, Merge] = {}

    def find(k: str) -> str:
        root = k
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(k, k) != root:
            parent[k], k = root, parent[k]
        return root

    def ensure(k: str):
        if k not in parent:
            parent[k] = k
            members[k] = [k]

    for k in keys:
        ensure(k)
    for e in edges:
        ensure(e.a)
        ensure(e.b)

    def canonical(root: str) -> str:
        return min(members[root], key=lambda k: preference.get(k, (9, 0, 0, k)))

    def conflict(ra: str, rb: str, glossary: bool) -> bool:
        for x in members[ra]:
            for y in members[rb]:
                if frozenset((x, y)) in never:
                    return True
                if not glossary and never_merge(x, y):
                    return True
        return False

    order = sorted(edges, key=lambda e: (RULE_RANK[e.rule], -e.score, e.a, e.b))
    for e in order:
        ra, rb = find(e.a), find(e.b)
        if ra == rb:
            continue
        if e.rule in WEAK_RULES and (len(members[ra]) > 1 or canonical(rb) != e.b):
            continue
        if len(members[ra]) * len(members[rb]) > 250_000:  # two huge groups: nothing this module would merge
            continue
        if conflict(ra, rb, e.rule == "glossary"):
            continue
        big, small = (ra, rb) if len(members[ra]) >= len(members[rb]) else (rb, ra)
        parent[small] = big
        members[big].extend(members.pop(small))
        via[e.a] = Merge(e.b, e.rule, e.score, e.evidence, e.source)
    out: dict[str, Merge] = {}
    canon_of = {root: canonical(root) for root in members}
    for k in parent:
        c = canon_of[find(k)]
        if k == c:
            out[k] = Merge(k, "self", None, "", None)
        else:
            m = via.get(k)
            if m is None:  # joined as the far end of an edge (the concept moved to a better name)
                m = next((Merge(x.a if x.b == k else x.b, x.rule, x.score, x.evidence, x.source)
                          for x in order if k in (x.a, x.b) and find(x.a) == find(x.b)), Merge(c, "self", None, "", None))
            out[k] = Merge(c, m.rule, m.score, m.evidence, m.source)
    return out


# -------------------------------------------------------------------------------------------- salience

SALIENCE_KINDS = ("name", "term", "phrase", "artefact")


def salience_kind(key: str, written_name: bool, n_mentions: int, n_videos: int, n_keyphrases: int,
                  artefacts: list[re.Pattern], max_term_words: int) -> str:
    """``artefact`` (a recording artefact: editor and debugger keys, matched by ``concepts.salience.
    artefacts``), ``name`` (written as a name in titles, descriptions, chapters, ...), ``term``
    (said in several videos, or picked as a keyphrase, in at most ``max_term_words`` words) or
    ``phrase`` (incidental: said once, or a long noun phrase)."""
    if any(p.search(key) for p in artefacts):
        return "artefact"
    if written_name:
        return "name"
    words = len(key.split())
    if words <= max_term_words and (n_keyphrases > 0 or n_videos >= 2 or n_mentions >= 3):
        return "term"
    return "phrase"


def salience_score(kind: str, n_mentions: int, n_keyphrases: int, weights: dict) -> float:
    """A weight in [0, 1] the views multiply tf-idf by: the kind's weight (``concepts.salience.
    weights``), raised towards 1 by how often KeyBERT picked the concept in the windows it is said in."""
    base = float(weights[kind])
    if kind == "artefact":
        return round(base, 6)
    picked = min(1.0, n_keyphrases / max(1, n_mentions))
    return round(base + (1.0 - base) * 0.5 * picked, 6)


def compile_patterns(patterns: list[str]) -> list[re.Pattern]:
    return [re.compile(p) for p in patterns or []]


def corpus_zipf(count: int, total_words: int) -> float | None:
    """Zipf value of a word said ``count`` times in a corpus of ``total_words`` words."""
    if not count or not total_words:
        return None
    return math.log10(count / total_words * 1e9)


# ------------------------------------------------------------------------------------- edge builders
# Inputs are small pandas frames of metadata (one row per key, per key and video, per written term);
# the concepts stage builds them in Spark and runs these on the driver or in a grouped UDF.

def written_index(vocab) -> dict[str, dict]:
    """key -> {"names": bool, "videos": set, "sources": set, "terms": {term: count}} over the written
    vocabulary (``vocabulary`` rows; definitions count for both their short and long form)."""
    index: dict[str, dict] = {}

    def add(key, term, kind, source, video, count):
        if not key:
            return
        entry = index.setdefault(key, {"names": False, "videos": set(), "sources": set(), "terms": {}})
        entry["names"] |= kind in ("name", "definition", "glossary")
        if video is not None:
            entry["videos"].add(video)
        entry["sources"].add(source)
        entry["terms"][term] = entry["terms"].get(term, 0) + int(count)

    for r in vocab.itertuples(index=False):
        if r.kind == "never_merge":
            continue
        video = r.video_id if isinstance(r.video_id, str) else None
        add(r.key, r.term, r.kind, r.source, video, r.count)
        if r.kind in ("definition", "glossary_alias") and isinstance(r.expansion_key, str):
            add(r.expansion_key, r.expansion, "name", r.source, video, r.count)
    return index


def variant_edges(keys: list[str], s: dict) -> list[Edge]:
    """Keys with one joined form, each to the group's first key (the caller's preference order)."""
    groups: dict[str, list[str]] = {}
    for k in keys:
        groups.setdefault(squash(k), []).append(k)
    out = []
    for j, group in groups.items():
        if len(group) < 2:
            continue
        anchor = group[0]
        for k in group[1:]:
            why = variant_blocked(k, anchor, int(s["min_chars"]), float(s["common_zipf"]))
            if why is None and not never_merge(k, anchor):
                out.append(Edge(k, anchor, "variant", 1.0, f"joined form '{j}' of '{k}' and '{anchor}'"))
    return out


def definition_edges(vocab, upper_share: dict[str, float], s: dict) -> list[Edge]:
    """Written acronym definitions (``kind = 'definition'``) as edges short form -> long form. A short
    form that is also an ordinary word (``ZeRO`` -> ``zero``) merges only if it is usually transcribed
    in capitals, like an acronym (else "zero" the number would join ZeRO)."""
    out, seen = [], set()
    defs = vocab[vocab["kind"] == "definition"]
    for r in defs.sort_values(["key", "expansion_key", "source", "video_id"], na_position="first").itertuples(index=False):
        pair = (r.key, r.expansion_key)
        if pair in seen or not isinstance(r.expansion_key, str) or r.key == r.expansion_key:
            continue
        seen.add(pair)
        if zipf(r.key) >= float(s["acronym_max_zipf"]) and upper_share.get(r.key, 0.0) < float(s["min_upper_share"]):
            continue
        where = f"{r.source} of {r.video_id}" if isinstance(r.video_id, str) else r.source
        out.append(Edge(r.key, r.expansion_key, "definition", 1.0,
                        f"written '{r.expansion} ({r.term})' in {where}", r.source))
    return out


def initials_candidates(spoken: dict[str, dict], universe: list[str], defined: set[str], s: dict) -> list[tuple[str, str]]:
    """(acronym, expansion) pairs to check against the transcripts: spoken acronym-like keys with no
    written definition, and the spoken multi-word keys whose initials spell them (both said at least
    ``min_mentions`` times: a phrase said once is no expansion to look for)."""
    least = int(s.get("min_mentions", 1))
    by_initials: dict[str, list[str]] = {}
    for k in universe:
        if " " in k and k in spoken and spoken[k].get("n", least) >= least:
            by_initials.setdefault(initials(k), []).append(k)
    out = []
    for k, info in spoken.items():
        if k in defined or info.get("n", least) < least or not acronym_like(
                k, info.get("upper_share", 0.0), float(s["min_upper_share"]), float(s["acronym_max_zipf"])):
            continue
        for e in expansion_candidates(k, by_initials):
            out.append((k, e))
    return out


def initials_edges(evidence: dict[tuple[str, str], tuple[int, float]], s: dict) -> list[Edge]:
    """The best-supported expansion of each acronym, when its evidence reaches ``concepts.initials``
    thresholds and no other expansion comes close (an ambiguous acronym stays alone).
    ``evidence[(acronym, expansion)] = (videos where both are said, cosine of their contexts)``."""
    by_acronym: dict[str, list] = {}
    for (a, e), (shared, cos) in evidence.items():
        by_acronym.setdefault(a, []).append((cos, shared, e))
    out = []
    for a, options in by_acronym.items():
        options.sort(reverse=True)
        cos, shared, e = options[0]
        if shared < int(s["min_shared_videos"]) or cos < float(s["min_context_similarity"]):
            continue
        if len(options) > 1 and options[1][0] >= cos - float(s["ambiguity_margin"]) and options[1][1] >= int(s["min_shared_videos"]):
            continue
        out.append(Edge(a, e, "initials", round(cos, 6),
                        f"'{a}' spells the initials of '{e}'; both said in {shared} video(s), contexts cosine {cos:.2f}"))
    return out


def name_table(index: dict[str, dict], video_channel: dict[str, str]):
    """Written names as a frame for mis-hearing lookups: key, joined, sound, videos, channels, glossary."""
    import pandas as pd

    rows = []
    channel_size: dict[str, int] = {}
    for c in video_channel.values():
        channel_size[c] = channel_size.get(c, 0) + 1
    for k, e in index.items():
        if not e["names"]:
            continue
        channels = sorted({video_channel[v] for v in e["videos"] if v in video_channel})
        # Boilerplate: a name in the descriptions of most of a channel's videos ("Discord community",
        # "Patreon") is the channel's signature, not what a video talks about: no mis-hearing target.
        if "glossary" not in e["sources"] and any(
                channel_size[c] >= 5 and sum(video_channel.get(v) == c for v in e["videos"]) > 0.5 * channel_size[c]
                for c in channels):
            continue
        j = k.replace(" ", "")
        rows.append({"key": k, "joined": j, "sound": sound(j), "videos": sorted(e["videos"]), "channels": channels,
                     "glossary": "glossary" in e["sources"]})
    return pd.DataFrame(rows, columns=["key", "joined", "sound", "videos", "channels", "glossary"])


def misheard_candidates(video_id: str, channel: str | None, keys, names, s: dict) -> list[dict]:
    """For one video: each candidate spoken key (``keys``: key, n; never written, rare) against the
    written names of the video, then of its channel, then of the corpus, then of the glossary; the
    first level with a name that passes :func:`misheard_ok` gives the best-scoring name."""
    from rapidfuzz import fuzz, process

    if names is None or len(names) == 0 or len(keys) == 0:
        return []
    levels = [("video", names["videos"].map(lambda vs: video_id in vs)),
              ("channel", names["channels"].map(lambda cs: channel in cs) if channel else None),
              ("corpus", None),
              ("glossary", names["glossary"])]
    joined = names["joined"].tolist()
    written_names = frozenset(joined)
    targets = names["key"].tolist()
    levels = [(level, None if mask is None else [bool(m) for m in mask]) for level, mask in levels]  # lists: indexed ~100k times
    spoken = [k.replace(" ", "") for k in keys["key"]]
    cutoff = 100.0 * float(s["min_spelling"])
    scores = process.cdist(spoken, joined, scorer=fuzz.ratio, score_cutoff=cutoff, workers=1)
    out = []
    for i, (key, n) in enumerate(zip(keys["key"], keys["n"])):
        hits = [j for j in scores[i].nonzero()[0]]
        if not hits:
            continue
        for level, mask in levels:
            options = [j for j in hits if mask is None or mask[j]]
            scored = []
            for j in options:
                target = targets[j]
                sc = misheard_score(key, target)
                if misheard_ok(key, target, sc, s, level, written_names):
                    scored.append((sc[0], target, sc))
            if scored:
                best = max(scored)
                out.append({"key": key, "target": best[1], "video_id": video_id, "level": level, "n": int(n),
                            "score": round(best[0], 6), "spelling": round(best[2][1], 6), "sound": round(best[2][2], 6),
                            "needs_context": real_word(key, best[1], float(s["nonword_zipf"])) or level != "video"})
                break
    return out


def misheard_edges(candidates, spoken_n: dict[str, int], context: dict[tuple[str, str], float], s: dict,
                   capitalised: dict[str, float] | None = None) -> list[Edge]:
    """One decision per spoken key from its per-video candidates: the name its mentions point at most
    (by mentions), if those are at least ``concepts.misheard.min_support`` of the mentions that point at
    any name and ``min_coverage`` of all its mentions (the rest are in videos where no name is close
    enough, e.g. a short key far from where the name is written). A spoken
    key that is a real (rare) word (``vat``) also needs its contexts to look like the name's:
    ``context[(key, name)]`` (cosine of their mean window embeddings, centred on the corpus mean) at least
    ``min_context_similarity``; so does a name written only elsewhere (channel, corpus). Without context
    a real word is accepted only in the name's own video, said at least twice, and only if the
    transcript writes it as a name (``capitalised[key]``, the share of its surfaces starting with a
    capital, at least one half: "Flex" for Flax, not "simpler" or "multinomial")."""
    if candidates is None or len(candidates) == 0:
        return []
    levels = ["video", "channel", "corpus", "glossary"]
    out = []
    for key, g in candidates.groupby("key"):
        votes = g.groupby("target").agg(n=("n", "sum"), score=("score", "max"), videos=("video_id", "nunique"),
                                        real=("needs_context", "max"),
                                        level=("level", lambda x: min(x, key=levels.index)))
        votes = votes.reset_index().sort_values(["n", "score", "target"], ascending=[False, False, True]).set_index("target")
        target, best = votes.index[0], votes.iloc[0]
        support = best["n"] / max(1, votes["n"].sum())               # against competing names
        coverage = best["n"] / max(1, spoken_n.get(key, best["n"]))  # of all its mentions
        if support < float(s["min_support"]) or coverage < float(s["min_coverage"]):
            continue
        cos = context.get((key, target))
        # A name never said right anywhere (ASR always mishears it) needs no context beyond its video.
        # The transcript writes the word as a name ("Flex" for Flax, "Dyno loss" for DINO loss), where the
        # name is written: enough, without context (a name never said right has no context to compare).
        as_name = best["level"] == "video" and (capitalised or {}).get(key, 0.0) >= 0.5 and spoken_n.get(key, 0) >= 2
        if bool(best["real"]) and not as_name and (cos is None or cos < float(s["min_context_similarity"])):
            continue
        row = g[g["target"] == target].sort_values("score", ascending=False).iloc[0]
        ds, dw = differing(key, target)
        out.append(Edge(key, target, "misheard", float(best["score"]),
                        f"'{key}' is never written; '{ds}' (zipf {max(zipf(w) for w in ds.split()):.1f}) sounds like "
                        f"'{dw}' ({sound(ds.replace(' ', ''))}/{sound(dw.replace(' ', ''))}, spelling {row['spelling']:.2f})"
                        f", written in the same {best['level']}; {coverage:.0%} of its mentions in {int(best['videos'])} "
                        f"video(s)" + (f"; contexts cosine {cos:.2f}" if cos is not None else "")))
    return out
