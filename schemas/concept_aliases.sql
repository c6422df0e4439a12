-- layer: gold
-- key: alias
-- Every concept key said in mentions, and every written key (schemas/vocabulary.sql) that names a spoken
-- concept, mapped to its canonical concept (itself when not merged), with the rule that merged it, the
-- rule's score and the evidence: every merge is explainable from this table (transcript-lake concepts explain NAME).
CREATE TABLE IF NOT EXISTS transcripts.concept_aliases (
  alias           STRING NOT NULL COMMENT 'Concept key as found in mentions.concept / keyphrases.concept, or written (vocabulary.key). Primary key.',
  concept         STRING NOT NULL COMMENT 'Canonical concept (transcripts.concepts.concept).',
  rule            STRING NOT NULL COMMENT 'self | glossary (conf/glossary.yaml) | definition (acronym defined in written text: "Vision Transformer (ViT)") | variant (same joined form: spacing, hyphen, case, plural) | initials (spoken acronym = initials of a spoken phrase, with transcript evidence) | misheard (never-written, rare key that sounds and is spelled like a written name) | generic_head ("X model" -> X) | embedding (morphological neighbour, cosine >= concepts.merge_threshold).',
  similarity      DOUBLE          COMMENT 'Score of the rule (null for self): 1 for glossary, definition and variant; cosine of the contexts for initials; mean of spelling and sound similarity for misheard; cosine of the embeddings for generic_head and embedding.',
  evidence        STRING          COMMENT 'Why, in words: the written definition and where, the joined form, the shared videos and context cosine, the sound codes and rarity, ... Null for self.',
  written_source  STRING          COMMENT 'Where the alias itself is written (comma-separated vocabulary.source values: title, description, chapter, ...); null when it is only spoken.'
) USING DELTA
COMMENT 'Gold: alias -> concept mapping with rule, score and evidence; join mentions to it to count by canonical concept.'
