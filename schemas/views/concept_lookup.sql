-- Find a concept by any word form: every alias (as said, or as written in titles, descriptions, chapters,
-- file names) with its canonical concept, why it was merged (rule, score, evidence) and how salient the
-- concept is (rank several hits by salience, then mentions).
-- Example: SELECT * FROM transcripts.concept_lookup WHERE alias = 'vat'   -- -> concept 'vision transformer', rule misheard
CREATE OR REPLACE VIEW transcripts.concept_lookup AS
SELECT a.alias, a.concept, c.label, a.rule, a.similarity AS score, a.evidence, a.written_source, c.kind, c.salience,
       c.n_mentions, c.n_videos
FROM transcripts.concept_aliases a
JOIN transcripts.concepts c ON c.concept = a.concept
