-- layer: bronze
-- key: source_path
-- One row per input file the ingest stage has parsed: the ledger that makes re-runs no-ops.
-- Written by stage `ingest` (MERGE on source_path) after the file's records are committed.
CREATE TABLE IF NOT EXISTS transcripts.source_files (
  source_path        STRING    NOT NULL COMMENT 'Input file, relative to the project root when inside it, else absolute or a URI. Natural key.',
  content_sha256     STRING    NOT NULL COMMENT 'SHA-256 of the file bytes when it was parsed.',
  fingerprint        STRING    NOT NULL COMMENT 'SHA-256 of content_sha256 + format + manifest metadata: a change of any re-parses the file.',
  source_format      STRING             COMMENT 'Adapter used (hf_viewer, rolling_captions, whisper_cpp, comments, srt, webvtt, whisper_json, yt_transcript_api); null if unknown.',
  format_detected_by STRING             COMMENT '`manifest` when the manifest named the format, `sniff` when detected from content.',
  size_bytes         BIGINT             COMMENT 'File size in bytes.',
  n_videos           INT                COMMENT 'Video records parsed from the file.',
  n_comments         INT                COMMENT 'Comment records parsed from the file.',
  n_problems         INT                COMMENT 'Rows this file sent to transcripts.quarantine at ingest.',
  ingested_at        TIMESTAMP          COMMENT 'When this version of the file was parsed (UTC).'
) USING DELTA
COMMENT 'Bronze ledger of parsed input files, keyed by path, with content hashes.'
