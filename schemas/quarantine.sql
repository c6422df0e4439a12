-- layer: ops
-- key: none (an audit log: one input may raise the same problem more than once, e.g. two identical bad segments)
-- Every input problem, with a precise reason. Nothing bad is dropped silently: it is here.
-- action: dropped (not loaded), repaired (loaded after a documented fix), flagged (loaded as is, worth a look).
CREATE TABLE IF NOT EXISTS transcripts.quarantine (
  source_path  STRING    NOT NULL COMMENT 'Input file (or the path given) the problem came from.',
  record_ref   STRING             COMMENT 'Where in the file: line, record or segment number.',
  stage        STRING    NOT NULL COMMENT 'Stage that found it (ingest, segments, ...).',
  video_id     STRING             COMMENT 'Video concerned, when known.',
  reason       STRING    NOT NULL COMMENT 'Machine-readable code, a colon, then the detail, e.g. `reversed_timestamps: end 3.0 < start 5.0`.',
  action       STRING    NOT NULL COMMENT 'dropped | repaired | flagged.',
  raw_excerpt  STRING             COMMENT 'The offending input, truncated to ingest.excerpt_chars.',
  seen_at      TIMESTAMP          COMMENT 'When the problem was recorded (UTC).'
) USING DELTA
COMMENT 'Bad or suspicious input with reasons; one place to audit what was not loaded as-is.'
