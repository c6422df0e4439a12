-- layer: silver
-- key: video_id, window_idx, model
-- One sentence-transformers vector per window; the topics stage reuses them (never re-embeds).
CREATE TABLE IF NOT EXISTS transcripts.window_embeddings (
  video_id    STRING       NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  window_idx  INT          NOT NULL COMMENT 'Window (transcripts.windows.window_idx).',
  model       STRING       NOT NULL COMMENT 'nlp.embedding_model that produced the vector.',
  vector      ARRAY<FLOAT> NOT NULL COMMENT 'L2-normalised embedding of the window text.'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Silver: window embeddings, keyed by video, window and model.'
