"""spaCy mentions of one window: entities and noun chunks, each mapped back to its segment.

A window's text is its segments joined by single spaces; ``seg_offsets[k]`` is where segment
``seg_from + k`` starts, so a mention's first character offset gives its segment by bisection.
"""

from __future__ import annotations

import bisect
import re

from .concepts import NUMERIC_LABELS, concept_key, normalise_text, strip_edge_adjectives, trim_span


def _extend_name_number(doc, tokens):
    """``AlphaFold`` + ``2`` -> ``AlphaFold 2``: a short number right after a proper noun is the name's."""
    if tokens and tokens[-1].pos_ == "PROPN" and tokens[-1].i + 1 < len(doc):
        nxt = doc[tokens[-1].i + 1]
        if nxt.like_num and len(nxt.text) <= 2 and nxt.text.isdigit():
            return tokens + [nxt]
    return tokens


def extract_mentions(doc, seg_from: int, seg_offsets: list[int], stop: frozenset[str]) -> list[dict]:
    out = []
    seen_spans = set()
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
        surface = doc.text[start_char:end_char]
        k = max(0, bisect.bisect_right(seg_offsets, start_char) - 1)
        out.append({"seg_idx": seg_from + k, "char_start": start_char, "surface": surface, "concept": key,
                    "phrase": normalise_text(surface), "kind": kind, "label": label})
    return out


_TITLE_PARTS = re.compile(r"\s*[|:!?()\[\]]\s*|\s+[-–—]\s+")


def extract_title_mentions(nlp, title: str, stop: frozenset[str]) -> list[dict]:
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
        found = extract_mentions(doc, 0, [0], stop)
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
