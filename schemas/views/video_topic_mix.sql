-- Topic mix per video: which BERTopic topics each video's windows fall in, and how much of the video.
-- Example: SELECT topic_label, share, minutes FROM transcripts.video_topic_mix WHERE video_id = 'vAmKB7iPkWw' ORDER BY share DESC
CREATE OR REPLACE VIEW transcripts.video_topic_mix AS
SELECT v.upload_rank, v.video_id, v.title, tt.topic_id, tp.label AS topic_label, tt.n_windows, tt.share, tt.minutes
FROM transcripts.topic_timeline tt
JOIN transcripts.topics tp ON tp.topic_id = tt.topic_id
JOIN transcripts.videos v ON v.video_id = tt.video_id
