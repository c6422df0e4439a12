-- One row per concept and channel: reach, first appearance and whether it is emerging or fading, with the
-- concept's kind and salience (rank by trend_score * salience to keep artefacts and incidental phrases out).
-- Example: SELECT * FROM transcripts.concept_trends WHERE trend = 'emerging' AND kind IN ('name', 'term')
--          ORDER BY trend_score * salience DESC
CREATE OR REPLACE VIEW transcripts.concept_trends AS
SELECT tr.concept, c.label, c.kind, c.salience, tr.channel, MAX(tr.n_videos) AS n_videos, SUM(tr.mentions) AS mentions,
       MIN(tr.first_seen_rank) AS first_seen_rank, MAX(tr.trend_score) AS trend_score, MAX(tr.trend) AS trend
FROM transcripts.concept_trend tr
JOIN transcripts.concepts c ON c.concept = tr.concept
GROUP BY tr.concept, c.label, c.kind, c.salience, tr.channel
