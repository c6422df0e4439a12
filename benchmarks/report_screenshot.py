"""Render the HTML reports in a real headless browser (Debian's ``chromium``) and keep screenshots.

    python benchmarks/report_screenshot.py [--lake DIR] [--concept diffusion] [--video y7J6sSO1k50]

Writes the reports, then for each: ``chromium --headless --dump-dom`` must show ``data-ready="1"`` on
<body> (the page script ran) and the expected rows; ``--screenshot`` PNGs go to benchmarks/results/.
The concept page is also shot with ``#all`` (every video shown, 100+ rows) to check it stays usable.
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
from transcript_lake.report import write_concept_report, write_video_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("error: no chromium on PATH (Debian: apt install chromium)")


def browse(url: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *flags, url],
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake")
    ap.add_argument("--concept", default="diffusion")
    ap.add_argument("--video", default="y7J6sSO1k50")
    args = ap.parse_args()
    conf = load_config("local", [f"lake.root={Path(args.lake).resolve()}"] if args.lake else [])
    RESULTS.mkdir(parents=True, exist_ok=True)
    from transcript_lake.sql import duckdb_connect

    n_videos = duckdb_connect(conf).sql("SELECT count(*) FROM transcripts.videos").fetchone()[0]
    concept_page = write_concept_report(conf, args.concept)
    video_page = write_video_report(conf, args.video)
    report = {
        "concept": check(concept_page, "report_concept", "1400,1400", n_videos),
        "concept_all": check(concept_page, "report_concept_all", "1400,2400", n_videos),
        "video": check(video_page, "report_video", "1400,1000", None),
    }
    (RESULTS / "report_screenshot.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
