-- layer: silver
-- key: video_id, source, kind, term, key, expansion
-- The written vocabulary: names and phrases as the authors WROTE them (video titles, descriptions,
-- chapter titles, comments, manifest metadata, source file names) and the user glossary, each with the
-- concept key a mention of the same words gets. Written text names and aliases concepts (labels,
-- acronym definitions, the right spelling of mis-heard names) but never creates a mention.
-- Rebuilt per video (replaceWhere); corpus-wide rows (video_id null) when comments of no video or the
-- glossary change.
CREATE TABLE IF NOT EXISTS transcripts.vocabulary (
  term           STRING NOT NULL COMMENT 'The words as written: ViT, Vision Transformer, PaliGemma, paligemma (from a file name), GPT-3.',
  key            STRING NOT NULL COMMENT 'Concept key of term, computed exactly like mentions.concept (lower case, nouns lemmatised, acronyms as written).',
  kind           STRING NOT NULL COMMENT 'name (written as a name: ViT, GPT-3, Jina AI, a hashtag, a file name) | phrase (another noun phrase) | definition (term is an acronym defined in the text, expansion its long form: "Vision Transformer (ViT)") | glossary (a canonical name of conf/glossary.yaml) | glossary_alias (term is a listed alias of expansion) | never_merge (term and expansion must stay two concepts).',
  source         STRING NOT NULL COMMENT 'title | description | chapter | comment | source_file | manifest (channel name) | glossary.',
  video_id       STRING          COMMENT 'Video whose written text it is (transcripts.videos.video_id); null for corpus-wide text (comments of no video, the glossary).',
  count          BIGINT NOT NULL COMMENT 'Times it is written in that source of that video.',
  expansion      STRING          COMMENT 'definition: the long form; glossary_alias: the canonical name; never_merge: the other name. Null otherwise.',
  expansion_key  STRING          COMMENT 'Concept key of expansion.'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Silver: written names, phrases and acronym definitions per video, plus the glossary.'
