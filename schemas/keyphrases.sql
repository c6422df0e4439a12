-- layer: silver
-- key: video_id, window_idx, rank
-- KeyBERT's top phrases per window, chosen among the window's own spaCy phrases (MMR diversity).
CREATE TABLE IF NOT EXISTS transcripts.keyphrases (
  video_id    STRING NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  window_idx  INT    NOT NULL COMMENT 'Window (transcripts.windows.window_idx).',
  start_s     DOUBLE NOT NULL COMMENT 'Window start, seconds.',
  end_s       DOUBLE NOT NULL COMMENT 'Window end, seconds.',
  phrase      STRING NOT NULL COMMENT 'Keyphrase as KeyBERT scored it (lower case).',
  concept     STRING NOT NULL COMMENT 'Concept key of the phrase (its most frequent key in the window).',
  score       DOUBLE NOT NULL COMMENT 'KeyBERT score (cosine similarity to the window, after MMR).',
  rank        INT    NOT NULL COMMENT '1 = best phrase of the window.'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Silver: KeyBERT keyphrases per window.'
