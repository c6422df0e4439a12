-- Find a concept by any word form: every alias (as found in speech) with its canonical concept.
-- Example: SELECT * FROM transcripts.concept_lookup WHERE alias = 'diffusion'   -- -> concept 'diffusion model'
CREATE OR REPLACE VIEW transcripts.concept_lookup AS
SELECT a.alias, a.concept, c.label, a.rule, c.n_mentions, c.n_videos
FROM transcripts.concept_aliases a
JOIN transcripts.concepts c ON c.concept = a.concept
