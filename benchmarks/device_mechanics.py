"""Measure the mechanisms the estimator models on this machine: the host cost of one kernel (eager PyTorch op vs
the same kernels replayed as one CUDA graph) and whole training steps of real model sizes against the training
estimator (sizing/estimate/training.py with the bench's set-up, sizing/bench/training.py bench_training).

    python benchmarks/device_mechanics.py [--out data/benchmarks] [--gpu h200] [--quick]

On one 141 GB GPU (bf16): full fine-tune and LoRA (q, v; rank 8) steps of qwen2.5-1.5b and llama-3-8b (full: 8B x 8
bytes of weights, grads and two AdamW moments in bf16 = 64 GB), every layer and the whole vocabulary, under fused,
foreach and for-loop AdamW (GPU_STEPS). About a minute on an H200. Saves `<out>/<gpu>.dispatch.json` and
`<out>/<gpu>.training.json` and prints a table of each. `--quick` runs the CPU smoke shapes (f32, 2 layers, an
8,192-token vocabulary, 32 tokens), measured only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from sizing import catalog as cat
from sizing.bench import BenchRun, match_gpu, measure_launch
from sizing.bench.files import _write_atomic
from sizing.bench.measure import measure_graph_launch
from sizing.bench.training import cpu_shape, estimated_step, measure_train_step
from sizing.modelspec import resolve
from sizing.specs import SizingError

# (model, mode, batch, seq_len, AdamW implementation): real sizes whose step is well past launch cost, each within
# one 141 GB card; the 8B full step under all three implementations (the optimizer's temporaries and passes), the
# 1.5B one at three shapes of 4,096 tokens (attention's share grows with the sequence)
GPU_STEPS = (
    ("qwen2.5-1.5b", "full", 4, 1024, "fused"),
    ("qwen2.5-1.5b", "full", 4, 1024, "foreach"),
    ("qwen2.5-1.5b", "full", 8, 512, "fused"),
    ("qwen2.5-1.5b", "full", 1, 4096, "fused"),
    ("qwen2.5-1.5b", "lora", 4, 1024, "fused"),
    ("llama-3-8b", "lora", 1, 2048, "fused"),
    ("llama-3-8b", "lora", 4, 2048, "fused"),
    ("llama-3-8b", "full", 1, 1024, "fused"),
    ("llama-3-8b", "full", 1, 1024, "foreach"),
    ("llama-3-8b", "full", 1, 1024, "for-loop"),
    ("llama-3-8b", "full", 2, 2048, "fused"),
)
QUICK_STEPS = (("qwen2.5-0.5b", "full", 1, 32, "foreach"), ("qwen2.5-0.5b", "lora", 1, 32, "fused"))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def dispatch(kind: str, quick: bool) -> dict[str, Any]:
    """Per-kernel host cost: eager (one tiny in-place add per op, the dispatcher and a launch each) and, on a GPU,
    CUDA-graph replay of the same adds (the GPU's own gap between back-to-back kernels)."""
    n = 200 if quick else 2000
    out: dict[str, Any] = {"kernels": n, "eager_s_per_kernel": measure_launch("cuda" if kind == "cuda" else "cpu", n)}
    if kind == "cuda":
        out["graph_s_per_kernel"] = measure_graph_launch(n)
        out["eager_over_graph"] = out["eager_s_per_kernel"] / out["graph_s_per_kernel"]
    return out


def training(catalog: cat.Catalog, kind: str, gpu: Any, quick: bool, say: Any) -> list[dict[str, Any]]:
    rows = []
    for model, mode, batch, seq, impl in QUICK_STEPS if quick else GPU_STEPS:
        spec = resolve(model, catalog)
        dtype = "bf16" if kind == "cuda" else "f32"
        if kind != "cuda":
            spec = cpu_shape(spec)
        say(f"{model} {mode} {batch} x {seq}, {impl} AdamW")
        work = BenchRun(model_spec=spec, device=kind, dtype=dtype, prompt_tokens=seq, batch=batch)
        step = measure_train_step(work, mode, repeats=1 if quick else 3, impl=impl)  # type: ignore[arg-type]
        row: dict[str, Any] = {"model": model, **step.model_dump()}
        if gpu is not None and kind == "cuda":
            rate, mem = estimated_step(catalog, spec, step, gpu)
            row |= {
                "estimate_tokens_per_s": rate,
                "estimate_allocated_bytes": mem,
                "tokens_per_s_ratio": step.tokens_per_s / rate,
                "peak_bytes_ratio": (step.peak_bytes or 0) / mem,
            }
        rows.append(row)
        _free(kind)
    return rows


def _free(kind: str) -> None:
    import gc

    gc.collect()
    if kind == "cuda":
        import torch

        torch.cuda.empty_cache()


def _cell(value: float | None, fmt: str, width: int) -> str:
    return f"{'-' if value is None else format(value, fmt):>{width}}"


def _print_training(rows: list[dict[str, Any]]) -> None:
    head = ("model", "mode", "adamw", "tokens", "step s", "tok/s", "est", "ratio", "peak GiB", "est GiB", "ratio")
    print(f"{head[0]:<14}{head[1]:<6}{head[2]:<9}" + "".join(f"{h:>10}" for h in head[3:]))
    for r in rows:
        est, mem = r.get("estimate_tokens_per_s"), r.get("estimate_allocated_bytes")
        peak = None if r["peak_bytes"] is None else r["peak_bytes"] / 2**30
        cells = (
            (r["step_s"], ".3f"),
            (r["tokens_per_s"], ".0f"),
            (est, ".0f"),
            (r.get("tokens_per_s_ratio"), ".2f"),
            (peak, ".2f"),
            (None if mem is None else mem / 2**30, ".2f"),
            (r.get("peak_bytes_ratio"), ".2f"),
        )
        tokens = f"{r['batch']}x{r['seq_len']}"
        lead = f"{r['model']:<14}{r['mode']:<6}{r['optimizer_impl']:<9}{tokens:>10}"
        print(lead + "".join(_cell(v, f, 10) for v, f in cells))


def main() -> int:
    parser = argparse.ArgumentParser(description="measure dispatch cost and training steps, compare with the estimate")
    parser.add_argument("--out", type=Path, default=Path("data/benchmarks"), help="folder for the JSON results")
    parser.add_argument("--gpu", default=None, help="catalog GPU to compare with (default: from the device name)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes (CPU smoke test)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("error: the bench needs PyTorch; pip install torch", file=sys.stderr)
        return 2
    kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cpu" and not args.quick:
        print("error: no CUDA GPU; run with --quick for the CPU smoke test", file=sys.stderr)
        return 2
    catalog = cat.load()
    name = torch.cuda.get_device_name() if kind == "cuda" else "CPU"
    try:
        gpu = catalog.gpu(args.gpu) if args.gpu else (match_gpu(catalog, name) if kind == "cuda" else None)
    except SizingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    label = gpu.id if gpu is not None else kind
    start = time.perf_counter()

    def say(step: str) -> None:
        print(f"  {step} ({time.perf_counter() - start:.0f} s)", flush=True)

    device = {"device_name": name, "torch_version": torch.__version__, "cuda_version": torch.version.cuda}
    say("dispatch")
    disp = dispatch(kind, args.quick) | device | {"measured_at": _now()}
    line = f"eager {disp['eager_s_per_kernel'] * 1e6:.2f} us per kernel"
    if "graph_s_per_kernel" in disp:
        line += f", CUDA graph replay {disp['graph_s_per_kernel'] * 1e6:.2f} us ({disp['eager_over_graph']:.1f}x)"
    print(f"dispatch on {name}: {line}")
    rows = training(catalog, kind, gpu, args.quick, say)
    _print_training(rows)
    train = {
        "gpu": label,
        **device,
        "measured_at": _now(),
        "basis": "sizing.bench.training.measure_train_step",
        "steps": rows,
    }
    for suffix, body in (("dispatch", {"gpu": label, **disp}), ("training", train)):
        # <gpu>.<what>.json with "kind" first: `sizing calibrate` and `bench --compare` (bench files are
        # <gpu>__<model>.json) pass over them (sizing/bench/files.py MECHANICS_KIND)
        body = {"kind": f"mechanics-{suffix}", **body}
        path = args.out / f"{label}.{suffix}.json"
        _write_atomic(path, json.dumps(body, indent=2) + "\n")
        print(f"saved {path}")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
