-- layer: gold
-- key: concept, video_id, bucket_start_s
-- Where each concept is spoken: per concept, video and time bucket (timelines.bucket_seconds, default 60 s).
-- Title mentions carry no time and are left out. Keyphrases count in the bucket of the concept's first
-- mention in their window.
CREATE TABLE IF NOT EXISTS transcripts.concept_timeline (
  concept          STRING NOT NULL COMMENT 'Canonical concept (transcripts.concepts.concept); find one by any alias via transcripts.concept_lookup.',
  video_id         STRING NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  upload_rank      INT             COMMENT 'videos.upload_rank (1 = oldest).',
  bucket_start_s   DOUBLE NOT NULL COMMENT 'Bucket start, seconds into the video (a multiple of the bucket size).',
  bucket_end_s     DOUBLE NOT NULL COMMENT 'Bucket end, seconds (bucket_start_s + bucket size).',
  mentions         BIGINT NOT NULL COMMENT 'Spoken mentions of the concept (any alias) in the bucket.',
  keyphrase_score  DOUBLE NOT NULL COMMENT 'Sum of KeyBERT scores of the concept picked as a window keyphrase in the bucket (0 when never picked).',
  first_mention_s  DOUBLE NOT NULL COMMENT 'Second of the first mention in the bucket.',
  url              STRING          COMMENT 'https://www.youtube.com/watch?v=<id>&t=<s>s opening the video at first_mention_s; null when the video has no YouTube id.'
) USING DELTA
CLUSTER BY (concept)
COMMENT 'Gold: concept mentions per video and minute, with links into the video.'
