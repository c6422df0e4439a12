"""The CUDA path of the embedding step, without Spark (for a GPU machine that has no Java).

Runs ``transcript_lake.nlp.models.embed`` with ``nlp.device=auto`` over the corpus windows and phrases
exported from a lake, checks the vectors against the CPU vectors stored in ``window_embeddings``, and
prints throughput. Inputs: a folder with ``texts.json`` ({windows, phrases, sample_idx}),
``cpu_window_vectors.npy`` and ``model/`` (the sentence-transformers model directory).

    python benchmarks/gpu_embed_check.py DIR [OUT.json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    import numpy as np
    import torch

    from transcript_lake.nlp.models import embed, load_embedder, resolve_device

    src = Path(sys.argv[1])
    data = json.loads((src / "texts.json").read_text())
    model = str(src / "model")
    device = resolve_device("auto")
    report = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available(), "auto_device": device,
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    t0 = time.perf_counter()
    load_embedder(model, "auto", 1)
    report["model_load_s"] = round(time.perf_counter() - t0, 2)
    embed(data["windows"][:256], model, "auto", 1, 256)  # warm-up (CUDA context, kernels)
    for name, texts, batch in (("windows", data["windows"], 256), ("phrases", data["phrases"], 1024)):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        vectors = embed(texts, model, "auto", 1, batch)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        report[name] = {"n": len(texts), "seconds": round(dt, 2), "per_s": round(len(texts) / dt, 1)}
        if name == "windows":
            cpu = np.load(src / "cpu_window_vectors.npy")
            gpu = vectors[data["sample_idx"]]
            cos = (cpu * gpu).sum(axis=1) / (np.linalg.norm(cpu, axis=1) * np.linalg.norm(gpu, axis=1))
            report["windows"]["cosine_vs_cpu_min"] = round(float(cos.min()), 5)
            report["windows"]["cosine_vs_cpu_mean"] = round(float(cos.mean()), 5)
    text = json.dumps(report, indent=2)
    print(text)
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
