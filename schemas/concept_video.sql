-- layer: gold
-- key: concept, video_id
-- One row per concept and video it is spoken in: how much, where, and how characteristic of the video.
CREATE TABLE IF NOT EXISTS transcripts.concept_video (
  concept          STRING NOT NULL COMMENT 'Canonical concept (transcripts.concepts.concept).',
  video_id         STRING NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  upload_rank      INT             COMMENT 'videos.upload_rank (1 = oldest).',
  mentions         BIGINT NOT NULL COMMENT 'Spoken mentions in the video.',
  keyphrases       BIGINT NOT NULL COMMENT 'Windows of the video where KeyBERT picked the concept.',
  first_mention_s  DOUBLE NOT NULL COMMENT 'Second of the first mention.',
  last_mention_s   DOUBLE NOT NULL COMMENT 'Second of the last mention.',
  minutes_covered  DOUBLE NOT NULL COMMENT 'Minutes of the video with at least one mention (buckets with mentions x bucket size / 60).',
  tfidf            DOUBLE NOT NULL COMMENT 'mentions / all spoken mentions of the video x ln(videos / videos mentioning the concept); 0 for a concept in every video.',
  rank_in_video    INT    NOT NULL COMMENT '1 = the most characteristic concept of the video (tfidf, then mentions).'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Gold: per concept and video, mentions, first/last second, coverage and tf-idf rank.'
