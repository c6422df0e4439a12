-- layer: bronze
-- key: source_path, record_idx
-- Records exactly as parsed from the input files: one row per video (its segments nested, not yet
-- validated) or per comment. Replaced per source_path when a file changes (replaceWhere).
CREATE TABLE IF NOT EXISTS transcripts.raw_records (
  source_path    STRING  NOT NULL COMMENT 'Input file the record came from (see source_files.source_path).',
  source_sha256  STRING  NOT NULL COMMENT 'SHA-256 of that file when parsed.',
  source_format  STRING  NOT NULL COMMENT 'Adapter that parsed it.',
  source_order   INT     NOT NULL COMMENT 'Position of the source in the manifest (then --input order): breaks upload-order ties between undated sources.',
  record_kind    STRING  NOT NULL COMMENT '`video` or `comment`.',
  record_idx     INT     NOT NULL COMMENT '0-based position of the record in its file.',
  record_ref     STRING  NOT NULL COMMENT 'Human locator inside the file, e.g. `line 24`.',
  listing        STRING           COMMENT 'Order of videos in a multi-video file: newest_first or oldest_first.',
  video_id       STRING           COMMENT 'Video id (YouTube id when known, else from the manifest or the file name). Null for comments of an unknown video.',
  title          STRING           COMMENT 'Video title.',
  channel        STRING           COMMENT 'Channel name.',
  url            STRING           COMMENT 'Video URL.',
  description    STRING           COMMENT 'Video description as published.',
  published_at   TIMESTAMP        COMMENT 'Publish time when the source or manifest knows it.',
  segments       ARRAY<STRUCT<start_s: DOUBLE, end_s: DOUBLE, text: STRING>> COMMENT 'Timed text of a video, in file order, unvalidated.',
  comment_text   STRING           COMMENT 'Comment text (comments only).',
  is_reply       BOOLEAN          COMMENT 'Comment is a reply (starts with @@handle).',
  reply_to       STRING           COMMENT 'Handle the reply answers.',
  cited_s        ARRAY<DOUBLE>    COMMENT 'Positions in the video the comment cites (m:ss / h:mm:ss), in seconds.',
  extra          MAP<STRING, STRING> COMMENT 'Columns the source has beyond the ones the pipeline knows (e.g. a new VIEW_COUNT column of a dataset export), by lower-case name: kept, not dropped. Added to older lakes automatically.',
  ingested_at    TIMESTAMP        COMMENT 'When the record was parsed (UTC).'
) USING DELTA
CLUSTER BY (source_path)
COMMENT 'Bronze: parsed records per input file, before validation.'
