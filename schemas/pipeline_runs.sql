-- layer: ops
-- key: run_id, stage
-- One row per stage per pipeline run (jobs/pipeline.py, transcript-lake run): what ran, what was
-- skipped and why, the Delta versions it read and left, row counts and seconds. The history of runs:
-- whether a stage is skipped is decided from stage_state (its fingerprint). Rows are only ever appended.
CREATE TABLE IF NOT EXISTS transcripts.pipeline_runs (
  run_id              STRING              NOT NULL COMMENT 'Pipeline run: UTC start time + random suffix, shared by the stages of one invocation.',
  stage               STRING              NOT NULL COMMENT 'Stage name (ingest, segments, windows, terms, concepts, topics, timelines).',
  status              STRING              NOT NULL COMMENT 'succeeded | skipped | failed.',
  reason              STRING                       COMMENT 'Why the stage ran (config changed, new version of <table>, full refresh, ...) or was skipped.',
  started_at          TIMESTAMP                    COMMENT 'When the stage started (UTC).',
  finished_at         TIMESTAMP                    COMMENT 'When the stage finished or failed (UTC).',
  seconds             DOUBLE                       COMMENT 'Wall seconds of the stage (0 when skipped).',
  input_versions      MAP<STRING, BIGINT>          COMMENT 'Delta version of every input table when the stage started.',
  output_versions     MAP<STRING, BIGINT>          COMMENT 'Delta version of every table the stage owns when it finished.',
  rows_in             MAP<STRING, BIGINT>          COMMENT 'Row count of every input table when the stage started (skipped: carried over from the run it matched).',
  rows_out            MAP<STRING, BIGINT>          COMMENT 'Row count of every owned table when the stage finished (skipped: carried over; failed: empty).',
  config_hash         STRING                       COMMENT 'Hash of the stage output settings (files they name count by content).',
  config              STRING                       COMMENT 'The stage settings as JSON ({"output": ..., "speed": ...}): which config produced the tables.',
  sources_fingerprint STRING                       COMMENT 'ingest only: hash of the manifest content and the path, size and mtime of every input file.',
  metrics             STRING                       COMMENT 'Counters reported by the stage (JSON), as shown in the run summary.',
  error               STRING                       COMMENT 'failed only: exception type and first line of its message.',
  env                 STRING                       COMMENT 'Config environment (local, cluster, test).',
  full_refresh        BOOLEAN                      COMMENT 'Whether the run was started with --full-refresh.'
) USING DELTA
COMMENT 'Ops: history of pipeline runs per stage.'
