"""KeyBERT on one window, with embeddings computed elsewhere (each phrase once per run, each window once).

KeyBERT scores the window's own spaCy phrases (``candidates``) against the window embedding and
picks ``top_n`` with Maximal Marginal Relevance. Passing ``doc_embeddings`` / ``word_embeddings``
makes KeyBERT skip its own encoding, which is where the README way spends its time.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .imports import import_without

# keybert imports its embedding and LLM backends when it is imported; none is used here (KeyBERT is handed
# stored vectors and never encodes): see transcript_lake.nlp.imports.
KEYBERT_UNUSED_BACKENDS = frozenset({"sentence_transformers", "transformers", "torch", "huggingface_hub",
                                     "model2vec", "openai", "cohere", "langchain", "litellm"})


@lru_cache(maxsize=1)
def keybert_model():
    """KeyBERT that never encodes: it is always handed the window's and the phrases' stored vectors, so
    its embedder is keybert's empty base class (no model weights loaded in the worker)."""
    keybert = import_without("keybert", KEYBERT_UNUSED_BACKENDS)
    from keybert.backend import BaseEmbedder

    return keybert.KeyBERT(model=BaseEmbedder())


def window_keyphrases(kw_model, text: str, doc_vector: np.ndarray, phrases: list[str], vectors: np.ndarray,
                      top_n: int, diversity: float, max_words: int) -> list[tuple[str, float]]:
    """``[(phrase, score)]`` best first; phrases not found in ``text`` by the vectorizer are ignored."""
    from sklearn.feature_extraction.text import CountVectorizer

    if not phrases:
        return []
    order = sorted(range(len(phrases)), key=lambda i: phrases[i])
    vocab = [phrases[i] for i in order]
    vectorizer = CountVectorizer(vocabulary=vocab, ngram_range=(1, max_words), token_pattern=r"(?u)\b\w+\b", lowercase=True)
    # KeyBERT aligns word_embeddings with vectorizer.get_feature_names_out(): vocabulary order.
    found = kw_model.extract_keywords(
        text, vectorizer=vectorizer, use_mmr=True, diversity=diversity, top_n=top_n,
        doc_embeddings=doc_vector.reshape(1, -1), word_embeddings=vectors[order])
    return [(p, float(s)) for p, s in found]
