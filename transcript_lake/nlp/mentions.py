"""spaCy mentions of one window: entities and noun chunks, each mapped back to its segment.

A window's text is its segments joined by single spaces; ``seg_offsets[k]`` is where segment
``seg_from + k`` starts, so a mention's first character offset gives its segment by bisection.

Terms nested in a longer term are mentions too (``kind = 'nested'``), the nested-term rule of
terminology extraction (C-value): "the stochastic masking loss" also mentions ``masking loss``, "the
PyTorch MNIST dataset" also ``mnist``, so ``concept = 'masking loss'`` finds those moments. A nested
run of two or more words qualifies, a single word only when rare in general English (wordfreq zipf
below ``terms.nested_max_zipf``): "neural network" never mentions ``network``. A hyphen-glued group
("VQ-GAN") is one word, and a name followed only by its version number ("GPT 3") is one name. The
terms stage keeps a nested term only where the video also says it on its own
(``stages.terms.independent_nested``): "Monte Carlo" does not mention ``monte``.
"""

from __future__ import annotations

import bisect
import re
from typing import Sequence

from .concepts import NUMERIC_LABELS, concept_key, normalise_text, strip_edge_adjectives, trim_span


def _extend_name_number(doc, tokens):
    """``AlphaFold`` + ``2`` -> ``AlphaFold 2``: a short number right after a proper noun is the name's."""
    if tokens and tokens[-1].pos_ == "PROPN" and tokens[-1].i + 1 < len(doc):
        nxt = doc[tokens[-1].i + 1]
        if nxt.like_num and len(nxt.text) <= 2 and nxt.text.isdigit():
            return tokens + [nxt]
    return tokens


def _words(tokens) -> list[list]:
    """Tokens grouped into written words: ``VQ``, ``-``, ``GAN`` glued without spaces are one."""
    groups: list[list] = []
    for t in tokens:
        if groups and (groups[-1][-1].whitespace_ == "" and (t.text == "-" or groups[-1][-1].text == "-")):
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def nested_terms(tokens, parent: str, stop: frozenset[str], max_zipf: float) -> list[tuple[list, str]]:
    """``(tokens, key)`` of the terms inside a longer term, in written words (a hyphen group is one):
    every shorter run of two or more words ("stochastic masking loss" -> ``masking loss``), and single
    words rare in English (every part below ``max_zipf``: ``mnist``, ``voxel``; never ``loss``).
    Candidates only: the terms stage keeps those the video also says on their own. Nothing when the
    rest of the term is only numbers (``GPT 3`` is one name)."""
    from .identity import zipf

    words = _words(tokens)
    out, seen = [], {parent}
    for i in range(len(words)):
        for j in range(i + 1, len(words) + 1):
            if j - i == len(words):
                continue
            run = [t for w in words[i:j] for t in w]
            rest = [t for w in words[:i] + words[j:] for t in w]
            if all(t.like_num or t.is_punct for t in rest) or len(trim_span(run, False)) != len(run):
                continue  # a name with its version; or edges a concept would not keep (a sub-run has them)
            key = concept_key(run, stop)
            if key is None or key in seen or len(key.replace(" ", "")) < 3:
                continue
            # rare as written and as its key: "data" (lemma "datum") is an everyday word
            said = normalise_text(" ".join(t.text for t in run)).split()
            if (j - i == 1 or " " not in key) and not all(zipf(p) < max_zipf for p in key.split() + said):
                continue
            seen.add(key)
            out.append((run, key))
    return out


def extract_mentions(doc, seg_from: int, seg_offsets: list[int], stop: frozenset[str],
                     nested_max_zipf: float | None = None) -> list[dict]:
    out = []
    seen_spans = set()
    seen_keys = set()
    candidates = [(ent, "entity", ent.label_) for ent in doc.ents if ent.label_ not in NUMERIC_LABELS]
    candidates += [(chunk, "noun_chunk", None) for chunk in doc.noun_chunks]
    for span, kind, label in candidates:
        tokens = _extend_name_number(doc, strip_edge_adjectives(trim_span(span, kind == "entity"), stop))
        key = concept_key(tokens, stop)
        if key is None:
            continue
        first, last = tokens[0], tokens[-1]
        start_char, end_char = first.idx, last.idx + len(last.text)
        if (start_char, end_char) in seen_spans:  # the same words as an entity and a noun chunk: once
            continue
        seen_spans.add((start_char, end_char))
        found = [(tokens, key, kind, label)]
        if nested_max_zipf:
            found += [(t, k, "nested", None) for t, k in nested_terms(tokens, key, stop, nested_max_zipf)]
        for toks, k_, kind_, label_ in found:
            start_char, end_char = toks[0].idx, toks[-1].idx + len(toks[-1].text)
            if (start_char, k_) in seen_keys:  # "MNIST" as an entity and nested in "the MNIST dataset": once
                continue
            seen_keys.add((start_char, k_))
            surface = doc.text[start_char:end_char]
            k = max(0, bisect.bisect_right(seg_offsets, start_char) - 1)
            out.append({"seg_idx": seg_from + k, "char_start": start_char, "surface": surface, "concept": k_,
                        "phrase": normalise_text(surface), "kind": kind_, "label": label_})
    return out


# Word classes that may follow a name standing alone in a heading: the end of a phrase, not a word the
# name modifies.
_AFTER_A_NAME = frozenset({"PUNCT", "CCONJ", "SCONJ", "ADP", "DET", "PRON", "AUX", "PART", "SPACE"})


def standing_alone(doc, mentions: list[dict]) -> list[dict]:
    """The mentions of a heading (a chapter title) that end where a phrase ends: at the end, before
    punctuation, a conjunction, a preposition... Headings are parsed poorly ("Rejection sampling with
    ResNet" gives ``rejection`` and a verb), so a name followed by a word it may modify is not taken
    as written on its own: "Graph Laplacian regularization methods" stands for ``graph laplacian
    regularization method``; "causal masking MHA" does not stand for ``causal``."""
    out = []
    for m in mentions:
        end = m["char_start"] + len(m["surface"])
        after = next((t for t in doc if t.idx >= end), None)
        if after is None or after.pos_ in _AFTER_A_NAME:
            out.append(m)
    return out


def names_written_alone(doc, stop: frozenset[str], nested_max_zipf: float | None, seg_from: int = 0,
                        seg_offsets: Sequence[int] = (0,)) -> list[dict]:
    """The names a heading (a chapter title) writes on their own: its mentions that stand alone
    (:func:`standing_alone`), nested ones left out. Evidence that a name nested in longer ones is a
    name of its own (the terms stage reads chapter titles for this and stores nothing of them)."""
    found = extract_mentions(doc, seg_from, list(seg_offsets), stop, nested_max_zipf)
    return [m for m in standing_alone(doc, found) if m["kind"] != "nested"]


_TITLE_PARTS = re.compile(r"\s*[|:!?()\[\]]\s*|\s+[-–—]\s+")


def extract_title_mentions(nlp, title: str, stop: frozenset[str], nested_max_zipf: float | None = None) -> list[dict]:
    """Concepts of a video title. Titles are headlines ("ConvNeXt: A ConvNet for the 2020s | Paper
    Explained"), which spaCy parses poorly whole: each part between separators is parsed alone, and
    a short part that names something ("ConvNeXt", "VQ-GAN", "OpenAI CLIP") is a concept as a whole."""
    out, seen = [], set()
    pos = 0
    for part in _TITLE_PARTS.split(title):
        start = title.find(part, pos) if part else pos
        pos = start + len(part)
        if not part.strip():
            continue
        doc = nlp(part)
        found = extract_mentions(doc, 0, [0], stop, nested_max_zipf)
        tokens = [t for t in doc if not t.is_punct or t.text == "-"]
        if 1 <= len([t for t in tokens if t.text != "-"]) <= 3 and any(t.pos_ in ("PROPN", "NOUN") for t in tokens):
            key = concept_key(trim_span(doc[:], True), stop)
            if key:
                found.append({"seg_idx": 0, "char_start": 0, "surface": part.strip(), "concept": key,
                              "phrase": normalise_text(part), "kind": "title", "label": None})
        for f in found:
            if f["concept"] not in seen:
                seen.add(f["concept"])
                out.append({**f, "char_start": start + f["char_start"]})
    return out
