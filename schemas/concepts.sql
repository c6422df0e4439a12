-- layer: gold
-- key: concept
-- One row per concept said in the transcripts, after keys naming the same thing were merged (see
-- concept_aliases for every merge and why). Written text names and labels concepts but never counts.
CREATE TABLE IF NOT EXISTS transcripts.concepts (
  concept            STRING NOT NULL COMMENT 'Canonical concept key: its best written name (a glossary name, a key written as a name), else its most said key.',
  label              STRING NOT NULL COMMENT 'Display label: the written form (ViT, PaliGemma, ConvNeXt) when one exists, else the most frequent spoken surface.',
  aliases            ARRAY<STRUCT<alias: STRING, rule: STRING, similarity: DOUBLE, n_mentions: BIGINT>> COMMENT 'Keys merged into this concept, the rule and its score (concept_aliases.similarity), and how often each is said.',
  n_mentions         BIGINT NOT NULL COMMENT 'Spoken mentions of the concept and its aliases.',
  n_keyphrases       BIGINT NOT NULL COMMENT 'Times KeyBERT picked it as a window keyphrase.',
  n_videos           BIGINT NOT NULL COMMENT 'Videos in which it is said.',
  first_video_id     STRING NOT NULL COMMENT 'Earliest upload (lowest videos.upload_rank) in which it is said.',
  first_upload_rank  INT    NOT NULL COMMENT 'upload_rank of that video.',
  label_source       STRING          COMMENT 'Where the label comes from: glossary | title | chapter | description | manifest | source_file | comment (written), or spoken.',
  kind               STRING          COMMENT 'name (written as a name somewhere) | term (said in several videos or picked as a keyphrase, at most concepts.salience.max_term_words words) | phrase (incidental: said once, a long noun phrase) | artefact (a recording artefact such as an editor or debugger key, concepts.salience.artefacts).',
  salience           DOUBLE          COMMENT 'Weight in [0, 1] by kind (concepts.salience.weights), raised towards 1 by the share of its windows where KeyBERT picked it; the views rank by tf-idf x salience.'
) USING DELTA
COMMENT 'Gold: the concept dimension, with explainable merges, written labels and salience.'
