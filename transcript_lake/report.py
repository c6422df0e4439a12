"""Self-contained HTML reports over the gold tables, read through DuckDB (no JVM, about a second).

- :func:`write_concept_report`: one heat strip per video in upload order (cells = time buckets, shaded by
  mentions, each a link that opens the video at that second), the concept's trend across videos, the
  videos where it is central and the concepts it co-occurs with.
- :func:`write_video_report`: the video's top concepts, each with its strip inside the video, and its topic mix.

Pages have no external resources (inline CSS + a few lines of JS for filtering and sorting), so they
can be mailed or attached; with 100+ videos rows stay one line high and can be filtered by title.

Example::

    write_concept_report(conf, "diffusion")          # -> <lake>/reports/concepts/diffusion_model.html
    write_video_report(conf, "y7J6sSO1k50")
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

from .config import Config
from .errors import UserError
from .lake import lake_root
from .sql import duckdb_connect

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .muted{color:#777}
table{border-collapse:collapse} td,th{padding:2px 8px;text-align:left;vertical-align:middle} th{font-weight:600;border-bottom:1px solid #ccc}
.strips td{padding:1px 6px;white-space:nowrap} .strips td.t{max-width:420px;overflow:hidden;text-overflow:ellipsis;font-size:12px}
.strip{display:flex;gap:1px;height:12px} .strip a,.strip span{display:block;width:6px;height:12px;background:#eef1f5}
.strip a:hover{outline:2px solid #000} .bar{display:inline-block;height:10px;background:#4c78a8;vertical-align:middle}
.controls{margin:8px 0} .controls input[type=search]{padding:4px 6px;width:280px} .hidden{display:none}
.legend span{display:inline-block;width:14px;height:10px;margin-left:4px}
"""

JS = """
function filterRows(q){q=q.toLowerCase();document.querySelectorAll('tr.row').forEach(r=>{
  r.classList.toggle('hidden',!(r.dataset.title.includes(q))||(!document.getElementById('showall').checked&&r.dataset.n==='0'))})}
function sortRows(key){const tb=document.querySelector('table.strips tbody');[...tb.rows].sort((a,b)=>
  key==='n'?(b.dataset.n-a.dataset.n):(a.dataset.rank-b.dataset.rank)).forEach(r=>tb.appendChild(r))}
document.addEventListener('DOMContentLoaded',()=>{const all=document.getElementById('showall');
  if(location.hash==='#all'&&all)all.checked=true;filterRows('');document.body.dataset.ready='1'});
"""

SHADES = ["#eef1f5", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"]


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _shade(value: float, top: float) -> str:
    if not value:
        return SHADES[0]
    return SHADES[1 + min(len(SHADES) - 2, int((len(SHADES) - 1) * math.log1p(value) / math.log1p(max(top, 1)) - 1e-9))]


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
            f"<meta name=viewport content='width=device-width'><style>{CSS}</style><script>{JS}</script></head>"
            f"<body>{body}</body></html>")


def _strip(buckets: dict[float, tuple[int, str | None]], n_buckets: int, bucket_s: float, top: int) -> str:
    cells = []
    for i in range(n_buckets):
        start = i * bucket_s
        n, url = buckets.get(start, (0, None))
        if n:
            tip = f"{_clock(start)}–{_clock(start + bucket_s)}: {n} mention{'s' if n != 1 else ''}"
            tag = f"<a href='{_e(url)}' target=_blank" if url else "<span"
            cells.append(f"{tag} title='{_e(tip)}' style='background:{_shade(n, top)}'></{'a' if url else 'span'}>")
        else:
            cells.append("<span></span>")
    return "<div class=strip>" + "".join(cells) + "</div>"


def _legend(top: int) -> str:
    steps = sorted({1, max(1, top // 4), max(1, top // 2), top})
    return "<span class='legend muted'>mentions per cell:" + "".join(
        f"<span style='background:{_shade(v, top)}'></span> {v}" for v in steps) + "</span>"


def _section(title: str, headers: list[str], rows: list[list]) -> str:
    """``<h2>title</h2>`` and a table; cells are HTML already (escape text with :func:`_e`)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<h2>{title}</h2><table><tr>{head}</tr>{body}</table>"


def _bar(px: float, text: str) -> str:
    return f"<span class=bar style='width:{int(px)}px'></span> {text}"


def _out_path(conf: Config, out: str | None, kind: str, name: str) -> Path:
    path = Path(out) if out else Path(lake_root(conf)) / "reports" / kind / (re.sub(r"[^\w.-]+", "_", name).strip("_") + ".html")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def resolve_concept(con, text: str) -> str:
    """The canonical concept for ``text``: a concept key, any alias (spoken or written) or a label
    (case-insensitive). Unknown: a :class:`UserError` with typo-tolerant "did you mean" suggestions
    ("vision transformr" -> Vision Transformer), ranked by similarity, then salience."""
    from .explain import resolve

    return resolve(con, text)


def write_concept_report(conf: Config, concept_text: str, out: str | None = None) -> Path:
    con = duckdb_connect(conf)
    concept = resolve_concept(con, concept_text)
    bucket_s = float(conf.get("timelines.bucket_seconds"))
    label, n_mentions, n_videos = con.execute(
        "SELECT label, n_mentions, n_videos FROM transcripts.concepts WHERE concept = ?", [concept]).fetchone()
    aliases = [r[0] for r in con.execute("SELECT alias FROM transcripts.concept_lookup WHERE concept = ? AND alias <> concept "
                                         "ORDER BY alias", [concept]).fetchall()]
    videos = con.execute("SELECT video_id, title, upload_rank, duration_s, url FROM transcripts.videos ORDER BY upload_rank").fetchall()
    cells: dict[str, dict[float, tuple[int, str | None]]] = {}
    for vid, start, n, url in con.execute("SELECT video_id, bucket_start_s, mentions, url FROM transcripts.concept_timeline "
                                          "WHERE concept = ?", [concept]).fetchall():
        cells.setdefault(vid, {})[start] = (n, url)
    top = max((n for b in cells.values() for n, _ in b.values()), default=1)
    totals = {v: sum(n for n, _ in b.values()) for v, b in cells.items()}
    first = con.execute("SELECT title, upload_rank, first_mention_s, url FROM transcripts.concept_first_appearance WHERE concept = ?",
                        [concept]).fetchone()

    rows = []
    for vid, title, rank, duration, vurl in videos:
        n_buckets = max(1, math.ceil((duration or 0) / bucket_s))
        n = totals.get(vid, 0)
        link = f"<a href='{_e(vurl)}' target=_blank>{_e(title)}</a>" if vurl else _e(title)
        rows.append(f"<tr class=row data-rank='{rank}' data-n='{n}' data-title='{_e((title or '').lower())}'>"
                    f"<td class=muted>{rank}</td><td class=t title='{_e(title)}'>{link}</td><td>{n or ''}</td>"
                    f"<td>{_strip(cells.get(vid, {}), n_buckets, bucket_s, top)}</td></tr>")

    central = con.execute("SELECT v.title, cv.mentions, cv.minutes_covered, cv.tfidf, cv.rank_in_video, t.url "
                          "FROM transcripts.concept_video cv JOIN transcripts.videos v USING (video_id) "
                          "LEFT JOIN transcripts.concept_timeline t ON t.concept = cv.concept AND t.video_id = cv.video_id "
                          "AND t.first_mention_s = cv.first_mention_s "
                          "WHERE cv.concept = ? ORDER BY cv.rank_in_video, cv.tfidf DESC LIMIT 10", [concept]).fetchall()
    # Neighbours by NPMI, weighted by the partner's salience: incidental phrases and artefacts sink.
    neighbours = con.execute("SELECT n.other_label, n.windows_together, n.npmi FROM transcripts.concept_neighbours n "
                             "JOIN transcripts.concepts o ON o.concept = n.other_concept WHERE n.concept = ? "
                             "ORDER BY n.npmi * coalesce(o.salience, 1.0) DESC, n.rank LIMIT 15", [concept]).fetchall()
    trend = con.execute("SELECT channel, n_videos, first_seen_rank, trend_score, trend FROM transcripts.concept_trends "
                        "WHERE concept = ? ORDER BY n_videos DESC", [concept]).fetchall()

    body = [f"<h1>{_e(label)}</h1><div class=muted>concept <code>{_e(concept)}</code>"
            + (f" · also said as: {_e(', '.join(aliases[:12]))}" if aliases else "") + "</div>",
            f"<p>{n_mentions:,} mentions in {n_videos} of {len(videos)} videos."]
    if first:
        body.append(f" First spoken in <a href='{_e(first[3])}' target=_blank>{_e(first[0])}</a> "
                    f"(upload #{first[1]}, at {_clock(first[2])}).")
    body.append("</p>")
    if trend:
        body.append("<p>" + "; ".join(f"{_e(c)}: <b>{_e(t)}</b>" + (f" (score {s:+.2f})" if s is not None else "")
                                       + f", in {n} videos since #{fr}" for c, n, fr, s, t in trend) + "</p>")
    body.append(f"<h2>Where it is discussed</h2><div class=muted>One row per video in upload order; one cell per "
                f"{int(bucket_s)} s of the video; click a cell to open the video at that second. {_legend(top)}</div>"
                "<div class=controls><input type=search placeholder='filter videos by title' oninput='filterRows(this.value)'> "
                "<label><input type=checkbox id=showall onchange=\"filterRows(document.querySelector('.controls input[type=search]').value)\"> "
                f"show the {len(videos) - len(cells)} videos without mentions</label> "
                "<button onclick=\"sortRows('rank')\">upload order</button> <button onclick=\"sortRows('n')\">most mentions</button></div>"
                "<table class=strips><thead><tr><th>#</th><th>video</th><th>mentions</th><th>timeline</th></tr></thead><tbody>"
                + "".join(rows) + "</tbody></table>")
    body.append(_section("Videos where it is central", ["video", "mentions", "minutes", "tf-idf", "rank in video"],
                         [[f"<a href='{_e(u)}' target=_blank>{_e(t)}</a>", m, f"{mc:g}", f"{tf:.4f}", r]
                          for t, m, mc, tf, r, u in central]))
    top_n = max((n for _, n, _ in neighbours), default=1)
    body.append(_section("Co-occurring concepts", ["concept", "windows together", "NPMI"],
                         [[_e(o), _bar(120 * n / top_n, n), f"{npmi:.2f}"] for o, n, npmi in neighbours]))
    path = _out_path(conf, out, "concepts", concept)
    path.write_text(_page(f"{label} – concept timeline", "".join(body)), encoding="utf-8")
    return path


def write_video_report(conf: Config, video_id: str, out: str | None = None) -> Path:
    con = duckdb_connect(conf)
    video = con.execute("SELECT title, upload_rank, duration_s, url, channel FROM transcripts.videos WHERE video_id = ?",
                        [video_id]).fetchone()
    if not video:
        raise UserError(f"no video {video_id!r} in the lake (SELECT video_id, title FROM transcripts.videos)")
    title, rank, duration, vurl, channel = video
    bucket_s = float(conf.get("timelines.bucket_seconds"))
    n_buckets = max(1, math.ceil((duration or 0) / bucket_s))
    top = con.execute("SELECT concept, label, mentions, minutes_covered, tfidf FROM transcripts.top_concepts_per_video "
                      "WHERE video_id = ? ORDER BY rank_in_video", [video_id]).fetchall()
    cells: dict[str, dict[float, tuple[int, str | None]]] = {}
    for concept, start, n, url in con.execute(
            "SELECT concept, bucket_start_s, mentions, url FROM transcripts.concept_timeline WHERE video_id = ? "
            "AND concept IN (SELECT concept FROM transcripts.top_concepts_per_video WHERE video_id = ?)",
            [video_id, video_id]).fetchall():
        cells.setdefault(concept, {})[start] = (n, url)
    peak = max((n for b in cells.values() for n, _ in b.values()), default=1)
    rows = "".join(f"<tr class=row data-rank='{i}' data-n='{m}' data-title='{_e(l.lower())}'><td class=muted>{i}</td>"
                   f"<td class=t>{_e(l)}</td><td>{m}</td><td>{_strip(cells.get(c, {}), n_buckets, bucket_s, peak)}</td></tr>"
                   for i, (c, l, m, mc, tf) in enumerate(top, 1))
    body = [f"<h1>{_e(title)}</h1><div class=muted>{_e(channel)} · upload #{rank} · {_clock(duration or 0)}"
            + (f" · <a href='{_e(vurl)}' target=_blank>open video</a>" if vurl else "") + "</div>",
            f"<h2>Top concepts and when they are spoken</h2><div class=muted>One cell per {int(bucket_s)} s. {_legend(peak)}</div>"
            "<input type=checkbox id=showall checked class=hidden>"
            f"<table class=strips><thead><tr><th>#</th><th>concept</th><th>mentions</th><th>timeline</th></tr></thead><tbody>{rows}</tbody></table>"]
    import duckdb

    try:
        mix = con.execute("SELECT topic_label, share, minutes FROM transcripts.video_topic_mix WHERE video_id = ? "
                          "ORDER BY share DESC LIMIT 8", [video_id]).fetchall()
    except duckdb.CatalogException:  # the topics stage has not run: no topic views
        mix = []
    if mix:
        body.append(_section("Topic mix", ["topic", "share of windows", "minutes"],
                             [[_e(l), _bar(200 * s, f"{s:.0%}"), f"{m:.1f}"] for l, s, m in mix]))
    path = _out_path(conf, out, "videos", video_id)
    path.write_text(_page(f"{title} – concepts", "".join(body)), encoding="utf-8")
    return path


SEARCH_CSS = """
.results td{padding:6px 8px;border-bottom:1px solid #eee;vertical-align:top} .results td.snip{max-width:620px}
.results td.vid{max-width:300px;font-size:13px}
mark{background:#ffe08a;padding:0 1px} .sig{display:inline-block;font-size:11px;padding:0 5px;margin:1px;border-radius:8px;background:#e8eef7;color:#234}
.when a{font-variant-numeric:tabular-nums;white-space:nowrap}
"""


def _marked(snippet: str) -> str:
    """A result snippet as HTML: text escaped, the matched words (``**word**``) in ``<mark>``."""
    return re.sub(r"\*\*(.+?)\*\*", r"<mark>\1</mark>", _e(snippet))


def write_search_report(conf: Config, query: str, out: str | None = None, top: int = 20, link_pages: bool = True) -> Path:
    """A results page for ``query`` (:func:`transcript_lake.search.search`): one row per moment, the time
    linking to that second of the video, the video title to its video page and each matched concept to its
    concept page (both written next to it when missing, with ``link_pages``). Self-contained like the
    other pages; the filter box narrows the rows by title.

    Example::

        write_search_report(conf, "kv cache")      # -> <lake>/reports/search/kv_cache.html
    """
    import os

    from .search import SearchSettings, search

    results = search(conf, query, top=top)
    settings = SearchSettings.from_conf(conf)
    path = _out_path(conf, out, "search", query[:80] or "query")
    video_pages: dict[str, str] = {}
    concept_pages: dict[str, str] = {}
    if link_pages and results:
        for vid in dict.fromkeys(r.video_id for r in results):
            target = _out_path(conf, None, "videos", vid)
            try:
                if not target.is_file():
                    write_video_report(conf, vid)
                video_pages[vid] = os.path.relpath(target, path.parent)
            except Exception:  # a page that cannot be written is left unlinked, the results stay
                pass
        for label in dict.fromkeys(c for r in results for c in r.concepts):
            try:
                con = duckdb_connect(conf)
                concept = resolve_concept(con, label)
                target = _out_path(conf, None, "concepts", concept)
                if not target.is_file():
                    write_concept_report(conf, concept)
                concept_pages[label] = os.path.relpath(target, path.parent)
            except Exception:
                pass
    rows = []
    for r in results:
        when = f"<a href='{_e(r.url)}' target=_blank>▶ {_clock(r.start_s)}</a>" if r.url else _clock(r.start_s)
        title = _e(r.title or r.video_id)
        video = f"<a href='{_e(video_pages[r.video_id])}'>{title}</a>" if r.video_id in video_pages else title
        concepts = " ".join(f"<a href='{_e(concept_pages[c])}'>{_e(c)}</a>" if c in concept_pages else _e(c) for c in r.concepts)
        signals = "".join(f"<span class=sig>{_e(s)}</span>" for s in r.signals)
        rows.append(f"<tr class=row data-rank='{r.rank}' data-n='1' data-title='{_e((r.title or r.video_id).lower())}'>"
                    f"<td class=muted>{r.rank}</td><td class=when>{when}<div class=muted>{_clock(r.window_start_s)}–"
                    f"{_clock(r.window_end_s)}</div></td><td class=vid>{video}<div class=muted>{_e(r.channel or '')}</div></td>"
                    f"<td class=snip>{_marked(r.snippet)}</td><td>{signals}<div>{concepts}</div></td>"
                    f"<td class=muted>{r.score:.2f}</td></tr>")
    body = [f"<h1>Search: {_e(query)}</h1>",
            f"<div class=muted>{len(results)} moment{'s' if len(results) != 1 else ''}; ranked by words (BM25), meaning "
            f"(embeddings) and concepts (aliases included){', chapter titles' if settings.chapter_titles else ''}. "
            "Click a time to open the video at that second.</div>",
            "<div class=controls><input type=search placeholder='filter by video title' oninput='filterRows(this.value)'>"
            "<input type=checkbox id=showall checked class=hidden></div>"]
    if rows:
        body.append("<table class=results><thead><tr><th>#</th><th>when</th><th>video</th><th>what is said</th>"
                    "<th>matched</th><th>score</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    else:
        body.append("<p>No moment matches this query.</p>")
    page = _page(f"{query} – search", "".join(body)).replace("</style>", SEARCH_CSS + "</style>", 1)
    path.write_text(page, encoding="utf-8")
    return path
