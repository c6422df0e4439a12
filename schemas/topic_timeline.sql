-- layer: gold
-- key: topic_id, video_id
-- Each topic traced across the channel: per topic and video, how much of the video it takes.
CREATE TABLE IF NOT EXISTS transcripts.topic_timeline (
  topic_id     INT    NOT NULL COMMENT 'Topic (transcripts.topics.topic_id).',
  video_id     STRING NOT NULL COMMENT 'Video.',
  upload_rank  INT             COMMENT 'videos.upload_rank (1 = oldest): the time axis.',
  n_windows    BIGINT NOT NULL COMMENT 'Windows of the video in the topic.',
  share        DOUBLE NOT NULL COMMENT 'n_windows / windows of the video.',
  minutes      DOUBLE NOT NULL COMMENT 'Minutes of the video those windows span.',
  run_id       STRING NOT NULL COMMENT 'topic_runs.run_id.'
) USING DELTA
COMMENT 'Gold: topic share per video, in upload order.'
