"""Render the HTML reports in a real headless browser (Debian's ``chromium``) and keep screenshots.

    python benchmarks/report_screenshot.py [--lake DIR] [--concept diffusion] [--video y7J6sSO1k50] [--search "kv cache"]

Writes the reports, then for each: ``chromium --headless --dump-dom`` must show ``data-ready="1"`` on
<body> (the page script ran) and the expected rows; ``--screenshot`` PNGs go to benchmarks/results/.
The concept page is also shot with ``#all`` (every video shown, 100+ rows) to check it stays usable.
The search results page (``report --search``) must show one row per result, each with a link to the second
(``&t=<s>s``) and links into the video pages it names. ``--only search`` checks that page alone.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transcript_lake.config import load_config  # noqa: E402
from transcript_lake.report import write_concept_report, write_search_report, write_video_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("error: no chromium on PATH (Debian: apt install chromium)")


def browse(url: str, *flags: str) -> subprocess.CompletedProcess:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:  # a fresh profile: no state, no network chatter
        return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               f"--user-data-dir={profile}", "--hide-scrollbars", *flags, url],
                              capture_output=True, text=True, timeout=120)


def check(page: Path, shot: str, size: str, expect_rows: int | None) -> dict:
    url = page.resolve().as_uri() + ("#all" if shot.endswith("_all") else "")
    t0 = time.perf_counter()
    dom = browse(url, "--dump-dom").stdout
    seconds = time.perf_counter() - t0
    rows = len(re.findall(r"<tr class=\"row[^\"]*\"", dom))
    hidden = len(re.findall(r"<tr class=\"row hidden\"", dom))
    ready = 'data-ready="1"' in dom
    png = RESULTS / f"{shot}.png"
    browse(url, f"--window-size={size}", f"--screenshot={png}")
    out = {"page": str(page), "png": str(png), "script_ran": ready, "rows": rows, "visible_rows": rows - hidden,
           "render_seconds": round(seconds, 2), "bytes": page.stat().st_size}
    if not ready or (expect_rows is not None and rows != expect_rows) or not png.is_file():
        sys.exit(f"error: {shot}: {out}")
    return out


def check_search(page: Path, n_results: int) -> dict:
    """The results page: the script ran, one row per result, each linking to its second and to its video page."""
    out = check(page, "report_search", "1400,1200", n_results)
    dom = browse(page.resolve().as_uri(), "--dump-dom").stdout
    moments = re.findall(r'href="(https://www\.youtube\.com/watch\?v=[^"]+)"', dom)
    pages = re.findall(r'href="([^":]+\.html)"', dom)
    out.update(moment_links=len(moments), moment_links_with_second=sum(bool(re.search(r"[?&]t=\d+s$", m.replace("&amp;", "&")))
                                                                        for m in moments),
               page_links=len(pages), page_links_present=sum((page.parent / p).resolve().is_file() for p in pages),
               marked_words=dom.count("<mark>"))
    if out["moment_links_with_second"] != out["moment_links"] or out["page_links_present"] != out["page_links"] or \
            (n_results and not out["marked_words"]):
        sys.exit(f"error: report_search: {out}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake")
    ap.add_argument("--concept", default="diffusion")
    ap.add_argument("--video", default="y7J6sSO1k50")
    ap.add_argument("--search", default="how does the KV cache speed up generation?")
    ap.add_argument("--only", choices=("concept", "video", "search"), action="append",
                    help="check only these pages (repeatable; default all)")
    args = ap.parse_args()
    conf = load_config("local", [f"lake.root={Path(args.lake).resolve()}"] if args.lake else [])
    RESULTS.mkdir(parents=True, exist_ok=True)
    only = set(args.only or ("concept", "video", "search"))
    report = {}
    if "concept" in only or "video" in only:
        from transcript_lake.sql import duckdb_connect

        n_videos = duckdb_connect(conf).sql("SELECT count(*) FROM transcripts.videos").fetchone()[0]
    if "concept" in only:
        concept_page = write_concept_report(conf, args.concept)
        report["concept"] = check(concept_page, "report_concept", "1400,1400", n_videos)
        report["concept_all"] = check(concept_page, "report_concept_all", "1400,2400", n_videos)
    if "video" in only:
        report["video"] = check(write_video_report(conf, args.video), "report_video", "1400,1000", None)
    if "search" in only:
        from transcript_lake.search import search

        n_results = len(search(conf, args.search, top=20))
        report["search"] = check_search(write_search_report(conf, args.search), n_results)
    (RESULTS / "report_screenshot.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
