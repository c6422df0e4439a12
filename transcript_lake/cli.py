"""Command line: ``transcript-lake <command>`` (the ``jobs/*.py`` files call the same functions).

    transcript-lake run                      # every stage, conf/local.yaml, lake ./lake
    transcript-lake run --from terms         # terms and every stage that depends on it
    transcript-lake run --only topics --full-refresh   # refit topics even though nothing changed
    transcript-lake run --only ingest --input extra/*.srt --lake /tmp/lake
    transcript-lake sql "SELECT count(*) FROM transcripts.segments"          # DuckDB, no JVM
    transcript-lake sql --engine spark "SELECT * FROM transcripts.concept_trends LIMIT 5"
    transcript-lake report --concept diffusion                              # HTML heat strips
    transcript-lake search "how does the KV cache speed up generation"       # moments, linked to the second
    transcript-lake concepts explain ViT                                    # a concept, its aliases and why
    transcript-lake submit jobs/pipeline.py --env local   # spark-submit with Delta and this venv's Python
    transcript-lake submit-args              # spark-submit flags that add Delta (air-gapped aware)

Exit codes: 0 success, 1 a stage failed, 2 configuration / environment error (one line on stderr),
75 another run holds the lake (``--wait SECONDS`` waits for it instead).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from .errors import UserError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default=os.environ.get("TRANSCRIPT_LAKE_ENV", "local"), help="conf/<env>.yaml (default: local)")
    p.add_argument("--lake", help="lake root (overrides lake.root)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override, repeatable")


def build_parser(prog: str = "transcript-lake") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Spark + Delta pipeline for video-transcript corpora.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run pipeline stages")
    _common(run)
    run.add_argument("--only", action="append", metavar="STAGE", help="run only this stage (repeatable)")
    run.add_argument("--from", dest="start", metavar="STAGE", help="run this stage and every stage that depends on it")
    run.add_argument("--full-refresh", action="store_true",
                     help="run the chosen stages even if nothing changed, rebuilding everything they own")
    run.add_argument("--wait", type=float, metavar="SECONDS",
                     help="if another run holds the lake, wait up to this long for it (default: fail at once, exit 75)")
    run.add_argument("--input", action="append", default=[], metavar="PATH_OR_GLOB",
                     help="extra input files (sniffed), repeatable")
    sql = sub.add_parser("sql", help="run a SQL statement against the lake and print the result")
    _common(sql)
    sql.add_argument("statement")
    sql.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                     help="duckdb: embedded, no JVM, local lakes (default); spark: the project's Spark session")
    sql.add_argument("--limit", type=int, default=50, help="rows shown (default 50)")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    report = sub.add_parser("report", help="write a self-contained HTML report for a concept or a video")
    _common(report)
    what = report.add_mutually_exclusive_group(required=True)
    what.add_argument("--concept", help="a concept or any of its aliases (e.g. diffusion)")
    what.add_argument("--video", help="a video id")
    what.add_argument("--search", metavar="QUERY", help="a results page for a question: each moment linked to its second")
    report.add_argument("--out", help="HTML file to write (default <lake>/reports/...)")
    search = sub.add_parser("search", help="find the moments that answer a question, across every video (no JVM)")
    _common(search)
    search.add_argument("query", help="what you are looking for, in your own words (quote it)")
    search.add_argument("--video", metavar="ID", help="only inside this video")
    search.add_argument("--channel", metavar="C", help="only this channel (case-insensitive)")
    search.add_argument("--top", type=int, default=10, metavar="K", help="results to show (default 10)")
    search.add_argument("--format", choices=("table", "json", "csv"), default="table",
                        help="table (default), json (one array of result objects) or csv")
    concepts = sub.add_parser("concepts", help="inspect concepts: how each was formed (no JVM)")
    concepts_sub = concepts.add_subparsers(dest="concepts_command", required=True)
    explain = concepts_sub.add_parser("explain", help="a concept, its aliases and why each was merged")
    _common(explain)
    explain.add_argument("name", help="a concept, any alias or label (typos get suggestions)")
    args = sub.add_parser("submit-args", help="print spark-submit flags that put Delta on the classpath")
    _common(args)
    submit = sub.add_parser("submit", help="spark-submit a job with Delta on the classpath and this environment's Python",
                            description="Builds and runs: <this venv>/bin/spark-submit --master MASTER <Delta flags> "
                                        "[--conf K=V ...] [--py-files F] JOB [JOB ARGS]. PYSPARK_PYTHON and PATH point "
                                        "at this environment, so nothing needs activating.")
    submit.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    submit.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="Spark conf, repeatable")
    submit.add_argument("--py-files", metavar="FILES", help="passed to spark-submit (e.g. the wheel of `make dist`)")
    submit.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    submit.add_argument("job", help="the job file, e.g. jobs/pipeline.py")
    submit.add_argument("job_args", nargs=argparse.REMAINDER, help="arguments of the job (e.g. --env local --only ingest)")
    return parser


def load(args):
    from .config import load_config

    overrides = list(args.set)
    if getattr(args, "lake", None):
        overrides.append(f"lake.root={Path(args.lake).expanduser().resolve() if '://' not in args.lake else args.lake}")
    conf = load_config(args.env, overrides)
    if getattr(args, "input", None):
        conf.data.setdefault("inputs", {})["extra"] = list(conf.get("inputs.extra", []) or []) + list(args.input)
    return conf


def cmd_run(args) -> int:
    from . import jvm_archive
    from .lock import lake_lock
    from .pipeline import format_summary, parallel_stages, run_pipeline
    from .registry import get_stage, select_stages
    from .spark import build_spark

    if args.full_refresh:
        args.set = [*args.set, "run.full_refresh=true"]
    if args.wait is not None:
        args.set = [*args.set, f"run.lock_wait_s={args.wait}"]
    conf = load(args)
    chosen = select_stages(args.only, args.start)
    parallel_stages(conf)  # a bad value is one line before any JVM starts, like the stages' own checks
    for name in chosen:  # pre-flight: a missing input or a bad setting is one line, before any JVM starts
        stage = get_stage(name)
        if stage.preflight:
            stage.preflight(conf)
    t0 = time.perf_counter()
    with lake_lock(conf):  # taken before the JVM starts: a second run on the lake fails in a second
        summary = _skip_without_spark(conf, chosen)
        spark = None
        if summary is None:
            # Stages address tables by path; names are registered as tables are touched and at the end of
            # a run that changed something, so a run does not pay for registering every table first.
            spark = build_spark(conf, register=False)
            summary = run_pipeline(spark, conf, chosen, register=False)  # the session ends with the run
            jvm_archive.save(spark)  # the first run on this Java + Spark leaves the class archive for the next
        summary.seconds = time.perf_counter() - t0  # JVM start included: what the user waited
        print(format_summary(spark, summary))
    return 0


def _skip_without_spark(conf, chosen):
    """When the Delta logs and the recorded fingerprints show that no chosen stage has anything to do
    (a local lake), record the skipped run JVM-free and return its summary; else None (Spark runs)."""
    from .lake import is_remote, lake_root, local_table_dir
    from .pipeline import plan_pipeline, record_skipped_run

    if is_remote(lake_root(conf)) or not (local_table_dir(conf, "pipeline_runs") / "_delta_log").is_dir():
        return None
    planned = plan_pipeline(None, conf, chosen)
    if any(plan.run for _, _, plan in planned.values()):
        return None
    return record_skipped_run(conf, planned)


def cmd_sql(args) -> int:
    conf = load(args)
    if args.engine == "spark":
        from .spark import build_spark

        frame = build_spark(conf).sql(args.statement).limit(args.limit).toPandas()
    else:
        from .sql import duckdb_connect

        con = duckdb_connect(conf)
        try:
            rel = con.sql(args.statement)
        except Exception as exc:  # duckdb.Error: one line, like every other user error
            raise UserError(str(exc).strip().splitlines()[0]) from exc
        if rel is None:  # a statement without a result (CREATE ..., SET ...)
            return 0
        frame = rel.limit(args.limit).df()
    if args.format == "csv":
        print(frame.to_csv(index=False), end="")
    elif args.format == "json":
        print(frame.to_json(orient="records", date_format="iso"))
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", args.limit, "display.max_columns", None, "display.width", 200,
                               "display.max_colwidth", 80):
            print(frame.to_string(index=False) if len(frame) else "(no rows)")
    return 0


def cmd_report(args) -> int:
    from .report import write_concept_report, write_search_report, write_video_report

    conf = load(args)
    if args.search is not None:
        path = write_search_report(conf, args.search, args.out)
    elif args.concept:
        path = write_concept_report(conf, args.concept, args.out)
    else:
        path = write_video_report(conf, args.video, args.out)
    print(path)
    return 0


def cmd_search(args) -> int:
    from .search import format_results, search

    conf = load(args)
    print(format_results(search(conf, args.query, args.video, args.channel, args.top), args.format))
    return 0


def cmd_concepts(args) -> int:
    from .explain import explain_concept

    print(explain_concept(load(args), args.name))
    return 0


def submit_command(args) -> tuple[list[str], dict]:
    """The spark-submit command line and environment ``transcript-lake submit`` runs."""
    from .config import load_config
    from .spark import delta_submit_args

    job_args = list(args.job_args or [])
    env_name = job_args[job_args.index("--env") + 1] if "--env" in job_args[:-1] else os.environ.get("TRANSCRIPT_LAKE_ENV", "local")
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / "spark-submit"), "--master", args.master, *delta_submit_args(load_config(env_name))]
    for kv in args.conf:
        cmd += ["--conf", kv]
    if args.py_files:
        cmd += ["--py-files", args.py_files]
    cmd += [args.job, *job_args]
    # spark-submit's launcher finds Spark with `python3` from PATH, and the driver and workers run
    # PYSPARK_PYTHON: both must be this environment, whatever the calling shell has activated.
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    checkout = Path(args.job).resolve().parent.parent
    if (checkout / "transcript_lake").is_dir():  # a job of a checkout: its Python workers import that code
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(checkout), env.get("PYTHONPATH")) if p)
    return cmd, env


def cmd_submit(args) -> int:
    import shlex
    import subprocess

    cmd, env = submit_command(args)
    if args.dry_run:
        print(shlex.join(cmd))
        return 0
    return subprocess.call(cmd, env=env)


def cmd_submit_args(args) -> int:
    from .spark import delta_submit_args

    print(" ".join(delta_submit_args(load(args))))
    return 0


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("py4j").setLevel(logging.WARNING)


def stage_job(job_file: str, argv: Sequence[str]) -> None:
    """``jobs/<stage>.py``: run that one stage (the file name names it), then exit with its code."""
    stage = Path(job_file).stem
    entry(["run", "--only", stage, *argv], prog=f"jobs/{stage}.py")


def main(argv: Sequence[str] | None = None, prog: str = "transcript-lake") -> int:
    setup_logging()
    args = build_parser(prog).parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "sql":
            return cmd_sql(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "submit":
            return cmd_submit(args)
        if args.command == "search":
            return cmd_search(args)
        if args.command == "concepts":
            return cmd_concepts(args)
        return cmd_submit_args(args)
    except UserError as exc:
        from .lock import EXIT_LOCKED, LakeLocked

        print(f"error: {exc}", file=sys.stderr)
        return EXIT_LOCKED if isinstance(exc, LakeLocked) else 2
    except Exception as exc:  # Spark errors: one readable line, the trace only with TRANSCRIPT_LAKE_DEBUG=1
        if os.environ.get("TRANSCRIPT_LAKE_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {type(exc).__name__}: {first} (set TRANSCRIPT_LAKE_DEBUG=1 for the full trace)", file=sys.stderr)
        return 1


def entry(argv: Sequence[str] | None = None, prog: str = "transcript-lake") -> None:
    """The process entry point (the ``transcript-lake`` command and ``jobs/*.py``): :func:`main`, then
    an immediate exit with its code. Why not ``sys.exit``: Arrow's thread pools (used by the JVM-free
    Delta reads) can abort the interpreter's teardown with "terminate called without an active
    exception" (exit 134) after all work is done (apache/arrow#34314, delta-io/delta-rs#2184). Every
    lock, table and log is closed by then; only native destructors are skipped."""
    code = main(argv, prog)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
