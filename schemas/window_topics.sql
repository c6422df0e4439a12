-- layer: gold
-- key: video_id, window_idx
-- Topic of every window.
CREATE TABLE IF NOT EXISTS transcripts.window_topics (
  video_id     STRING NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  window_idx   INT    NOT NULL COMMENT 'Window (transcripts.windows.window_idx).',
  topic_id     INT    NOT NULL COMMENT 'Topic (transcripts.topics.topic_id); -1 = outlier.',
  probability  DOUBLE          COMMENT 'Cosine similarity of the window embedding to the topic embedding.',
  assigned_by  STRING NOT NULL COMMENT 'fit (window was in the fitted sample) or transform (assigned by the saved model in a Spark worker).',
  run_id       STRING NOT NULL COMMENT 'topic_runs.run_id.'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Gold: window -> topic assignments.'
