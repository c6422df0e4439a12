-- layer: silver
-- key: video_id, window_idx, char_start, concept
-- Every concept spoken: spaCy entities and noun chunks found in windows (and the terms nested in them that the video also says alone), pinned to their segment;
-- plus the concepts of each video title (kind = 'title', no time: filter them out of timelines).
CREATE TABLE IF NOT EXISTS transcripts.mentions (
  video_id    STRING NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  seg_idx     INT             COMMENT 'Segment the mention starts in (transcripts.segments.seg_idx); null for title mentions.',
  start_s     DOUBLE          COMMENT 'Start of that segment, seconds: when it was said; null for title mentions.',
  window_idx  INT             COMMENT 'Window it was found in (transcripts.windows.window_idx); null for title mentions.',
  char_start  INT    NOT NULL COMMENT 'Character offset of the mention in the window text (or the title).',
  surface     STRING NOT NULL COMMENT 'The words as spoken (edges trimmed of determiners, pronouns, stop words).',
  concept     STRING NOT NULL COMMENT 'Normalised key: lemmatised nouns, lower case, hyphen/space variants unified, filler removed. See concept_aliases for merges.',
  phrase      STRING NOT NULL COMMENT 'surface lower-cased with punctuation as spaces: the KeyBERT candidate form.',
  kind        STRING NOT NULL COMMENT 'entity or noun_chunk (spoken); nested: a shorter term inside a longer spoken one that the video also says alone (the stochastic masking loss -> masking loss, the MNIST dataset -> mnist); title (from the video title).',
  label       STRING          COMMENT 'spaCy NER label for entities (ORG, PERSON, PRODUCT, ...), null for noun chunks.'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Silver: timestamped concept mentions from spaCy.'
