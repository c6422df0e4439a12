-- layer: silver
-- key: phrase, model
-- Embedding cache: each distinct phrase is embedded once per model, ever; later runs reuse it.
CREATE TABLE IF NOT EXISTS transcripts.phrase_embeddings (
  phrase      STRING       NOT NULL COMMENT 'Phrase or concept key (lower case).',
  model       STRING       NOT NULL COMMENT 'nlp.embedding_model that produced the vector. (phrase, model) is the key.',
  vector      ARRAY<FLOAT> NOT NULL COMMENT 'L2-normalised embedding.',
  created_at  TIMESTAMP             COMMENT 'When it was first embedded (UTC).'
) USING DELTA
COMMENT 'Silver: phrase embedding cache keyed by phrase and model.'
