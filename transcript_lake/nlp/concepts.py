"""Concept keys: the normalised form under which mentions of the same idea meet.

``concept_key(span)``: lemmatised (nouns), lower-cased, hyphen/underscore/whitespace variants unified
("VQ-VAE", "vq vae" -> ``vq vae``), determiners / pronouns / stop words / punctuation stripped from
both edges, numbers dropped unless part of a name ("AlphaFold 2" keeps its 2) or a compound modifier
("zero shot classifier", see :func:`spoken_compound`), and spoken-language
filler ("you guys", "this video", "kind of") removed through ``conf/stop_concepts.txt``.

Acronyms are never lemmatised: a lemmatiser reads "MCTS" as the plural of "MCT". Only a lower-case
plural ``s`` after an upper-case letter is dropped ("GNNs" -> ``gnn``, "ViTs" -> ``vit``), see
:func:`acronym_form`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

EDGE_POS = {"DET", "PRON", "PUNCT", "ADP", "CCONJ", "SCONJ", "PART", "SYM", "AUX", "INTJ", "SPACE", "X", "ADV", "VERB"}
NUMERIC_LABELS = {"DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY"}
_NON_WORD = re.compile(r"[^\w+#]+")  # keep c++ / c# ; everything else separates words
_HAS_LETTER = re.compile(r"[^\W\d_]")
# "the VQ-GAN paper" is about VQ-GAN, "GAT implementation" about GAT: these heads add nothing to the
# concept when other words remain (lemmatised forms, so "results" arrives as "result").
GENERIC_TAILS = {"paper", "papers", "video", "videos", "thing", "things", "stuff", "one", "ones", "idea", "ideas",
                 "overview", "walkthrough", "implementation", "implementations", "explanation", "intuition",
                 "impact", "detail", "details", "result", "results", "part", "section", "project", "problem",
                 "comparison", "recap", "summary"}


class StopList(frozenset):
    """Filler keys (``frozenset`` of keys) plus ``edge``: adjectives stripped from a concept's start."""

    edge: frozenset = frozenset()


@lru_cache(maxsize=4)
def load_stop_concepts(path: str) -> StopList:
    """``conf/stop_concepts.txt``: one filler key per line; ``@edge WORD`` lines list edge adjectives."""
    p = Path(path)
    lines = [l.strip().lower() for l in p.read_text(encoding="utf-8").splitlines()] if p.is_file() else []
    lines = [l for l in lines if l and not l.startswith("#")]
    stop = StopList(l for l in lines if not l.startswith("@edge "))
    stop.edge = frozenset(l[len("@edge "):].strip() for l in lines if l.startswith("@edge "))
    return stop


def normalise_text(text: str) -> str:
    """Lower-case; hyphens, underscores, slashes and other punctuation become single spaces."""
    return " ".join(_NON_WORD.sub(" ", text.lower().replace("_", " ")).split())


def acronym_form(text: str) -> str | None:
    """The singular written form of an acronym-like token, or None when ``text`` is not one.

    A token with two or more upper-case letters is written as a name, not a word: it keeps its letters
    (a lemmatiser would turn "MCTS" into "mct" and "LPIPS" into "lpip"); only a plural ``s`` written in
    lower case right after an upper-case letter or a digit is dropped.

    >>> acronym_form("MCTS"), acronym_form("GNNs"), acronym_form("ViTs"), acronym_form("networks")
    ('MCTS', 'GNN', 'ViT', None)
    """
    if sum(c.isupper() for c in text) < 2:
        return None
    if len(text) > 2 and text.endswith("s") and (text[-2].isupper() or text[-2].isdigit()):
        return text[:-1]
    if text[-1].islower() and not text.isupper() and any(c.islower() for c in text[:-1]) and text[0].isupper():
        return None  # ResNets, PaliGemma: a camel-case name; its noun lemma (if any) is right
    return text


def token_form(tok) -> str:
    # Acronyms as written (MCTS stays mcts); nouns by lemma (networks -> network); names as written
    # (Transformers the library stays plural).
    acronym = acronym_form(tok.text)
    if acronym is not None:
        return acronym
    return tok.lemma_ if tok.pos_ == "NOUN" and tok.lemma_ and tok.lemma_ != "-PRON-" else tok.text


def trim_span(span, is_entity: bool):
    """Drop edge tokens that are not part of a concept; numbers only survive inside a name."""
    tokens = list(span)
    # "Google DeepMind's AlphaFold 2": the concept is what is possessed; the owner is its own entity.
    possessive = [i for i, t in enumerate(tokens) if t.tag_ == "POS"]
    if possessive and not is_entity:
        tokens = tokens[possessive[-1] + 1:]
    while tokens and not spoken_compound(tokens) and (tokens[0].pos_ in EDGE_POS or tokens[0].is_stop or _symbol(tokens[0]) or
                                                      (tokens[0].like_num and not is_entity and not _glued_by_hyphen(tokens))):
        tokens.pop(0)
    while tokens and (tokens[-1].pos_ in EDGE_POS or tokens[-1].is_stop or _symbol(tokens[-1]) or
                      (tokens[-1].like_num and not (is_entity or _after_name(tokens)))):
        tokens.pop()
    return tokens


# A chapter-list timestamp ("7:05", "01:19:23"): never part of a term; where one stands, an entry begins.
TIMESTAMP = r"\d{1,2}:\d{2}(?::\d{2})?"
_CLOCK = re.compile(rf"^{TIMESTAMP}$")


def _symbol(token) -> bool:
    """A token without a letter or digit (an emoji bullet "✅", a stray quote) or a timestamp ("01:19:23"
    of a chapter list), whatever its tag: never part of a term."""
    return not any(c.isalnum() for c in token.text) or bool(_CLOCK.match(token.text))


def tidy_label(text: str) -> str:
    """A display form without what the edges of written or spoken text carry: bullets, quotes, dashes,
    a sentence's full stop (``✅ Colab`` -> ``Colab``, ``Image Synthesis"`` -> ``Image Synthesis``,
    ``node V.`` -> ``node V``); ``C++``, ``C#`` and a balanced ``(ViT)`` keep theirs.

    >>> [tidy_label(t) for t in ("✅ Colab", 'Image Synthesis"', "node V.", "-time", "C++", "ResNet (v2)")]
    ['Colab', 'Image Synthesis', 'node V', 'time', 'C++', 'ResNet (v2)']
    """
    t = re.sub(r"[^\w)\]+#]+$", "", re.sub(r"^[^\w(\[]+", "", text.strip()))
    if t.count("(") != t.count(")"):
        t = t.strip("()").strip()
    return t or text.strip()


def _glued_by_hyphen(tokens) -> bool:
    """``zero-shot``, ``3-layer``, ``real-time``: a first token glued to the next word by a hyphen is one
    word with it (a number or an edge adjective there is part of the term)."""
    return len(tokens) >= 3 and tokens[0].whitespace_ == "" and tokens[1].text == "-"


def spoken_compound(tokens) -> bool:
    """``zero shot classifier``, ``three layer network``, ``few shot learning``: a number (or "few")
    before a singular noun that modifies a singular head is a compound modifier, written with a hyphen
    (zero-shot, three-layer) but transcribed without one; it is part of the term like the hyphenated
    form. A count takes a plural ("two layers", "three attention heads", "few training examples")."""
    return (len(tokens) >= 3 and (tokens[0].like_num or tokens[0].lower_ == "few") and tokens[1].tag_ == "NN"
            and all(t.pos_ in ("NOUN", "PROPN") for t in tokens[2:]) and tokens[-1].tag_ in ("NN", "NNP"))


def _after_name(tokens) -> bool:
    """A trailing number right after a proper noun is part of the name: AlphaFold 2, GPT 3."""
    return len(tokens) >= 2 and tokens[-1].like_num and tokens[-2].pos_ == "PROPN" and len(tokens[-1].text) <= 2


def strip_edge_adjectives(tokens, stop: frozenset[str]) -> list:
    """``cool results`` -> ``results``: evaluative adjectives listed as ``@edge`` in the stop list."""
    edge = getattr(stop, "edge", frozenset())
    tokens = list(tokens)
    while (tokens and tokens[0].pos_ == "ADJ" and tokens[0].lower_ in edge and not spoken_compound(tokens)
           and not _glued_by_hyphen(tokens)):  # "real-time" is one word
        tokens.pop(0)
    return tokens


def drop_generic_tail(tokens, stop: frozenset[str]) -> list:
    """``DETR main ideas`` -> ``DETR``: a generic head goes (when other words remain), and so do the
    evaluative adjectives that only qualified it (the stop list's ``@edge`` words: "main", "basic"),
    so the name is left alone. Only those: "MobileNet paper" said as "mobile net paper" keeps its
    ``net`` whatever the tagger calls it."""
    edge = getattr(stop, "edge", frozenset())
    tokens = list(tokens)
    popped = False
    while len(tokens) > 1 and normalise_text(token_form(tokens[-1])) in GENERIC_TAILS:
        tokens.pop()
        popped = True
    while popped and len(tokens) > 1 and tokens[-1].lower_ in edge:
        tokens.pop()
    return tokens


def concept_key(tokens, stop: frozenset[str]) -> str | None:
    tokens = strip_edge_adjectives(tokens, stop)
    # A concept names a thing: at least one noun or name ("streamable" alone is not a concept). The
    # generic head counts ("mobile net paper", tagged ADJ ADJ NOUN, names the thing "mobile net").
    if not any(t.pos_ in ("NOUN", "PROPN") for t in tokens):
        return None
    tokens = drop_generic_tail(tokens, stop)
    key = normalise_text(" ".join(token_form(t) for t in tokens))
    if not key or not _HAS_LETTER.search(key) or len(key) < 2:
        return None
    words = key.split()
    while len(words) > 1 and words[-1] in GENERIC_TAILS:
        words.pop()
    key = " ".join(words)
    if key in stop or all(w in stop or len(w) < 2 for w in words):
        return None
    if len(words) > 6:  # a clause, not a term
        return None
    return key
