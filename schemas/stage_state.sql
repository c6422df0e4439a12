-- layer: ops
-- key: stage, video_id
-- Per-video progress marker of the stages after `segments`: a video is done in a stage when its row
-- holds the hash of that stage's inputs + settings. Written last (MERGE), so a crash before it makes
-- the next run redo exactly that video.
CREATE TABLE IF NOT EXISTS transcripts.stage_state (
  stage       STRING    NOT NULL COMMENT 'Stage name (windows, terms, ...).',
  video_id    STRING    NOT NULL COMMENT 'Video the marker is for.',
  input_hash  STRING    NOT NULL COMMENT 'SHA-256 of the upstream hash of the video + the stage settings, when it was built.',
  settings    STRING             COMMENT 'The stage settings (JSON) that produced the rows: which config made them.',
  updated_at  TIMESTAMP          COMMENT 'When the video was last rebuilt by the stage (UTC).'
) USING DELTA
COMMENT 'Ops: per stage and video, the input hash the current rows were built from.'
