"""transcript_lake: Spark + Delta Lake pipeline that turns video transcripts into concept timelines.

Layers (one direction only): bronze (``source_files``, ``raw_records``) -> silver (``videos``,
``segments``, ``chapters``, ``comments``) -> gold (later stages). Every table lives at
``<lake>/<table_name>/`` and is registered as ``transcripts.<table_name>``.
"""

__version__ = "0.1.0"

DATABASE = "transcripts"
