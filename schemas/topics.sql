-- layer: gold
-- key: topic_id
-- The topics of the current topic run (see topic_runs), one row each; -1 is the outlier topic.
CREATE TABLE IF NOT EXISTS transcripts.topics (
  topic_id                INT    NOT NULL COMMENT 'BERTopic topic id; -1 = outliers.',
  label                   STRING NOT NULL COMMENT 'Readable label: the top 4 words joined by " / ".',
  top_terms               ARRAY<STRUCT<term: STRING, weight: DOUBLE>> NOT NULL COMMENT 'Top words with their c-TF-IDF weight.',
  size                    BIGINT NOT NULL COMMENT 'Windows assigned to the topic (all windows, not only the fitted sample).',
  representative_windows  ARRAY<STRUCT<video_id: STRING, window_idx: INT, text: STRING>> COMMENT 'Windows closest to the topic (BERTopic representative docs).',
  run_id                  STRING NOT NULL COMMENT 'topic_runs.run_id that produced it.'
) USING DELTA
COMMENT 'Gold: topics found by BERTopic over transcript windows.'
