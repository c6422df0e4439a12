"""Stage ``ingest`` (bronze): input files -> ``raw_records`` + ``source_files`` (+ ``quarantine``).

1. Discover files (manifest + ``inputs.extra``), hash them on the driver (streaming, no content kept).
2. Skip every file whose fingerprint (content hash + format + manifest metadata) is already in
   ``source_files``: an unchanged corpus costs a directory listing and a hash per file, no Spark job.
3. Parse the changed files inside Spark (``mapInArrow``: one task per file, adapters are pure Python)
   into video/comment/problem rows; re-hash the bytes read so a file that changed while being read
   is quarantined and retried next run instead of half-loaded.
4. Commit per table, each one atomic: ``raw_records`` and ``quarantine`` rows of those files are
   replaced (``replaceWhere source_path IN (...)``), then ``source_files`` is merged. A crash before
   the last commit leaves the files unmarked, so the next run re-parses them and replaces the same rows.

A file is identified by its content first: the same bytes (and format, manifest metadata) seen under
another path (a moved checkout, an absolute instead of a relative manifest path) are the source already
parsed, not a new one; only a path whose content changed, or new content, is parsed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from functools import lru_cache
from typing import Iterator

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ..config import Config
from ..formats import format_counts
from ..schemas import table_specs
from ..sources import SourceFile, discover
from ..sqltext import in_list, sql_string
from ..stage import Settings, Stage, StageContext, file_digest, stable_json
from ..tables import merge_by_key, merge_rows, read_table, replace_where

NAME = "ingest"
log = logging.getLogger("transcript_lake")


@lru_cache(maxsize=1)
def parsed_schema() -> pa.Schema:
    """What a worker returns per input file: raw records, plus the quarantine columns for problems
    (all columns from ``schemas/``)."""
    specs = table_specs()
    return pa.schema([*specs["raw_records"].arrow_schema(exclude=["ingested_at"]),
                      *specs["source_files"].arrow_schema(["format_detected_by"]),
                      *specs["quarantine"].arrow_schema(["reason", "action", "raw_excerpt"])])


def settings(conf: Config) -> Settings:
    return Settings(output={"excerpt_chars": int(conf.get("ingest.excerpt_chars")),
                            "max_file_mb": float(conf.get("ingest.max_file_mb")),
                            "max_line_mb": float(conf.get("ingest.max_line_mb")),
                            "words_per_second": float(conf.get("segments.words_per_second"))})


def sources_fingerprint(conf: Config) -> str:
    """The manifest's content plus path, size and mtime of every input file ``ingest`` would read (cheap:
    no content hashing; when it differs the stage runs and compares content hashes per file)."""
    stats = []
    for src in discover(conf, conf.get("inputs.extra", []) or [], hash_files=False):
        try:
            st = src.path.stat()
            stats.append((src.source_path, st.st_size, st.st_mtime_ns))
        except OSError as exc:
            stats.append((src.source_path, -1, str(exc)))
    manifest = file_digest(conf.path("inputs.manifest"))
    return hashlib.sha256(stable_json({"manifest": manifest, "files": stats}).encode()).hexdigest()[:16]


SOURCE_COLUMNS = ["source_path", "abs_path", "sha256", "fmt", "meta_json", "source_order", "excerpt_chars", "words_per_second",
                  "max_line_chars"]


def _published(value, problems: list):
    if value in (None, ""):
        return None
    try:
        ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
    except ValueError:
        problems.append(("metadata", f"bad_published_at: {value!r} is not an ISO date; left null", str(value), "repaired"))
        return None


def parse_source_rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` body: one source descriptor row in, that file's parsed rows out."""
    from ..formats import CommentRecord, Problem, VideoRecord, parse_file
    from ..formats import base as fbase

    for batch in batches:
        for src in batch.to_pylist():
            fbase.EXCERPT_CHARS = src["excerpt_chars"]
            meta = json.loads(src["meta_json"])
            meta["words_per_second"] = src["words_per_second"]
            rows: list[dict] = []
            common = {"source_path": src["source_path"], "source_sha256": src["sha256"], "source_order": src["source_order"],
                      "listing": meta.get("listing", "oldest_first")}
            try:  # streamed: a huge line is skipped unread (line_too_long), never held in memory
                result, read = parse_file(src["abs_path"], meta, src["fmt"], src["max_line_chars"])
                actual = read.sha256
            except OSError as exc:  # vanished or became unreadable since discovery
                result, actual = None, f"unreadable ({exc.strerror or exc})"
            if actual != src["sha256"]:
                rows.append({**common, "record_kind": "problem", "record_idx": 0, "record_ref": "file",
                             "reason": f"file_changed_while_reading: sha256 {src['sha256'][:12]} at discovery, {actual[:40]} when read; re-read next run",
                             "action": "dropped", "raw_excerpt": ""})
                yield pa.RecordBatch.from_pylist(rows, schema=parsed_schema())
                continue
            common.update(source_format=result.format, format_detected_by=result.detected_by)
            for idx, rec in enumerate(result.records):
                row = {**common, "record_idx": idx, "record_ref": rec.record_ref}
                if isinstance(rec, VideoRecord):
                    extra: list = []
                    row.update(record_kind="video", video_id=rec.video_id, title=rec.title, channel=rec.channel,
                               url=rec.url, description=rec.description, published_at=_published(rec.published_at, extra),
                               extra=list(rec.extra.items()) if rec.extra else None,
                               segments=[{"start_s": s.start_s, "end_s": s.end_s, "text": s.text} for s in rec.segments])
                    for ref, reason, raw, action in extra:
                        rows.append({**common, "record_kind": "problem", "record_idx": idx, "record_ref": ref,
                                     "video_id": rec.video_id, "reason": reason, "raw_excerpt": raw, "action": action})
                elif isinstance(rec, CommentRecord):
                    row.update(record_kind="comment", video_id=meta.get("video_id"), comment_text=rec.text,
                               is_reply=rec.is_reply, reply_to=rec.reply_to, cited_s=rec.cited_s)
                elif isinstance(rec, Problem):
                    row.update(record_kind="problem", reason=rec.reason, action=rec.action, raw_excerpt=rec.raw_excerpt)
                rows.append(row)
            if not rows:
                rows.append({**common, "record_kind": "problem", "record_idx": 0, "record_ref": "file",
                             "reason": "empty_file: no records found", "action": "dropped", "raw_excerpt": ""})
            yield pa.RecordBatch.from_pylist(rows, schema=parsed_schema())


def _spark_schema():
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(parsed_schema())


def _unreadable_rows(spark: SparkSession, sources: list[SourceFile]):
    rows = [(s.source_path, s.error or "", "file", "dropped", "") for s in sources]
    return spark.createDataFrame(rows, "source_path string, reason string, record_ref string, action string, raw_excerpt string")


def _plan_files(sources: list[SourceFile], ledger: dict[str, str], reported: set, everything: bool):
    """``(to parse, unreadable to quarantine, moved {old path: new path}, copies)``.

    Content first: a file whose content (+ format, metadata) the ledger holds under a path that is no
    longer an input has *moved* (a moved checkout, a relative instead of an absolute manifest path):
    its rows are re-keyed, nothing is parsed. The same content under two current paths is one source
    (``copies``: the second is not parsed again)."""
    current = {s.source_path for s in sources}
    path_of = {}
    for path, fingerprint in sorted(ledger.items()):
        path_of.setdefault(fingerprint, path)
    parse, rejected, moved, copies = [], [], {}, 0
    for s in sources:
        if s.error:
            if everything or (s.source_path, s.error) not in reported:
                rejected.append(s)
        elif everything:
            parse.append(s)
        elif s.source_path in ledger:
            if ledger[s.source_path] != s.fingerprint:
                parse.append(s)  # this path's content changed
        elif s.fingerprint in path_of:
            old = path_of[s.fingerprint]
            if old not in current and old not in moved:
                moved[old] = s.source_path
            else:
                copies += 1
        else:
            parse.append(s)
    return parse, rejected, moved, copies


def _rekey(spark: SparkSession, conf: Config, moved: dict[str, str]) -> None:
    """Point the rows of moved sources at their new paths (bronze rows and ingest's quarantine rows;
    the ledger last). Idempotent: a crash half-way is finished by the next run, which sees the same move."""
    from delta.tables import DeltaTable

    from ..faults import writing
    from ..tables import ensure_table

    case = "CASE " + " ".join(f"WHEN source_path = {sql_string(o)} THEN {sql_string(n)}" for o, n in moved.items()) + " END"
    old_paths = in_list("source_path", moved)
    for table, extra in (("raw_records", ""), ("quarantine", f" AND stage = '{NAME}'")):
        with writing(table):
            DeltaTable.forPath(spark, ensure_table(spark, conf, table)).update(old_paths + extra, {"source_path": case})
    ledger = read_table(spark, conf, "source_files").filter(old_paths)
    renamed = ledger.withColumn("source_path", F.expr(case))
    merge_by_key(spark, conf, "source_files", renamed, ["source_path"], delete_missing="t." + old_paths)
    log.info("[ingest] %d source(s) seen under a new path, re-keyed: %s", len(moved),
             ", ".join(f"{o} -> {n}" for o, n in list(moved.items())[:3]) + (" ..." if len(moved) > 3 else ""))


def run(ctx: StageContext) -> None:
    spark, conf, result = ctx.spark, ctx.conf, ctx.result
    sources = discover(conf, conf.get("inputs.extra", []) or [])
    ledger = {r["source_path"]: r["fingerprint"] for r in
              read_table(spark, conf, "source_files").select("source_path", "fingerprint").collect()}
    max_bytes = int(float(ctx.settings["max_file_mb"]) * 1024 * 1024)
    for s in sources:
        if not s.error and s.size > max_bytes:
            s.error = f"file_too_large: {s.size / 2**20:.1f} MiB > ingest.max_file_mb={conf.get('ingest.max_file_mb')}"
    # Unreadable inputs (loops, dangling links, paths out of the project, too large) are quarantined
    # once; while the same reason stands they are not rewritten, so a re-run stays a no-op.
    errored = [s.source_path for s in sources if s.error]
    reported = set()
    if errored:
        reported = {(r["source_path"], r["reason"]) for r in read_table(spark, conf, "quarantine")
                    .filter(f"stage = '{NAME}' AND record_ref = 'file' AND " + in_list("source_path", errored))
                    .select("source_path", "reason").collect()}
    readable, rejected, moved, copies = _plan_files(sources, ledger, reported, ctx.full_refresh)
    changed = readable + rejected
    unchanged = len(sources) - len(changed)
    ctx.step("%d file(s): %d new or changed, %d unchanged (%d of them moved, %d copies of another input), %d unreadable",
             len(sources), len(readable), unchanged, len(moved), copies, len(rejected))
    result.add(files=len(sources), files_parsed=len(readable), files_unchanged=unchanged, files_moved=len(moved))
    if moved:
        _rekey(spark, conf, moved)
        result.wrote += ["raw_records", "quarantine", "source_files"]
    if not changed:
        result.add(records=0, quarantined=0)
        return

    descriptors = [(s.source_path, str(s.path), s.sha256, s.fmt, json.dumps(s.meta, sort_keys=True), s.order,
                    int(ctx.settings["excerpt_chars"]), float(ctx.settings["words_per_second"]),
                    int(float(ctx.settings["max_line_mb"]) * 2**20))
                   for s in readable]
    desc_df = spark.createDataFrame(descriptors, "source_path string, abs_path string, sha256 string, fmt string, "
                                    "meta_json string, source_order int, excerpt_chars int, words_per_second double, "
                                    "max_line_chars bigint")
    # One file per task: files parse in parallel, and a huge file never shares a worker's memory.
    parsed = (desc_df.repartition(max(1, len(descriptors)), "source_path")
              .mapInArrow(parse_source_rows, _spark_schema())
              .withColumn("ingested_at", F.current_timestamp())
              .persist())
    counts = {(r["source_path"], r["record_kind"]): r["n"] for r in
              parsed.groupBy("source_path", "record_kind").agg(F.count("*").alias("n")).collect()}
    retry = {r["source_path"] for r in parsed.filter(F.col("reason").startswith("file_changed_while_reading")).select("source_path").distinct().collect()}
    fmt_of = {r["source_path"]: (r["source_format"], r["format_detected_by"]) for r in
              parsed.select("source_path", "source_format", "format_detected_by").distinct().collect()}

    paths = [s.source_path for s in changed]
    raw = parsed.filter(F.col("record_kind").isin("video", "comment"))
    problems = (parsed.filter(F.col("record_kind") == "problem")
                .select("source_path", "record_ref", "video_id", "reason", "action", "raw_excerpt"))
    if rejected:
        problems = problems.unionByName(_unreadable_rows(spark, rejected).withColumn("video_id", F.lit(None).cast("string")))
    problems = problems.withColumn("stage", F.lit(NAME)).withColumn("seen_at", F.current_timestamp())
    # two tables from the same parsed rows: written at once; the ledger only after both committed
    ctx.at_once(lambda: replace_where(spark, conf, "raw_records", raw, in_list("source_path", paths)),
                lambda: replace_where(spark, conf, "quarantine", problems, f"stage = '{NAME}' AND " + in_list("source_path", paths)))
    ctx.step("wrote raw_records and quarantine for %d file(s)", len(paths))

    rows = []
    now = datetime.now(timezone.utc)
    for s in readable:
        if s.source_path in retry:
            continue
        fmt, by = fmt_of.get(s.source_path, (None, None))
        rows.append({"source_path": s.source_path, "content_sha256": s.sha256, "fingerprint": s.fingerprint,
                     "source_format": fmt, "format_detected_by": by, "size_bytes": s.size,
                     "n_videos": counts.get((s.source_path, "video"), 0), "n_comments": counts.get((s.source_path, "comment"), 0),
                     "n_problems": counts.get((s.source_path, "problem"), 0), "ingested_at": now})
    if rows or any(s.source_path in ledger for s in rejected):
        # parsed files recorded; files that became unreadable forgotten, so they are re-read once fixed
        gone = [s.source_path for s in rejected if s.source_path in ledger]
        merge_rows(spark, conf, "source_files", rows, ["source_path"],
                   delete_missing="t." + in_list("source_path", gone) if gone else None)
    parsed.unpersist()
    n_problems = sum(v for (p, k), v in counts.items() if k == "problem") + len(rejected)
    result.add(videos_parsed=sum(v for (p, k), v in counts.items() if k == "video"),
               comments_parsed=sum(v for (p, k), v in counts.items() if k == "comment"),
               quarantined=n_problems, **format_counts(fmt for fmt, _ in fmt_of.values()))
    result.wrote += ["raw_records", "quarantine", "source_files"]


def preflight(conf: Config) -> None:
    """A missing input or a bad manifest is one error line before any JVM starts."""
    discover(conf, conf.get("inputs.extra", []) or [], hash_files=False)


STAGE = Stage(
    name=NAME, run=run, settings=settings, sources=sources_fingerprint, preflight=preflight,
    inputs=(), outputs=("raw_records", "source_files"), writes=("quarantine",),
    doc="Input files -> raw_records (bronze), one task per file; a ledger of parsed files by content.",
)
