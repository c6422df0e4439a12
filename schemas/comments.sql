-- layer: silver
-- key: source_path, comment_id
-- Viewer comments, duplicates removed. Replaced per source file.
CREATE TABLE IF NOT EXISTS transcripts.comments (
  comment_id     STRING  NOT NULL COMMENT 'SHA-256 (first 16 hex) of video_id/source + normalised text: identical comments collapse.',
  video_id       STRING           COMMENT 'Video commented on; null when the source does not say.',
  text           STRING  NOT NULL COMMENT 'Comment text.',
  is_reply       BOOLEAN NOT NULL COMMENT 'True for replies (@@handle ...).',
  reply_to       STRING           COMMENT 'Handle the reply answers, without @@.',
  cited_s        ARRAY<DOUBLE>    COMMENT 'Positions in the video the comment cites, seconds (e.g. "at 7:06" -> 426).',
  n_copies       INT     NOT NULL COMMENT 'How many times the comment appeared in the source (duplicates removed).',
  source_path    STRING  NOT NULL COMMENT 'Input file.',
  source_sha256  STRING  NOT NULL COMMENT 'SHA-256 of that file.',
  first_line     INT     NOT NULL COMMENT '0-based record position of the first copy in the file.'
) USING DELTA
COMMENT 'Silver: de-duplicated viewer comments with cited video positions.'
