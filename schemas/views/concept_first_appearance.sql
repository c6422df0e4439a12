-- The first video (in upload order) and second where each concept is spoken, and how far it spread since.
-- Example: SELECT * FROM transcripts.concept_first_appearance WHERE concept = 'transformer'
CREATE OR REPLACE VIEW transcripts.concept_first_appearance AS
SELECT concept, label, video_id, title, upload_rank, first_mention_s, url, n_videos, n_mentions
FROM (
  SELECT cv.concept, c.label, cv.video_id, v.title, cv.upload_rank, cv.first_mention_s, t.url, c.n_videos, c.n_mentions,
         ROW_NUMBER() OVER (PARTITION BY cv.concept ORDER BY cv.upload_rank, cv.video_id) AS nth
  FROM transcripts.concept_video cv
  JOIN transcripts.concepts c ON c.concept = cv.concept
  JOIN transcripts.videos v ON v.video_id = cv.video_id
  LEFT JOIN transcripts.concept_timeline t
    ON t.concept = cv.concept AND t.video_id = cv.video_id AND t.first_mention_s = cv.first_mention_s
) firsts
WHERE nth = 1
