-- layer: gold
-- key: video_id, window_idx
-- Search index, documents: one row per window with what a query engine needs to rank it and to point
-- at its best segment (segment times and text offsets), kept per video by stage `search`.
CREATE TABLE IF NOT EXISTS transcripts.search_windows (
  video_id       STRING         NOT NULL COMMENT 'Video (transcripts.videos.video_id).',
  window_idx     INT            NOT NULL COMMENT 'Window (transcripts.windows.window_idx). (video_id, window_idx) is the key.',
  start_s        DOUBLE         NOT NULL COMMENT 'Start of the window (its first segment), seconds.',
  end_s          DOUBLE         NOT NULL COMMENT 'End of the window (its last segment), seconds.',
  seg_from       INT            NOT NULL COMMENT 'First segment of the window (transcripts.segments.seg_idx).',
  seg_starts     ARRAY<DOUBLE>  NOT NULL COMMENT 'Start, seconds, of each segment seg_from..seg_to (where a result jumps to).',
  seg_ends       ARRAY<DOUBLE>  NOT NULL COMMENT 'End, seconds, of each segment seg_from..seg_to.',
  seg_offsets    ARRAY<INT>     NOT NULL COMMENT 'Character offset in text where each segment starts (as transcripts.windows.seg_offsets).',
  text           STRING         NOT NULL COMMENT 'Window text (segment texts joined by single spaces): snippets and segment scoring.',
  n_terms        INT            NOT NULL COMMENT 'Indexed terms in text (stop words left out): the BM25 document length.',
  chapter_idx    INT                     COMMENT 'Chapter the window lies in (transcripts.chapters.chapter_idx); null without chapters.',
  chapter_title  STRING                  COMMENT 'Title of that chapter as written by the author; used only when search.chapter_titles is true.'
) USING DELTA
CLUSTER BY (video_id)
COMMENT 'Gold: search index documents (windows with segment times), rebuilt per changed video.'
