-- Where is concept X: every video and minute it is spoken in, in upload order, with links to that second.
-- Example: SELECT title, bucket_start_s, mentions, url FROM transcripts.concept_locations
--          WHERE concept = (SELECT concept FROM transcripts.concept_lookup WHERE alias = 'diffusion')
--          ORDER BY upload_rank, bucket_start_s
CREATE OR REPLACE VIEW transcripts.concept_locations AS
SELECT t.concept, c.label, t.video_id, v.title, t.upload_rank, t.bucket_start_s, t.bucket_end_s, t.mentions,
       t.keyphrase_score, t.first_mention_s, t.url
FROM transcripts.concept_timeline t
JOIN transcripts.concepts c ON c.concept = t.concept
JOIN transcripts.videos v ON v.video_id = t.video_id
