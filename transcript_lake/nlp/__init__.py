"""NLP building blocks that run inside Spark's Python workers: model loading (once per worker),
concept normalisation, mention extraction, KeyBERT with precomputed embeddings."""
