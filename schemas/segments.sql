-- layer: silver
-- key: video_id, seg_idx
-- The exploded transcript: one row per timed text fragment (3-5 s typically).
-- Clustered by video_id so per-video reads skip other files. Replaced per video (replaceWhere).
CREATE TABLE IF NOT EXISTS transcripts.segments (
  video_id  STRING NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  seg_idx   INT    NOT NULL COMMENT '0-based position in time order within the video. (video_id, seg_idx) is the key.',
  start_s   DOUBLE NOT NULL COMMENT 'Start, seconds from the beginning of the video.',
  end_s     DOUBLE NOT NULL COMMENT 'End, seconds (clipped to the next start where segments overlapped).',
  text      STRING NOT NULL COMMENT 'Spoken text, whitespace-normalised.',
  n_words   INT    NOT NULL COMMENT 'Whitespace-separated words in text.'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Silver: validated, time-ordered transcript segments.'
