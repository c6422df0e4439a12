"""The GPU check, run on the device machine (CUDA, no Java): the project's own encoder embeds every corpus
window on CUDA and the project's TorchDR reduction (``topics.backend=gpu`` without RAPIDS) reduces the
vectors to 5-D on the GPU, then HDBSCAN clusters them. No Spark: it calls the library functions directly.

What travels (the device has torch, sentence-transformers, scikit-learn, numba; not the model, not
torchdr): ``.gpu/`` (git-ignored) made by ``benchmarks/gpu_payload.py`` on this machine: the model folder
with its weights stored as float16 (the fp32 file is 91 MB, the transfer limit 64 MiB; upcast to fp32
on the device), the windows' text, the torchdr wheel.

    # on the device machine, from the repository root:
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
    python3 benchmarks/gpu_check.py --out $OUT

Writes ``$OUT/gpu_check.json`` (device, windows/s per precision and batch size, reduction seconds),
``$OUT/gpu_vectors_fp32.npy`` / ``gpu_vectors_fp16.npy`` (rows in the order of ``.gpu/windows.parquet``)
and ``$OUT/gpu_labels.npy``. ``benchmarks/gpu_compare.py`` then compares them here with the CPU vectors
of the lake (cosine) and with CPU topic fits (ARI).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# conf/base.yaml's topics settings (read here without the project's config loader: no PyYAML needed)
UMAP = {"n_neighbors": 15, "n_components": 5, "min_dist": 0.0}
HDBSCAN = {"min_cluster_size": 25, "min_samples": 10, "cluster_selection_method": "eom"}


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def embed_timed(texts: list[str], model: str, precision: str, batch_size: int, device: str) -> tuple[np.ndarray, float]:
    from transcript_lake.nlp.encoders import load_encoder, make_encoding

    encoder = load_encoder(make_encoding(model, "torch", precision), device=device, threads=8)
    encoder.model.float()  # the weights travelled as float16: compute in fp32 (fp16 runs under autocast)
    encoder.encode(texts[:256], batch_size=batch_size)  # warm-up: kernels, allocator
    sync(device)
    t0 = time.perf_counter()
    vectors = encoder.encode(texts, batch_size=batch_size)
    sync(device)
    return vectors, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payload", default=str(ROOT / ".gpu"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default="cuda", help="cpu only to try the script here on a few windows")
    parser.add_argument("--limit", type=int, default=None, help="first N windows only (a smoke test)")
    args = parser.parse_args()
    import pyarrow.parquet as pq
    import torch
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    from transcript_lake.nlp.topic_model import TorchDRUMAP

    out = Path(args.out)
    payload = Path(args.payload)
    texts = pq.read_table(payload / "windows.parquet").column("text").to_pylist()[: args.limit]
    model = str(payload / "model")
    dev = args.device
    name = torch.cuda.get_device_name(0) if dev == "cuda" else "cpu"
    report = {"device": name, "torch": torch.__version__, "windows": len(texts), "embed": []}
    print(json.dumps({k: report[k] for k in ("device", "torch", "windows")}), flush=True)

    for precision in ("fp32", "fp16") if dev == "cuda" else ("fp32",):
        for batch in (64, 256):
            vectors, seconds = embed_timed(texts, model, precision, batch, dev)
            row = {"precision": precision, "batch_size": batch, "seconds": round(seconds, 2),
                   "windows_per_s": round(len(texts) / seconds, 1)}
            report["embed"].append(row)
            print(json.dumps(row), flush=True)
        np.save(out / f"gpu_vectors_{precision}.npy", vectors.astype("float32"))

    X = np.load(out / "gpu_vectors_fp32.npy")
    report["reduction"] = []
    labels = {}
    for seed in (42, 43):
        sync(dev)
        t0 = time.perf_counter()
        reduced = TorchDRUMAP(UMAP["n_neighbors"], UMAP["n_components"], UMAP["min_dist"], seed, device=dev,
                              max_iter=500 if dev == "cuda" else 20).fit_transform(X)
        sync(dev)
        reduce_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        labels[seed] = SkHDBSCAN(**{**HDBSCAN, "min_cluster_size": min(HDBSCAN["min_cluster_size"], len(X) // 4)}).fit_predict(reduced)
        cluster_s = time.perf_counter() - t0
        row = {"seed": seed, "torchdr_umap_s": round(reduce_s, 2), "hdbscan_s": round(cluster_s, 2),
               "clusters": int(len(set(labels[seed].tolist()) - {-1})), "outliers": float(np.mean(labels[seed] == -1))}
        report["reduction"].append(row)
        print(json.dumps(row), flush=True)
    np.save(out / "gpu_labels.npy", np.stack([labels[42], labels[43]]))
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
