-- layer: gold
-- key: concept, other_concept
-- Concepts spoken in the same windows (said as themselves: nested mentions, which always share a window
-- with the term around them, do not count). Both directions are stored, so "what co-occurs with X" is
-- WHERE concept = X. Only concepts in at least timelines.cooccurrence.min_windows windows, pairs in at least
-- min_pair_windows windows, and the top_n partners of each concept by NPMI.
CREATE TABLE IF NOT EXISTS transcripts.concept_cooccurrence (
  concept           STRING NOT NULL COMMENT 'Canonical concept (transcripts.concepts.concept).',
  other_concept     STRING NOT NULL COMMENT 'A concept co-occurring with it.',
  windows_together  BIGINT NOT NULL COMMENT 'Windows mentioning both.',
  windows_concept   BIGINT NOT NULL COMMENT 'Windows mentioning concept.',
  windows_other     BIGINT NOT NULL COMMENT 'Windows mentioning other_concept.',
  pmi               DOUBLE NOT NULL COMMENT 'ln(P(both) / (P(concept) P(other))), probabilities over all windows with concepts.',
  npmi              DOUBLE NOT NULL COMMENT 'pmi / -ln P(both): -1 never together, 0 independent, 1 always together.',
  rank              INT    NOT NULL COMMENT '1 = the strongest partner of concept (npmi, then windows_together).'
) USING DELTA
CLUSTER BY (concept)
COMMENT 'Gold: top co-occurring concept pairs per concept with counts, PMI and NPMI.'
