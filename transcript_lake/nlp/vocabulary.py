"""The written vocabulary: names as the authors *wrote* them, found in titles, descriptions, chapter
titles, comments, manifest metadata and source file names.

Speech recognition hears "PaliGemma" as "polygamma" and "ViT" as "VAT"; the written text around a video
spells them right. This module finds, in one written text:

- **names** (:func:`name_tokens`): tokens written as names, not words: two or more capitals (``ViT``,
  ``GNNs``, ``MCTS``), camel case (``PaliGemma``, ``ConvNeXt``), letters with digits (``GPT-3``,
  ``AlphaFold2``), hashtags (``#convnext``);
- **acronym definitions** (:func:`acronym_definitions`), Schwartz & Hearst (2003) style:
  ``Vision Transformer (ViT)``, ``GAT (Graph Attention Network)``, and the headline forms
  ``RMA: Rapid Motor Adaptation`` / ``NTK - neural tangent kernel`` for all-capital short forms;
- **phrases**: spaCy's entities and noun chunks, keyed exactly like spoken mentions
  (:func:`~transcript_lake.nlp.mentions.extract_mentions`), so a written key equals the spoken key of
  the same words.

:func:`written_terms` runs all three over one text and returns rows for the ``vocabulary`` table.

Example::

    >>> acronym_definitions("In this video: Graph Neural Networks (GNNs) and the Vision Transformer (ViT).")
    [('GNNs', 'Graph Neural Networks'), ('ViT', 'Vision Transformer')]
    >>> name_tokens("PaliGemma vs. GPT-3 and #convnext, tested with MCTS")
    ['PaliGemma', 'GPT-3', 'convnext', 'MCTS']
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from .concepts import TIMESTAMP, concept_key, normalise_text, tidy_label, trim_span
from .mentions import _TITLE_PARTS, extract_mentions

# Where the written text came from (vocabulary.source). Per-video sources are rebuilt with the video;
# comments without a video and the glossary are corpus-wide (video_id null).
SOURCES = ("title", "description", "chapter", "comment", "source_file", "manifest", "glossary")

_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
_TOKEN = re.compile(r"(?<![\w#@/-])(#?[^\W_](?:[\w.+]*[^\W_])?(?:-[^\W_](?:[\w.+]*[^\W_])?)*)(?![\w/])")
_PAREN = re.compile(r"\(([^()]{1,80})\)")
_ITEMS = re.compile(rf"\n|(?<=\S)\s+(?={TIMESTAMP}\s)")
# what may precede a word whose capital only starts a line, a sentence or a chapter-list entry
_OPENING = re.compile(rf"(?:^|[^\w\s,'’]|{TIMESTAMP}|^\s*\d{{1,2}}[.)])\s*$")  # a line start, a symbol or a bullet, a timestamp
# Headline definitions "RMA: Rapid Motor Adaptation", "NTK - neural tangent kernel".
_HEADLINE = re.compile(r"(?:^|[|(]\s*)([A-Z][A-Z0-9]{1,9})\s*(?::|\s[-–—])\s+([^|:()\[\]]{3,120})")
# Spoken-language names of file formats and folders in source file names, not names of things.
_FILE_WORDS = {"txt", "srt", "vtt", "sbv", "json", "tsv", "csv", "whisper", "hf", "viewer", "rolling", "captions",
               "comments", "auto", "yt", "api", "transcript", "transcripts", "data", "corpus", "head", "part", "video",
               "videos", "from", "scratch", "the", "and", "of", "with", "to", "in", "a"}
# spaCy entity labels that name something (a person, an organisation, a product, a work).
NAME_LABELS = {"PERSON", "ORG", "PRODUCT", "WORK_OF_ART", "EVENT", "LAW", "LANGUAGE", "FAC", "GPE", "NORP"}


def strip_urls(text: str) -> str:
    """URLs carry paths and ids, not names (``arxiv.org/abs/2010.11929``): removed before parsing."""
    return _URL.sub(" ", text or "")


def _is_name_part(part: str) -> bool:
    letters = [c for c in part if c.isalpha()]
    if not letters:
        return False
    if any(c.isdigit() for c in part) and re.fullmatch(r"[\d.]+[a-zA-Z]?x?[\d.]*|\d+[a-z]{1,2}", part):
        return False  # 2021, 16x16, 10k, 3d
    upper = sum(c.isupper() for c in letters)
    camel = any(a.islower() and b.isupper() for a, b in zip(part, part[1:]))
    return upper >= 2 or camel or (any(c.isdigit() for c in part) and part[0].isalpha() and len(letters) >= 1)


def is_name_token(token: str) -> bool:
    """A token written as a name rather than a word: ``ViT``, ``GNNs``, ``PaliGemma``, ``GPT-3``,
    ``AlphaFold2``, ``t-SNE`` (but not ``Transformer``, ``Open-Ended``, ``2021`` or ``16x16``).

    >>> [is_name_token(t) for t in ("ViT", "PaliGemma", "GPT-3", "Transformer", "Open-Ended", "2021", "16x16", "t-SNE")]
    [True, True, True, False, False, False, False, True]
    """
    parts = [p for p in token.split("-") if p]
    if any(_is_name_part(p) for p in parts):
        return True
    # GPT-3, Llama-2: a capitalised name with a version number; U-Net, K-Means: a letter and a word
    return len(parts) >= 2 and parts[0][:1].isupper() and (
        any(p.isdigit() for p in parts[1:]) or (len(parts[0]) == 1 and parts[1][:1].isupper()))


ORDINARY_ZIPF = 3.5  # wordfreq zipf from which a word is everyday English ("results" 5.0, "graphs" 3.9; "flax" 2.6)


def ordinary_word(text: str) -> bool:
    """One everyday English word without a name's shape: ``Results``, ``Reconstruction``, ``graphs``
    (not ``ViT``, ``GPT-3``, ``Flax``). A heading capitalises it and a hashtag tags it; neither makes
    it a name.

    >>> [ordinary_word(w) for w in ("Reconstruction", "graphs", "ViT", "Flax", "Vision Transformer")]
    [True, True, False, False, False]
    """
    from .identity import zipf

    return len(text.split()) == 1 and not is_name_token(text) and zipf(text.lower()) >= ORDINARY_ZIPF


def opening_capital(text: str, start: int) -> bool:
    """Whether the word at ``start`` of ``text`` opens a line, a sentence or a chapter-list entry (its
    capital says nothing about it being a name).

    >>> [opening_capital(t, t.index("Sampling")) for t in ("01:19:23 Sampling", "Done. Sampling", "the Sampling box")]
    [True, True, False]
    """
    return bool(_OPENING.search(text[:start].rsplit("\n", 1)[-1]))


def name_tokens(text: str) -> list[str]:
    """Name-like tokens of ``text`` (hashtags without their ``#``), in order of appearance."""
    out = []
    for match in _TOKEN.finditer(strip_urls(text)):
        token = match.group(1).rstrip(".")
        if token.startswith("#"):
            tag = token[1:]
            if len(tag) >= 3 and tag.isalnum() and not tag.isdigit() and not ordinary_word(tag):
                out.append(tag)  # "#PaLM", "#ricciflow"; not "#graphs", "#project": a tag is not a name
        elif is_name_token(token):
            out.append(token)
    return out


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s\-–—/]+", text.strip()) if w]


def best_long_form(short: str, long: str) -> str | None:
    """Schwartz & Hearst's matching: the shortest tail of ``long`` in which the characters of ``short``
    appear in order, the first one at the start of a word. None if there is none.

    >>> best_long_form("ViT", "the Vision Transformer"), best_long_form("GNNs", "Graph Neural Networks")
    ('Vision Transformer', 'Graph Neural Networks')
    """
    s = [c.lower() for c in short if c.isalnum()]
    if short.endswith("s") and len(s) > 2 and short[-2].isupper():  # plural of the acronym
        s = s[:-1]
    if not s or not s[0].isalnum():
        return None
    text = long.lower()
    si, li = len(s) - 1, len(text) - 1
    while si >= 0:
        c = s[si]
        while li >= 0 and (text[li] != c or (si == 0 and li > 0 and text[li - 1].isalnum())):
            li -= 1
        if li < 0:
            return None
        li -= 1
        si -= 1
    start = text.rfind(" ", 0, li + 1) + 1
    found = long[start:].strip(" ,;:-")
    return found or None


_LINKING = {"of", "and", "for", "the", "to", "in", "on", "with", "a", "an", "by", "via"}


def aligns(short: str, long: str) -> bool:
    """Whether ``short`` is built from the beginnings of the words of ``long``: its characters split,
    in order, into one group per word, each group starting with the first letter of its word (or of a
    part of a hyphenated word) and continuing inside that word. Linking words (of, and, for, ...) may
    contribute nothing. Stricter than Schwartz & Hearst's own test, which accepts "ML (middle-level
    intro)".

    >>> aligns("ViT", "Vision Transformer"), aligns("CLIP", "contrastive language-image pre-training")
    (True, True)
    >>> aligns("NEAT", "NeuroEvolution of Augmenting Topologies"), aligns("ML", "middle-level intro")
    (True, False)
    """
    chars = [c.lower() for c in short if c.isalnum()]
    if short.endswith("s") and len(chars) > 2 and short[-2].isupper():
        chars = chars[:-1]
    words = [w.lower() for w in re.split(r"[\s/]+", long.strip()) if w]
    if not chars or not words:
        return False

    def starts(word: str) -> set[int]:
        return {0} | {i + 1 for i, c in enumerate(word) if c == "-" and i + 1 < len(word)}

    def fit(ci: int, wi: int, used: int = 0) -> bool:
        if wi == len(words):
            return ci == len(chars)
        word = words[wi]
        if word in _LINKING and fit(ci, wi + 1, used):
            return True
        if ci == len(chars):
            # "Graph ATtention Networks (GAT)": the last word may add nothing once two words did
            return wi == len(words) - 1 and used >= 2
        # The group of this word: chars[ci:cj], the first at a word (part) start, the rest in order.
        for st in sorted(starts(word)):
            if word[st] != chars[ci]:
                continue
            pos, cj = st + 1, ci + 1
            if fit(cj, wi + 1, used + 1):
                return True
            while cj < len(chars):
                found = word.find(chars[cj], pos)
                if found < 0:
                    break
                pos, cj = found + 1, cj + 1
                if fit(cj, wi + 1, used + 1):
                    return True
        return False

    return len(words) <= 12 and fit(0, 0)


def _is_short_form(text: str) -> bool:
    text = text.strip()
    return (2 <= len(text) <= 10 and len(text.split()) <= 2 and text[0].isalnum()
            and any(c.isalpha() for c in text) and sum(c.isupper() for c in text) >= 1)


def acronym_definitions(text: str) -> list[tuple[str, str]]:
    """``(short form, long form)`` pairs defined in ``text``: ``LF (SF)``, ``SF (LF)`` and, for
    all-capital short forms at the start of a headline part, ``SF: LF`` / ``SF - LF``.

    >>> acronym_definitions("Graph Attention Networks (GAT) | GNN Paper Explained")
    [('GAT', 'Graph Attention Networks')]
    >>> acronym_definitions("RMA: Rapid Motor Adaptation for Legged Robots")
    [('RMA', 'Rapid Motor Adaptation')]
    >>> acronym_definitions("DQN - Playing Atari with Deep Reinforcement Learning")
    []
    """
    text = strip_urls(text)
    found: list[tuple[str, str]] = []
    for m in _PAREN.finditer(text):
        inside = m.group(1).strip()
        before = text[:m.start()].rstrip()
        if _is_short_form(inside) and len(inside.split()) == 1:
            short = inside
            words = _words(re.split(r"[|:.;!?()\[\]\"]", before)[-1])
            n = min(len(short) + 5, 2 * len(short))
            candidate = " ".join(words[-n:])
            long = best_long_form(short, candidate) if candidate else None
            if long and len(_words(long)) >= 2 and long.lower() != short.lower() and aligns(short, long):
                found.append((short, long))
        elif len(inside.split()) >= 2:  # SF (LF): the short form is the word right before
            prev = re.findall(r"([\w-]+)\s*$", before)
            if prev and _is_short_form(prev[0]) and sum(c.isupper() for c in prev[0]) >= 2:
                long = best_long_form(prev[0], inside)
                if long and long == inside.strip(" ,;:-") and aligns(prev[0], long):
                    found.append((prev[0], long))
    for part in re.split(r"\s+\|\s+|\n", text):
        m = _HEADLINE.match(part.strip())
        if m:
            short, rest = m.group(1), m.group(2)
            # The shortest run of the headline's first words that spells the short form ("RMA: Rapid
            # Motor Adaptation for Legged Robots" -> "Rapid Motor Adaptation").
            ends = [w.end() for w in re.finditer(r"[^\s\-–—/]+", rest)][: min(len(short) + 5, 2 * len(short))]
            for end in ends[1:]:
                candidate = rest[:end].strip()
                long = best_long_form(short, candidate)
                if long == candidate and aligns(short, long):
                    found.append((short, long))
                    break
    seen, out = set(), []
    for pair in found:
        if pair not in seen:
            seen.add(pair)
            out.append(pair)
    return out


def file_name_parts(path: str) -> list[str]:
    """The words of a source file's name that may name something: ``data/corpus/paligemma-from-scratch.whisper.txt``
    -> ``['paligemma']`` (format names and common words are left out by the caller's rarity check).

    >>> file_name_parts("data/corpus/paligemma-from-scratch.whisper.txt")
    ['paligemma']
    """
    stem = PurePosixPath(str(path).replace("\\", "/")).name.split(".")[0]
    parts = [p for p in re.split(r"[-_\s.]+", stem) if p]
    return [p for p in parts if p.lower() not in _FILE_WORDS and len(p) >= 3 and not p.isdigit()
            and not re.fullmatch(r"(?i)part\d+|\d+[a-z]*", p)]


def written_as_name(surface: str, label: str | None, headline: bool = False) -> bool:
    """Whether the author wrote ``surface`` as a name: a name token (``ViT``, ``GPT-3``), a capital
    after the first word (``Sheaf Laplacian``, ``Jina AI``), an entity that names something, or, for a
    one-word headline part, a word that is not ordinary English (``Flax``, ``Jupyter``; not ``Results``).
    Sentence-case chapter titles ("Pong occlusion experiment") are phrases, not names."""
    from .identity import zipf

    words = [w for w in surface.split() if any(c.isalnum() for c in w)]  # not a bullet "✅" or a dash
    if not words:
        return False
    if any(is_name_token(w) for w in words) or any(w[:1].isupper() for w in words[1:]):
        return True
    if label in NAME_LABELS and any(w[:1].isupper() for w in words):
        return True
    if headline and len(words) == 1 and words[0][:1].isupper() and zipf(words[0].lower()) < ORDINARY_ZIPF:
        return True
    # A rare word in a title or chapter ("Discovering joseki", "distograms") is a term of the field.
    return headline and any(len(w) >= 4 and w.isalpha() and zipf(w.lower()) < 2.0 for w in words)


def key_of(nlp_doc, stop) -> str | None:
    """Concept key of a whole short text (a name, a short form, a long form), as a mention key."""
    return concept_key(trim_span(nlp_doc[:], True), stop)


def written_terms(nlp, text: str, source: str, stop, keep_phrases: bool = True) -> list[dict]:
    """Rows (term, key, kind, expansion, expansion_key) for one written text.

    ``kind``: ``name`` (written as a name, an entity that names something, a short headline part),
    ``phrase`` (another noun phrase) or ``definition`` (``term`` is the short form, ``expansion`` the
    long form). Keys are computed exactly as for spoken mentions. Counts are added by the caller.
    """
    text = strip_urls(text)
    if not text.strip():
        return []
    rows: list[dict] = []
    headline = source in ("title", "chapter", "manifest")
    # a heading in its parts; other text by line and by chapter-list entry ("20:45 Results 22:00 Sampling"):
    # no noun phrase runs from one entry into the next
    parts = [p for p in (_TITLE_PARTS if headline else _ITEMS).split(text) if p.strip()]
    docs = list(nlp.pipe(parts))
    for part, doc in zip(parts, docs):
        for m in extract_mentions(doc, 0, [0], stop):
            # a heading capitalises every word ("Reconstruction"), a chapter list or a sentence its first
            # ("12:30 Sampling from the model"): for one everyday word, neither that capital nor spaCy's
            # entity guess built on it is a name
            is_name = written_as_name(m["surface"], m["label"]) and not (
                ordinary_word(m["surface"]) and (headline or opening_capital(part, m["char_start"])))
            if is_name or keep_phrases:
                # as written, without what a heading's punctuation glued to its edge ("SE(3)-Equivariant ...")
                rows.append({"term": tidy_label(m["surface"]), "key": m["concept"], "kind": "name" if is_name else "phrase"})
        if headline:  # a short headline part names something as a whole ("ConvNeXt", "Vision Transformer")
            tokens = [t for t in doc if not t.is_punct or t.text == "-"]
            if 1 <= len([t for t in tokens if t.text != "-"]) <= 4:
                key = key_of(doc, stop)
                if key:
                    rows.append({"term": tidy_label(part), "key": key,
                                 "kind": "name" if written_as_name(tidy_label(part), None, headline=True) else "phrase"})
    names = name_tokens(text)
    defs = acronym_definitions(text)
    singles = list(dict.fromkeys(names + [s for s, _ in defs] + [l for _, l in defs]))
    keyed = {t: key_of(d, stop) for t, d in zip(singles, nlp.pipe(singles))} if singles else {}
    for t in names:
        if keyed.get(t):
            rows.append({"term": t, "key": keyed[t], "kind": "name"})
    for short, long in defs:
        if keyed.get(short) and keyed.get(long) and keyed[short] != keyed[long]:
            rows.append({"term": short, "key": keyed[short], "kind": "definition", "expansion": long,
                         "expansion_key": keyed[long]})
            rows.append({"term": long, "key": keyed[long], "kind": "name"})
    for r in rows:
        r.setdefault("expansion", None)
        r.setdefault("expansion_key", None)
    return rows


def file_terms(nlp, path: str, stop) -> list[dict]:
    """Names in a source file's name (``paligemma-from-scratch.whisper.txt`` -> ``paligemma``): only
    parts that are not ordinary English words (wordfreq zipf below 3.5; see :func:`file_name_parts`)."""
    from .identity import zipf

    parts = [p for p in file_name_parts(path) if zipf(p.lower()) < ORDINARY_ZIPF]  # "paligemma", not "transformers"
    rows = []
    for part, doc in zip(parts, nlp.pipe(parts)):
        key = key_of(doc, stop)
        if key:
            rows.append({"term": part, "key": key, "kind": "name", "expansion": None, "expansion_key": None})
    return rows


def normalised(text: str) -> str:
    """Lower case, punctuation as spaces (the form keys are compared in)."""
    return normalise_text(text)
