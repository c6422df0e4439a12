-- layer: gold
-- key: topic_id, upload_rank
-- BERTopic topics_over_time with upload_rank as the time axis: the words of a topic as the channel goes on.
CREATE TABLE IF NOT EXISTS transcripts.topics_over_time (
  topic_id     INT    NOT NULL COMMENT 'Topic.',
  upload_rank  DOUBLE NOT NULL COMMENT 'Time bin (upload_rank of the videos in the bin; BERTopic bins ranks).',
  words        STRING NOT NULL COMMENT 'Topic words in that bin (BERTopic, evolution-tuned).',
  frequency    BIGINT NOT NULL COMMENT 'Windows of the topic in that bin.',
  run_id       STRING NOT NULL COMMENT 'topic_runs.run_id.'
) USING DELTA
COMMENT 'Gold: BERTopic topics over time along upload order.'
