-- layer: silver
-- key: video_id
-- One row per video. Written by stage `segments` (MERGE on video_id).
CREATE TABLE IF NOT EXISTS transcripts.videos (
  video_id        STRING    NOT NULL COMMENT 'Primary key: YouTube id when known, else from the manifest or the file name.',
  title           STRING             COMMENT 'Video title.',
  channel         STRING             COMMENT 'Channel name.',
  url             STRING             COMMENT 'Video URL (https://www.youtube.com/watch?v=<id> for YouTube videos).',
  description     STRING             COMMENT 'Description as published (chapters are parsed into transcripts.chapters).',
  source_format   STRING             COMMENT 'Adapter that parsed the transcript.',
  source_path     STRING             COMMENT 'Input file of the transcript.',
  content_sha256  STRING    NOT NULL COMMENT 'SHA-256 of the video record (metadata + raw segments): a change rebuilds its segments.',
  duration_s      DOUBLE             COMMENT 'End of the last valid segment, in seconds.',
  n_segments      INT                COMMENT 'Rows of this video in transcripts.segments.',
  published_at    TIMESTAMP          COMMENT 'Publish time when known (null for the bundled corpus: no dates in the files).',
  upload_rank     INT                COMMENT '1 = oldest. Ordered by published_at when known (dated videos first); else by manifest source order, then listing order inside a file (hf_viewer lists newest first).',
  ingested_at     TIMESTAMP          COMMENT 'When this version of the video was built (UTC).'
) USING DELTA
COMMENT 'Silver: one row per video with its metadata and upload order.'
