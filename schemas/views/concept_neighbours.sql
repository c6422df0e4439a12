-- Concepts that co-occur with X in the same windows, strongest first (NPMI), with their labels.
-- Example: SELECT other_label, windows_together, npmi FROM transcripts.concept_neighbours
--          WHERE concept = 'attention' ORDER BY rank
CREATE OR REPLACE VIEW transcripts.concept_neighbours AS
SELECT co.concept, c.label, co.rank, co.other_concept, o.label AS other_label, co.windows_together,
       co.windows_concept, co.windows_other, co.pmi, co.npmi
FROM transcripts.concept_cooccurrence co
JOIN transcripts.concepts c ON c.concept = co.concept
JOIN transcripts.concepts o ON o.concept = co.other_concept
