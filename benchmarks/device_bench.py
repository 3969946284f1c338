"""Measure this machine with the bench harness (sizing.bench) and compare it with the estimator.

    python benchmarks/device_bench.py [--out data/benchmarks] [--gpu h100-sxm] [--quick]

On one 80-141 GB GPU: llama-3-8b bf16 at prompt 512 / new 128, batch 1 and 8, and qwen2.5-14b batch 1; every run
also times memory bandwidth and a bf16 matmul. About a minute on an H100/H200 (target: under 4). Prints progress,
then one table per run (metric, measured, estimated, measured/estimated) and saves
`<out>/<gpu>__<model>.json`. `--quick` runs tiny shapes: the CPU smoke test (float32, 2 layers).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sizing import bench
from sizing import catalog as cat
from sizing.specs import SizingError

# (model, prompt tokens, new tokens, batch): bf16 weights of 16 GB (8B) and 29.5 GB (14.7B) fit one 80 GB card
GPU_CASES = (("llama-3-8b", 512, 128, 1), ("llama-3-8b", 512, 128, 8), ("qwen2.5-14b", 512, 128, 1))
QUICK_CASES = (("0.15b", 16, 4, 1), ("0.15b", 16, 4, 2))


def main() -> int:
    parser = argparse.ArgumentParser(description="measure this machine and compare with the estimate")
    parser.add_argument("--out", type=Path, default=Path("data/benchmarks"), help="folder for the JSON results")
    parser.add_argument("--gpu", default=None, help="catalog GPU to compare with (default: from the device name)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes (CPU smoke test)")
    parser.add_argument("--data", default=None, help="catalog folder (default: the bundled data/)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("error: the bench needs PyTorch; pip install torch", file=sys.stderr)
        return 2
    if not args.quick and not torch.cuda.is_available():
        print("error: no CUDA GPU; run with --quick for the CPU smoke test", file=sys.stderr)
        return 2
    catalog = cat.load(args.data)
    cases = QUICK_CASES if args.quick else GPU_CASES
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(
        f"device: {device}; torch {torch.__version__}, CUDA {torch.version.cuda}; results -> {args.out}",
        flush=True,
    )
    start = time.perf_counter()
    for i, (model, prompt, new, batch) in enumerate(cases, start=1):
        label = f"[{i}/{len(cases)}] {model} prompt {prompt} new {new} batch {batch}"

        def progress(step: str, label: str = label) -> None:
            print(f"  {label}: {step} ({time.perf_counter() - start:.0f} s)", flush=True)

        try:
            request = bench.BenchRequest(
                model=model, gpu=args.gpu, prompt_tokens=prompt, new_tokens=new, batch=batch, quick=args.quick
            )
            result = bench.run(catalog, request, out_dir=args.out, progress=progress)
        except SizingError as exc:
            print(f"error: {label}: {exc}", file=sys.stderr)
            return 2
        m = result.measurement
        print(f"\n{label} on {m.device_name} ({m.dtype}, {m.n_layers} layers, vs {result.gpu_id or 'no catalog GPU'})")
        print(bench.table(result))
        for note in result.notes:
            print(f"  note: {note}")
        print(f"  saved {bench.result_path(args.out, result)}\n", flush=True)
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
