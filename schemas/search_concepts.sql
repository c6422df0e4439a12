-- layer: gold
-- key: video_id, window_idx, concept
-- Search index, concept postings: every concept key spoken in a window (as found in mentions, before
-- alias merges), with its mentions and KeyBERT salience. Queries resolve their words through
-- concept_lookup / concept_aliases at query time, so improved aliases need no re-index.
CREATE TABLE IF NOT EXISTS transcripts.search_concepts (
  video_id        STRING NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  window_idx      INT    NOT NULL COMMENT 'Window (transcripts.search_windows.window_idx).',
  concept         STRING NOT NULL COMMENT 'Concept key as spoken (transcripts.mentions.concept); map it with transcripts.concept_aliases.',
  mentions        INT    NOT NULL COMMENT 'Mentions of this key in the window.',
  first_seg_idx   INT    NOT NULL COMMENT 'Segment of its first mention in the window (transcripts.segments.seg_idx).',
  salience        DOUBLE NOT NULL COMMENT 'Highest KeyBERT score of the key among the keyphrases of the window (0 when not a keyphrase).'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Gold: search index concept postings per window (concept keys as spoken).'
