"""Pipeline stages: one module per stage, each ending with ``STAGE = Stage(...)`` (see
:mod:`transcript_lake.stage`). The registry (:mod:`transcript_lake.registry`) finds them here and orders
them by their inputs and outputs: bronze (ingest) -> silver (segments, windows, terms) -> gold.
"""
