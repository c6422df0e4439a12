-- layer: gold
-- key: alias
-- Every concept key seen in mentions, mapped to its canonical concept (itself when not merged).
CREATE TABLE IF NOT EXISTS transcripts.concept_aliases (
  alias       STRING NOT NULL COMMENT 'Concept key as found in mentions.concept / keyphrases.concept. Primary key.',
  concept     STRING NOT NULL COMMENT 'Canonical concept (transcripts.concepts.concept).',
  rule        STRING NOT NULL COMMENT 'self | variant (plural / spacing) | generic_head ("X model" -> X) | embedding (cosine >= concepts.merge_threshold, shared word).',
  similarity  DOUBLE          COMMENT 'Cosine similarity of alias and concept embeddings (null for self).'
) USING DELTA
COMMENT 'Gold: alias -> concept mapping; join mentions to it to count by canonical concept.'
