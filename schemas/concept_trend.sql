-- layer: gold
-- key: concept, video_id
-- Each concept along its channel's upload order: one row per video of the channel that mentions it, with
-- the concept's trend repeated on every row. The trend compares the mean share of the channel's most
-- recent videos (timelines.trend.recent_videos, at most a third of the channel) with the earlier ones.
CREATE TABLE IF NOT EXISTS transcripts.concept_trend (
  concept            STRING NOT NULL COMMENT 'Canonical concept (transcripts.concepts.concept).',
  channel            STRING NOT NULL COMMENT 'videos.channel (unknown when not given).',
  video_id           STRING NOT NULL COMMENT 'Video of the channel mentioning the concept.',
  upload_rank        INT             COMMENT 'videos.upload_rank (1 = oldest, whole corpus).',
  channel_rank       INT    NOT NULL COMMENT 'Position of the video in its channel upload order (1 = oldest).',
  mentions           BIGINT NOT NULL COMMENT 'Spoken mentions in the video.',
  share              DOUBLE NOT NULL COMMENT 'mentions / all spoken mentions of the video.',
  cumulative_videos  BIGINT NOT NULL COMMENT 'Videos of the channel that mentioned the concept up to and including this one.',
  first_seen_rank    INT    NOT NULL COMMENT 'channel_rank of the first video mentioning the concept.',
  n_videos           BIGINT NOT NULL COMMENT 'Videos of the channel mentioning the concept.',
  trend_score        DOUBLE          COMMENT 'log2((mean share in recent videos + 1e-4) / (mean share in earlier videos + 1e-4)); > 0 rising. Null when the channel has under 3 videos.',
  trend              STRING NOT NULL COMMENT 'emerging | fading | steady | one_off (a single video) | too_few_videos (channel under 3 videos).'
) USING DELTA
COMMENT 'Gold: concept share per video along each channel, cumulative reach, first appearance, emerging / fading flags.'
