-- layer: ops
-- key: key
-- What made the lake's vectors (window_embeddings, phrase_embeddings, the search index's query side):
-- the embedding model by content hash, the backend, the precision, the int8 calibration set. Recorded at
-- the lake's first build (nlp.embedding_backend / nlp.embedding_precision, `auto` chooses there); later
-- runs, on any machine, use the same encoding or stop with one error line: vectors of two kinds never
-- mix. A re-embed (nlp.reembed=true) records the new one as current and keeps the old row as history.
CREATE TABLE IF NOT EXISTS transcripts.encodings (
  key             STRING    NOT NULL COMMENT 'Encoding id, e.g. openvino-bf16-e65add5ccc17: the value of window_embeddings.model and phrase_embeddings.model.',
  current         BOOLEAN   NOT NULL COMMENT 'True for the encoding the lake uses now (exactly one row).',
  model           STRING    NOT NULL COMMENT 'Embedding model as named in nlp.embedding_model (a path is recorded by its last folder).',
  model_sha256    STRING    NOT NULL COMMENT 'SHA-256 of the model weight, tokenizer and pooling files: the same weights anywhere are the same model.',
  backend         STRING    NOT NULL COMMENT 'torch | onnx | openvino.',
  precision       STRING    NOT NULL COMMENT 'fp32 | bf16 | fp16 | int8.',
  calibration     STRING             COMMENT 'int8: SHA-256 of the calibration text set shipped with the project.',
  encoding        STRING    NOT NULL COMMENT 'The whole record (JSON), library versions included.',
  chosen_because  STRING             COMMENT 'Why: explicit settings, or which auto candidates passed or failed the quality gate on the machine of the first build.',
  created_at      TIMESTAMP          COMMENT 'When it was recorded (UTC).'
) USING DELTA
COMMENT 'Ops: the embedding encodings of the lake, the current one first among equals.'
