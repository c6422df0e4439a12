"""Compares what ``benchmarks/gpu_check.py`` brought back from the device with the CPU here: cosine of the
GPU vectors to the lake's CPU vectors (same windows), and the agreement (ARI) of the GPU topic clusters
with CPU fits (umap-learn on the CPU vectors, seeds 42 and 43: the CPU's own seed-to-seed agreement is
the yardstick), clustering with the same HDBSCAN settings.

    .venv/bin/python benchmarks/gpu_compare.py --lake lake --device-out /work/.device/<files_at>
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gpu_check import HDBSCAN, UMAP  # noqa: E402  (the same settings on both sides)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", default=str(ROOT / "lake"))
    parser.add_argument("--device-out", required=True)
    args = parser.parse_args()
    import pyarrow.parquet as pq
    from deltalake import DeltaTable
    from sklearn.cluster import HDBSCAN as SkHDBSCAN
    from sklearn.metrics import adjusted_rand_score
    from umap import UMAP as CpuUMAP

    dev = Path(args.device_out)
    keys = pq.read_table(ROOT / ".gpu" / "windows.parquet", columns=["video_id", "window_idx"]).to_pandas()
    cpu = DeltaTable(f"{args.lake}/window_embeddings").to_pandas(columns=["video_id", "window_idx", "vector"])
    cpu = keys.merge(cpu, on=["video_id", "window_idx"], how="left")
    C = np.stack(cpu["vector"].to_numpy()).astype("float32")
    report = json.loads((dev / "gpu_check.json").read_text())
    for precision in ("fp32", "fp16"):
        G = np.load(dev / f"gpu_vectors_{precision}.npy")
        cos = np.sum(G * C, axis=1) / (np.linalg.norm(G, axis=1) * np.linalg.norm(C, axis=1))
        report[f"cosine_to_cpu_{precision}"] = {"mean": round(float(cos.mean()), 6), "min": round(float(cos.min()), 6)}
    gpu_labels = np.load(dev / "gpu_labels.npy")
    cpu_labels = {}
    for seed in (42, 43):
        reduced = CpuUMAP(metric="cosine", random_state=seed, **UMAP).fit_transform(C)
        cpu_labels[seed] = SkHDBSCAN(**HDBSCAN).fit_predict(reduced)
    report["ari"] = {
        "cpu42_vs_cpu43": round(adjusted_rand_score(cpu_labels[42], cpu_labels[43]), 3),
        "gpu42_vs_gpu43": round(adjusted_rand_score(gpu_labels[0], gpu_labels[1]), 3),
        "gpu42_vs_cpu42": round(adjusted_rand_score(gpu_labels[0], cpu_labels[42]), 3),
        "gpu43_vs_cpu42": round(adjusted_rand_score(gpu_labels[1], cpu_labels[42]), 3),
        "cpu_clusters": {s: int(len(set(l.tolist()) - {-1})) for s, l in cpu_labels.items()},
    }
    print(json.dumps(report, indent=1))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
