"""Is the harness itself free? Issue #13's quality bar for `sizing validate`'s measurements.

    python benchmarks/harness_quality.py [--threads N] [--n 512] [--rounds 5] [--gpu h100-sxm]

CPU: the bench's float32 matmul (sizing.bench.probes.cpu_matmul_pair: the harness's own timed loop) against a tight
numpy loop in the same run, on the same operands and sizes, with the same thread count for both (this script sets
OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS before torch and numpy load); ours must reach 95% of it.
GPU (when PyTorch sees one): the bf16 matmul against the catalog GPU's dense datasheet peak (70%) and the device copy
against its spec memory bandwidth (70%), pass lines below what healthy H100s and H200s reach (validate.py states them);
without a GPU that part prints one line saying it was skipped. Prints every measured figure and ratio; exits 1 when a
ratio falls short, 2 on bad input. About 10 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description="the harness's matmul and copy against numpy and the datasheet")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="BLAS threads for torch and numpy")
    parser.add_argument("--n", type=int, default=512, help="CPU matmul size (n x n by n x n)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating torch/numpy rounds (best round counts)")
    parser.add_argument("--gpu", default=None, help="catalog GPU to judge against (default: from the device name)")
    args = parser.parse_args()
    if args.threads < 1:
        print(f"error: --threads must be at least 1, got {args.threads}", file=sys.stderr)
        return 2
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before torch and numpy start their thread pools

    from sizing import catalog as cat
    from sizing.bench import measure_bandwidth, measure_matmul, probes
    from sizing.bench.compare import match_gpu
    from sizing.bench.validate import CPU_MATMUL_SHARE, GPU_BANDWIDTH_SHARE, GPU_MATMUL_SHARE
    from sizing.specs import SizingError

    try:
        import torch
    except ImportError:
        print("error: the harness needs PyTorch; pip install 'sizing[bench]'", file=sys.stderr)
        return 2
    ok = True
    try:
        ours, ref = probes.cpu_matmul_pair(args.n, args.rounds, repeats=10)
        ratio = ours / ref
        ok &= ratio >= CPU_MATMUL_SHARE
        print(f"CPU f32 matmul n={args.n}, {torch.get_num_threads()} torch threads, {args.threads} BLAS threads:")
        print(f"  harness (torch) {ours / 1e9:8.2f} GFLOP/s")
        print(f"  numpy loop      {ref / 1e9:8.2f} GFLOP/s")
        print(f"  ratio {ratio:.3f} (need >= {CPU_MATMUL_SHARE}): {'PASS' if ratio >= CPU_MATMUL_SHARE else 'FAIL'}")
        if not torch.cuda.is_available():
            print("GPU: skipped, PyTorch sees no CUDA GPU")
            return 0 if ok else 1
        catalog = cat.load()
        name = torch.cuda.get_device_name(0)
        gpu = catalog.gpu(args.gpu) if args.gpu else match_gpu(catalog, name)
        if gpu is None:
            print(f"GPU: '{name}' is not in the catalog; pass --gpu ID to judge it")
            return 0 if ok else 1
        flops = measure_matmul("cuda", "bf16")
        bw = measure_bandwidth("cuda")
    except SizingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    figures = (
        ("bf16 matmul", flops, gpu.peak_flops("bf16"), GPU_MATMUL_SHARE, 1e12, "TFLOP/s", "dense datasheet peak"),
        ("device copy", bw, gpu.mem_bw_bytes_s, GPU_BANDWIDTH_SHARE, 1e9, "GB/s", "spec memory bandwidth"),
    )
    print(f"GPU {name} as {gpu.id}:")
    for label, measured, spec, least, scale, unit, what in figures:
        share = measured / spec
        ok &= share >= least
        verdict = "PASS" if share >= least else "FAIL"
        print(
            f"  {label}: {measured / scale:,.1f} {unit} of {spec / scale:,.1f} {unit} {what}: "
            f"{share:.3f} (need >= {least}): {verdict}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
