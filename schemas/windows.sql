-- layer: silver
-- key: video_id, window_idx
-- NLP documents: contiguous runs of segments of one video (~60 s / ~150 words by default, never
-- crossing a chapter boundary). What spaCy, KeyBERT and BERTopic see.
CREATE TABLE IF NOT EXISTS transcripts.windows (
  video_id      STRING        NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  window_idx    INT           NOT NULL COMMENT '0-based window position in the video. (video_id, window_idx) is the key.',
  start_s       DOUBLE        NOT NULL COMMENT 'Start of the first segment, seconds.',
  end_s         DOUBLE        NOT NULL COMMENT 'End of the last segment, seconds.',
  seg_from      INT           NOT NULL COMMENT 'First segment (segments.seg_idx), inclusive.',
  seg_to        INT           NOT NULL COMMENT 'Last segment (segments.seg_idx), inclusive.',
  chapter_idx   INT                    COMMENT 'Chapter the window lies in (chapters.chapter_idx), null if the video has none.',
  text          STRING        NOT NULL COMMENT 'Segment texts joined by single spaces.',
  n_words       INT           NOT NULL COMMENT 'Words in text.',
  seg_offsets   ARRAY<INT>    NOT NULL COMMENT 'Character offset in text where each segment seg_from..seg_to starts: maps an NLP offset back to its segment.'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Silver: transcript windows per video, sized by config, aligned to chapters.'
