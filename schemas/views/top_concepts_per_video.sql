-- The 10 most characteristic concepts of each video, with a link to the first mention. Ranked by
-- salience: first the names the video's own title gives (said in the video, under their written label),
-- then the title's names that many videos' titles carry (a series or field name such as "ML": said here
-- too, so listed, but after the names that set this video apart), then tf-idf x concepts.salience, so
-- recording artefacts (debugger keys) and incidental phrases sink.
-- Example: SELECT * FROM transcripts.top_concepts_per_video WHERE title LIKE '%CLIP%' ORDER BY rank_in_video
CREATE OR REPLACE VIEW transcripts.top_concepts_per_video AS
WITH series AS (
  SELECT w.key
  FROM transcripts.vocabulary w
  WHERE w.source = 'title'
  GROUP BY w.key
  HAVING COUNT(DISTINCT w.video_id) > GREATEST(3, 0.1 * (SELECT COUNT(*) FROM transcripts.videos))
), named AS (
  -- tier 0: a name of this video's own title; tier 1: a title name of many videos (series)
  SELECT w.video_id, a.concept, MIN(CASE WHEN s.key IS NULL THEN 0 ELSE 1 END) AS tier
  FROM transcripts.vocabulary w
  JOIN transcripts.concept_aliases a ON a.alias = w.key
  LEFT JOIN series s ON s.key = w.key
  WHERE w.source = 'title' AND w.kind IN ('name', 'definition')
  GROUP BY w.video_id, a.concept
), ranked AS (
  SELECT v.upload_rank, v.video_id, v.title, cv.concept, c.label, c.kind, c.salience, cv.mentions, cv.minutes_covered,
         cv.tfidf, cv.first_mention_s, named.concept IS NOT NULL AS in_title,
         ROW_NUMBER() OVER (PARTITION BY cv.video_id
                            ORDER BY COALESCE(named.tier, 2),
                                     cv.tfidf * COALESCE(c.salience, 1.0) DESC, cv.mentions DESC, cv.concept) AS rank_in_video
  FROM transcripts.concept_video cv
  JOIN transcripts.videos v ON v.video_id = cv.video_id
  JOIN transcripts.concepts c ON c.concept = cv.concept
  LEFT JOIN named ON named.video_id = cv.video_id AND named.concept = cv.concept
)
SELECT r.upload_rank, r.video_id, r.title, r.rank_in_video, r.concept, r.label, r.kind, r.salience, r.in_title, r.mentions,
       r.minutes_covered, r.tfidf, r.first_mention_s, t.url AS first_mention_url
FROM ranked r
LEFT JOIN transcripts.concept_timeline t
  ON t.concept = r.concept AND t.video_id = r.video_id AND t.first_mention_s = r.first_mention_s
WHERE r.rank_in_video <= 10
