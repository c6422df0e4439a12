-- The 10 most characteristic concepts of each video (tf-idf across videos), with a link to the first mention.
-- Example: SELECT * FROM transcripts.top_concepts_per_video WHERE title LIKE '%CLIP%' ORDER BY rank_in_video
CREATE OR REPLACE VIEW transcripts.top_concepts_per_video AS
SELECT v.upload_rank, v.video_id, v.title, cv.rank_in_video, cv.concept, c.label, cv.mentions, cv.minutes_covered,
       cv.tfidf, cv.first_mention_s, t.url AS first_mention_url
FROM transcripts.concept_video cv
JOIN transcripts.videos v ON v.video_id = cv.video_id
JOIN transcripts.concepts c ON c.concept = cv.concept
LEFT JOIN transcripts.concept_timeline t
  ON t.concept = cv.concept AND t.video_id = cv.video_id AND t.first_mention_s = cv.first_mention_s
WHERE cv.rank_in_video <= 10
