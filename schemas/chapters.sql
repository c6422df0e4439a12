-- layer: silver
-- key: video_id, chapter_idx
-- Authors' own table of contents, parsed from descriptions ("00:00 Intro 02:05 Paper overview ...").
CREATE TABLE IF NOT EXISTS transcripts.chapters (
  video_id     STRING NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  chapter_idx  INT    NOT NULL COMMENT '0-based chapter position.',
  start_s      DOUBLE NOT NULL COMMENT 'Chapter start, seconds.',
  end_s        DOUBLE          COMMENT 'Next chapter start, or the video duration for the last chapter.',
  title        STRING NOT NULL COMMENT 'Chapter title as written by the author.'
) USING DELTA
COMMENT 'Silver: chapters parsed from video descriptions.'
