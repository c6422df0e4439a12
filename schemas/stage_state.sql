-- layer: ops
-- key: stage, video_id
-- Change detection, the one mechanism every stage uses (transcript_lake/incremental.py). Per stage, one
-- row with video_id = '*' holds the stage's fingerprint (input table versions, settings hash, non-table
-- inputs, output versions when it finished): equal to now -> the stage is skipped. Per-video stages also
-- hold one row per video: a video is done when its input_hash = sha256(upstream hash | settings hash).
-- Written last (one MERGE by the orchestrator), so a crash before it makes the next run redo exactly that work.
CREATE TABLE IF NOT EXISTS transcripts.stage_state (
  stage       STRING    NOT NULL COMMENT 'Stage name (windows, terms, ...).',
  video_id    STRING    NOT NULL COMMENT 'Video the marker is for, or * for the stage fingerprint.',
  input_hash  STRING    NOT NULL COMMENT 'Per video: SHA-256 of the upstream hash of the video + the stage settings hash; for *: SHA-256 of the fingerprint.',
  settings    STRING             COMMENT 'Per video: the stage output settings (JSON) that produced the rows; for *: the fingerprint (JSON).',
  updated_at  TIMESTAMP          COMMENT 'When the video was last rebuilt by the stage (UTC).'
) USING DELTA
COMMENT 'Ops: per stage, its fingerprint; per stage and video, the input hash the current rows were built from.'
