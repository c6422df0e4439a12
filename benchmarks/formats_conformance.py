"""Format conformance: how many files of the named set our adapters read as the reference parsers do.

For each format and reference parser: the share of files that agree (same segments: count, start and
end to the millisecond, text; normalisations in docs/formats.md), for the adapters of a git revision
("before", default the commit issue 17 was measured at) and of the working tree ("after"). Also the
share of files sniffed to their format when the manifest names none. Pure Python, about a minute.

    .venv/bin/python benchmarks/formats_conformance.py                # before/after, all references
    .venv/bin/python benchmarks/formats_conformance.py --before HEAD  # compare with the last commit
    .venv/bin/python benchmarks/formats_conformance.py --detail       # list every file that disagrees
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from formats_reference import agrees, first_difference, named_set  # noqa: E402
from transcript_lake.formats import parse_bytes, sniff, decode  # noqa: E402

BEFORE = "0a07724"  # issue 17 measured the adapters at this commit


def adapters_at(rev: str, into: Path):
    """The ``transcript_lake.formats`` package of a git revision, imported as ``formats_<rev>``."""
    blob = subprocess.run(["git", "archive", rev, "transcript_lake/formats"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    name = f"formats_{rev.replace('~', '_').replace('^', '_')}"
    (into / "transcript_lake" / "formats").rename(into / name)
    sys.path.insert(0, str(into))
    return importlib.import_module(name)


def group_of(case) -> str:
    return "generated" if case.origin == "generated" else case.origin


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--before", default=BEFORE, help="git revision of the 'before' adapters (default %(default)s)")
    args.add_argument("--generated", type=int, default=20, help="random cue lists per writer (x variants)")
    args.add_argument("--detail", action="store_true", help="print every file that disagrees with its primary reference")
    opts = args.parse_args()

    cases = named_set(opts.generated)
    with tempfile.TemporaryDirectory() as tmp:
        old = adapters_at(opts.before, Path(tmp))
        counts = defaultdict(lambda: [0, 0, 0])  # (fmt, reference, group) -> [before, after, files]
        sniffed = defaultdict(lambda: [0, 0, 0])  # fmt -> [before, after, files]
        for case in cases:
            for reference in case.references:
                row = counts[(case.fmt, reference, group_of(case))]
                row[0] += agrees(case, reference, old.parse_bytes)
                ok = agrees(case, reference, parse_bytes)
                row[1] += ok
                row[2] += 1
                if opts.detail and not ok and reference == case.primary:
                    print(f"  differs: {case.name} vs {reference}: {first_difference(case, reference)}")
            text, _ = decode(case.data)
            sniffed[case.fmt][0] += old.sniff(text[:64 * 1024], case.name) == case.fmt
            sniffed[case.fmt][1] += sniff(text, case.name) == case.fmt
            sniffed[case.fmt][2] += 1

    def pct(a, n):
        return f"{a:4d}/{n:<4d} {100 * a / n:5.1f} %" if n else "   -"

    print(f"format conformance: {len(cases)} files; before = adapters at {opts.before}, after = working tree")
    print(f"{'format':18} {'reference':10} {'files':18} {'before':>17} {'after':>17}")
    totals = defaultdict(lambda: [0, 0, 0])
    for (fmt, reference, group), (b, a, n) in sorted(counts.items()):
        primary = reference == next(c for c in cases if c.fmt == fmt).primary
        print(f"{fmt:18} {reference + ('*' if primary else ''):10} {group:18} {pct(b, n):>17} {pct(a, n):>17}")
        for key in ((fmt, reference), ("all primary", "") if primary else None):
            if key:
                t = totals[key]
                t[0] += b
                t[1] += a
                t[2] += n
    print("\nper format and reference, all files (* = primary reference):")
    for (fmt, reference), (b, a, n) in sorted(totals.items()):
        print(f"{fmt:18} {reference:10} {'':18} {pct(b, n):>17} {pct(a, n):>17}")
    print("\nsniffed to its format (manifest names none):")
    for fmt, (b, a, n) in sorted(sniffed.items()):
        print(f"{fmt:18} {'':10} {'':18} {pct(b, n):>17} {pct(a, n):>17}")


if __name__ == "__main__":
    main()
