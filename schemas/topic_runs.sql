-- layer: ops
-- key: run_id
-- One row per topics run (a fit, or an incremental assignment with an earlier fit's model): what went in, how, what came out.
CREATE TABLE IF NOT EXISTS transcripts.topic_runs (
  run_id          STRING    NOT NULL COMMENT 'SHA-256 (16 hex) of input versions + settings: the same inputs and settings reuse the same run.',
  model_path      STRING    NOT NULL COMMENT 'Saved BERTopic model (safetensors, no pickle) under <lake>/models/topics/<run_id>.',
  report_path     STRING             COMMENT 'Folder of the run self-contained HTML figures.',
  input_versions  STRING    NOT NULL COMMENT 'JSON: Delta versions of windows and window_embeddings the fit read.',
  parameters      STRING    NOT NULL COMMENT 'JSON: the topics.* settings and embedding model.',
  backend         STRING    NOT NULL COMMENT 'cpu, gpu, or cpu (fallback: reason) when gpu was asked but unavailable.',
  n_windows       BIGINT    NOT NULL COMMENT 'Windows assigned a topic.',
  n_fit           BIGINT    NOT NULL COMMENT 'Windows the model was fitted on (fewer than n_windows with topics.fit_sample).',
  n_topics        INT       NOT NULL COMMENT 'Topics found (outlier topic -1 excluded).',
  outlier_share   DOUBLE    NOT NULL COMMENT 'Share of fitted windows in topic -1 after outlier reduction.',
  outlier_share_before DOUBLE        COMMENT 'Share of fitted windows HDBSCAN left as outliers, before reduction.',
  diversity       DOUBLE             COMMENT 'Unique words / all words in the top-10 words of all topics.',
  npmi_coherence  DOUBLE             COMMENT 'Mean NPMI of top-10 word pairs, co-occurrence counted per window.',
  fit_seconds     DOUBLE    NOT NULL COMMENT 'Wall seconds of BERTopic fit + outlier reduction on the driver.',
  created_at      TIMESTAMP          COMMENT 'When the run finished (UTC).',
  model_run_id    STRING             COMMENT 'Run whose saved model made the current assignments: itself after a fit, an earlier run when a few new videos were assigned without refitting (topics.refit_share).'
) USING DELTA
COMMENT 'Ops: topic-model runs with their inputs, parameters and quality figures.'
