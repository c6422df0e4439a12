-- layer: gold
-- key: video_id, window_idx, field, term
-- Search index, lexical postings: how often each analysed term (lower case, stop words out, Snowball
-- stem) occurs in a window's text or in the title of its chapter. BM25 statistics (document frequency,
-- average length) are computed from these rows at query time, so a new video changes only its own rows.
CREATE TABLE IF NOT EXISTS transcripts.search_terms (
  video_id    STRING NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  window_idx  INT    NOT NULL COMMENT 'Window (transcripts.search_windows.window_idx).',
  field       STRING NOT NULL COMMENT 'text (the transcript words of the window) or chapter (its chapter title; searched only when search.chapter_titles is true).',
  term        STRING NOT NULL COMMENT 'Analysed term: lower-cased word, stop words removed, Snowball English stem (transcript_lake.search.analyze).',
  tf          INT    NOT NULL COMMENT 'Occurrences of term in the field of this window.'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Gold: search index term postings per window (the inverted index, by video).'
