-- layer: gold
-- key: concept
-- One row per concept after near-duplicate keys were merged (see concept_aliases for every merge).
CREATE TABLE IF NOT EXISTS transcripts.concepts (
  concept            STRING NOT NULL COMMENT 'Canonical concept key (the most mentioned key of its merge group).',
  label              STRING NOT NULL COMMENT 'Display label: the most frequent surface form over all its aliases.',
  aliases            ARRAY<STRUCT<alias: STRING, rule: STRING, similarity: DOUBLE, n_mentions: BIGINT>> COMMENT 'Keys merged into this concept, why (variant | generic_head | embedding) and how close their embeddings are.',
  n_mentions         BIGINT NOT NULL COMMENT 'Mentions of the concept and its aliases.',
  n_keyphrases       BIGINT NOT NULL COMMENT 'Times KeyBERT picked it as a window keyphrase.',
  n_videos           BIGINT NOT NULL COMMENT 'Videos that mention it.',
  first_video_id     STRING NOT NULL COMMENT 'Earliest upload (lowest videos.upload_rank) that mentions it.',
  first_upload_rank  INT    NOT NULL COMMENT 'upload_rank of that video.'
) USING DELTA
COMMENT 'Gold: the concept dimension, with explainable merges of near-duplicate keys.'
