-- layer: silver
-- key: video_id, window_idx, model
-- One sentence-transformers vector per window; the topics stage reuses them (never re-embeds). A vector is
-- a function of the window's text and the lake's encoding only, so when a video is processed again (a
-- terms setting changed, its windows were rebuilt) a window whose text_sha256 and model are unchanged keeps
-- its vector, and a video whose windows all kept theirs is not rewritten.
CREATE TABLE IF NOT EXISTS transcripts.window_embeddings (
  video_id    STRING       NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  window_idx  INT          NOT NULL COMMENT 'Window (transcripts.windows.window_idx).',
  model       STRING       NOT NULL COMMENT 'Encoding that produced the vector (transcripts.encodings.key).',
  text_sha256 STRING                COMMENT 'SHA-256 (hex) of the window text the vector was made from; null in rows written before the column existed (those are kept while their video has the windows its last terms run read).',
  vector      ARRAY<FLOAT> NOT NULL COMMENT 'L2-normalised embedding of the window text.'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Silver: window embeddings, keyed by video, window and model.'
