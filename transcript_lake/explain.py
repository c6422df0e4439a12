"""``transcript-lake concepts explain NAME``: a concept, its label and every alias with the rule that
merged it, the rule's score and the evidence, read from the lake through DuckDB (no JVM).

Names are resolved like ``report --concept``: a concept key, any alias (spoken or written) or a label,
case-insensitive. An unknown name gets typo-tolerant suggestions (rapidfuzz over every alias and label:
"vision transformr" -> Vision Transformer), not only substring hits.

Example::

    print(explain_concept(conf, "VAT"))
    # Vision Transformer   concept 'vision transformer' · name · salience 1.00
    #   312 spoken mentions in 18 videos, 41 keyphrase picks; label written in title
    #   alias   rule        score  n   written in   why
    #   vit     definition  1.00   13  title,...    written 'Vision Transformer (ViT)' in title of j6kuz_NqkG0
    #   vat     misheard    0.83   116 -            'vat' is never written; 'vat' (zipf 3.5) sounds like 'vit' ...
"""

from __future__ import annotations

from .config import Config
from .errors import UserError


def suggest_concepts(con, text: str, limit: int = 8) -> list[tuple[str, str]]:
    """``(label, concept)`` of the concepts whose aliases or labels are closest to ``text`` (typos,
    missing letters, word order), most similar first, then most salient. Substring hits come too."""
    from rapidfuzz import fuzz, process

    from .nlp.concepts import normalise_text

    probe = normalise_text(text)
    if not probe:
        return []
    rows = con.execute("SELECT alias, concept, label, coalesce(salience, 1.0), n_mentions FROM transcripts.concept_lookup").fetchall()
    choices: list[str] = []
    owners: list[tuple] = []
    for alias, concept, label, salience, n in rows:
        for form in {alias, normalise_text(label or "")}:
            if form:
                choices.append(form)
                owners.append((concept, label, salience, n))
    scored: dict[str, tuple] = {}
    # Whole-form similarity (typos, a missing letter or space), and forms that contain the probe as a
    # word ("transformer" -> "vision transformer"); never the reverse (a probe containing "li" or "pa").
    hits = process.extract(probe, choices, scorer=fuzz.ratio, limit=200, score_cutoff=75)
    if len(probe) >= 4:
        hits += [(form, 90.0, i) for i, form in enumerate(choices) if f" {probe} " in f" {form} " and form != probe]
    for form, score, i in hits:
        concept, label, salience, n = owners[i]
        best = score
        prev = scored.get(concept)
        if prev is None or best > prev[0]:
            scored[concept] = (best, salience, n, label)
    ranked = sorted(scored.items(), key=lambda kv: (-round(kv[1][0]), -kv[1][1], -kv[1][2], kv[0]))
    return [(v[3], c) for c, v in ranked[:limit]]


def resolve(con, text: str) -> str:
    """The canonical concept for ``text`` (key, alias or label, any case; else the one concept with its
    letters up to spaces, hyphens and a plural), or a :class:`UserError` with "did you mean" suggestions."""
    from .nlp.concepts import normalise_text

    probe, key = text.strip().lower(), normalise_text(text)
    row = con.execute("SELECT concept FROM transcripts.concept_lookup WHERE alias IN (?, ?) OR concept IN (?, ?) "
                      "OR lower(label) = ? ORDER BY (concept IN (?, ?)) DESC, coalesce(salience, 1.0) DESC, n_mentions DESC "
                      "LIMIT 1", [probe, key, probe, key, probe, probe, key]).fetchone()
    if row:
        return row[0]
    # the same letters with other spacing or hyphens ("Conv Next" -> convnext), when one concept has them
    from .nlp.identity import joined_index, squash

    joined = joined_index(con.execute("SELECT alias, concept FROM transcripts.concept_lookup").fetchall()).get(squash(key))
    if joined is not None and key:
        return joined
    close = suggest_concepts(con, text)
    hint = "; did you mean: " + ", ".join(f"{label} ({concept})" if label and label.lower() != concept else concept
                                          for label, concept in close) if close else ""
    raise UserError(f"no concept or alias {text!r} in the lake{hint}")


def explain_concept(conf: Config, name: str) -> str:
    """The explanation of the concept ``name`` resolves to, as text (see the module docstring)."""
    from .sql import duckdb_connect

    con = duckdb_connect(conf)
    concept = resolve(con, name)
    row = con.execute("SELECT label, label_source, kind, salience, n_mentions, n_videos, n_keyphrases "
                      "FROM transcripts.concepts WHERE concept = ?", [concept]).fetchone()
    label, label_source, kind, salience, n_mentions, n_videos, n_keyphrases = row
    said = {r[0]: r[1] for r in con.execute(
        "SELECT a.alias, a.n_mentions FROM (SELECT unnest(aliases) AS a FROM transcripts.concepts WHERE concept = ?)",
        [concept]).fetchall()}
    aliases = con.execute("SELECT alias, rule, similarity, evidence, written_source FROM transcripts.concept_aliases "
                          "WHERE concept = ? ORDER BY rule = 'self' DESC, alias", [concept]).fetchall()
    self_row = next((a for a in aliases if a[0] == concept), None)
    lines = [f"{label}   concept {concept!r} · {kind or '-'} · salience {salience:.2f}" if salience is not None
             else f"{label}   concept {concept!r}",
             f"  {n_mentions:,} spoken mention(s) in {n_videos} video(s), {n_keyphrases} keyphrase pick(s); label "
             + (f"written in {label_source}" if label_source and label_source != "spoken" else "as most often spoken")]
    if self_row and self_row[4]:
        lines.append(f"  the key itself is written in: {self_row[4]}")
    others = [a for a in aliases if a[0] != concept]
    if not others:
        lines.append("  no other key was merged into it")
        return "\n".join(lines)
    lines.append(f"  {len(others)} alias(es), each with the rule that merged it, its score and the evidence:")
    width = max(len(a[0]) for a in others)
    for alias, rule, score, evidence, written in others:
        n = said.get(alias)
        lines.append(f"    {alias:<{width}}  {rule:<12} {('%.2f' % score) if score is not None else '-':>5}  "
                     f"{(str(n) + ' said') if n else 'written only' if written else '-':>12}  "
                     f"{('[' + written + '] ') if written else ''}{evidence or ''}")
    return "\n".join(lines)
