"""The torch side of the bench, the part every measurement shares: torch plumbing (import, device, dtype,
timing), the workload check, and the micro benchmarks (copy bandwidth, matmul, launch cost); the decoder lives in
.decoder. torch is imported inside functions, so importing this module is fast and works without it."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from sizing.specs import SizingError
from sizing.units import GIB, MIB

DTYPES = ("bf16", "f16", "f32")  # precision ids in data/precisions.csv the decoder can run
BW_BYTES = {"cuda": 1 * GIB, "cpu": 64 * MIB}  # copy size: well past every L2/LLC (H100 L2 = 50 MB)
BW_BYTES_QUICK = 8 * MIB
MATMUL_N = {
    "cuda": 8192,
    "cpu": 512,
}  # 8192^3 saturates Hopper tensor cores (cuBLAS sweeps plateau by n=4096)
MATMUL_N_QUICK = 128
PROGRESS = Callable[[str], None]


# -------------------------------------------------------------------------------------------- torch plumbing
def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise SizingError("the bench needs PyTorch; pip install 'sizing[bench]' (or torch) and retry") from None
    return torch


def _dist() -> Any:
    """torch.distributed, imported here like torch itself."""
    _torch()
    import torch.distributed as dist

    return dist


def _device_kind(torch: Any, device: str) -> str:
    kind = device.split(":")[0]
    if kind not in ("cuda", "cpu"):
        raise SizingError(f"device '{device}' is not supported; use cuda or cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise SizingError("no CUDA GPU is visible to PyTorch; use device cpu or check the driver/CUDA_VISIBLE_DEVICES")
    return kind


def _torch_dtype(torch: Any, dtype: str) -> Any:
    table = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}
    if dtype not in table:
        raise SizingError(f"dtype '{dtype}' is not benchmarked; use one of {', '.join(DTYPES)}")
    return table[dtype]


def _sync(torch: Any, kind: str) -> None:
    if kind == "cuda":
        torch.cuda.synchronize()


def _timed(torch: Any, kind: str, fn: Callable[[], object], repeats: int, warmup: int) -> float:
    """Median seconds of fn() after `warmup` untimed calls. CUDA events time the stream (launch gaps included,
    host jitter excluded: CUDA C Best Practices Guide §8.1.2); perf_counter on CPU."""
    for _ in range(warmup):
        fn()
    _sync(torch, kind)
    times = []
    for _ in range(repeats):
        if kind == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)  # elapsed_time is in ms
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return max(statistics.median(times), 1e-9)


def _check_workload(prompt_tokens: int, new_tokens: int, batch: int) -> None:
    for name, value in (("prompt tokens", prompt_tokens), ("new tokens", new_tokens), ("batch", batch)):
        if value < 1:
            raise SizingError(f"{name} must be at least 1, got {value}; raise it")


# ----------------------------------------------------------------------------------------- micro benchmarks
def measure_bandwidth(device: str = "cuda", size_bytes: int | None = None, repeats: int = 10) -> float:
    """Achievable memory bandwidth in bytes/s: dst.copy_(src) moves size read + size written (the STREAM 'Copy'
    kernel's count, McCalpin 1995)."""
    torch = _torch()
    kind = _device_kind(torch, device)
    size = size_bytes or BW_BYTES[kind]
    if size < MIB:
        raise SizingError(f"bandwidth buffer of {size} bytes is too small to time; use at least 1 MiB")
    n = size // 4

    def copy_seconds() -> float:  # buffers freed on return, before empty_cache
        src = torch.ones(n, dtype=torch.float32, device=device)
        dst = torch.empty_like(src)
        return _timed(torch, kind, lambda: dst.copy_(src), repeats=repeats, warmup=2)

    seconds = copy_seconds()
    if kind == "cuda":
        torch.cuda.empty_cache()
    return 2 * n * 4 / seconds


def measure_matmul(device: str = "cuda", dtype: str = "bf16", n: int | None = None, repeats: int = 10) -> float:
    """Achieved dense FLOP/s of an n x n by n x n matmul: 2 n^3 FLOPs (a multiply and an add per MAC)."""
    torch = _torch()
    kind = _device_kind(torch, device)
    size = n or MATMUL_N[kind]
    if size < 16:
        raise SizingError(f"matmul size {size} is too small to time; use n >= 16")
    td = _torch_dtype(torch, dtype)

    def matmul_seconds() -> float:  # operands freed on return, before empty_cache
        a = torch.randn(size, size, dtype=td, device=device)
        b = torch.randn(size, size, dtype=td, device=device)
        return matmul_seconds_of(torch, kind, a, b, repeats)

    seconds = matmul_seconds()
    if kind == "cuda":
        torch.cuda.empty_cache()
    return 2 * size**3 / seconds


def matmul_seconds_of(torch: Any, kind: str, a: Any, b: Any, repeats: int) -> float:
    """Median seconds of a @ b into a preallocated output (no allocation inside the timed call), after two warm-up
    calls: the one timed loop behind measure_matmul and the CPU comparison with numpy (probes.cpu_matmul_pair)."""
    out = torch.empty(a.shape[0], b.shape[1], dtype=a.dtype, device=a.device)
    return _timed(torch, kind, lambda: torch.mm(a, b, out=out), repeats=repeats, warmup=2)


def measure_matmul_tf32(device: str = "cuda", n: int | None = None, repeats: int = 10) -> float:
    """measure_matmul in float32 with TF32 tensor cores allowed (PyTorch leaves them off for matmuls by default,
    torch.backends.cuda.matmul.allow_tf32; plain f32 is what measure_matmul times); the flag is restored after."""
    torch = _torch()
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        return measure_matmul(device, "f32", n, repeats)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def measure_matmul_fp8(device: str = "cuda", n: int | None = None, repeats: int = 10) -> float:
    """Dense FLOP/s of an n x n fp8 (e4m3) matmul through torch._scaled_mm (cuBLASLt's FP8 GEMM; compute capability
    8.9+: Ada and Hopper), unit per-tensor scales, bf16 out. _scaled_mm takes its second operand column-major: the
    transpose of a row-major tensor is that, without a copy. 2 n^3 FLOPs, as for measure_matmul."""
    torch = _torch()
    if _device_kind(torch, device) != "cuda":
        raise SizingError("an fp8 matmul needs a CUDA GPU")
    if not (hasattr(torch, "float8_e4m3fn") and hasattr(torch, "_scaled_mm")):
        raise SizingError(f"PyTorch {torch.__version__} has no fp8 matmul; upgrade torch (2.1 or later)")
    if torch.cuda.get_device_capability(device) < (8, 9):
        raise SizingError("this GPU has no fp8 tensor cores (compute capability below 8.9)")
    size = n or MATMUL_N["cuda"]

    def fp8_seconds() -> float:  # operands freed on return, before empty_cache
        a = torch.randn(size, size, device=device).to(torch.float8_e4m3fn)
        b = torch.randn(size, size, device=device).to(torch.float8_e4m3fn).t()
        one = torch.ones((), dtype=torch.float32, device=device)
        return _timed(
            torch,
            "cuda",
            lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16),
            repeats=repeats,
            warmup=2,
        )

    seconds = fp8_seconds()
    torch.cuda.empty_cache()
    return 2 * size**3 / seconds


def measure_matmul_as(dtype: str, n: int, device: str = "cuda") -> float:
    """Dense matmul FLOP/s in any dtype validate sweeps: bf16, f16, f32 (measure_matmul), tf32 and fp8."""
    if dtype == "fp8":
        return measure_matmul_fp8(device, n)
    if dtype == "tf32":
        return measure_matmul_tf32(device, n)
    return measure_matmul(device, dtype, n)


def measure_launch(device: str = "cuda", n: int = 1000) -> float:
    """Seconds per tiny eager op: n one-element in-place adds, host wall clock until the stream drains. Every op
    of a decode step pays it (about 20 per layer here), so it bounds small-batch decode where it dominates."""
    torch = _torch()
    kind = _device_kind(torch, device)
    x = torch.zeros(1, device=device)
    for _ in range(50):
        x.add_(1)
    _sync(torch, kind)
    start = time.perf_counter()
    for _ in range(n):
        x.add_(1)
    _sync(torch, kind)
    return (time.perf_counter() - start) / n


def measure_graph_launch(n: int = 1000, replays: int = 10) -> float:
    """Seconds per kernel when the same n one-element adds replay as one CUDA graph (torch.cuda.CUDAGraph, the
    mechanism of vLLM's, SGLang's and gpt-fast's decode): no Python or dispatcher per op, only the GPU's own
    kernel-to-kernel gap and a tiny kernel's run time. The median of `replays` replays after one warm-up."""
    torch = _torch()
    if not torch.cuda.is_available():
        raise SizingError("CUDA graph replay needs a CUDA GPU")
    x = torch.zeros(1, device="cuda")
    side = torch.cuda.Stream()  # capture wants a warmed-up side stream (PyTorch CUDA graphs notes)
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            x.add_(1)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(n):
            x.add_(1)
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        start = time.perf_counter()
        graph.replay()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / n


# ------------------------------------------------------------------------------------------- collectives
ALLREDUCE_ITERS = 5  # timed all-reduces after one warm-up (nccl-tests' default is 20; these buffers are large)


def busbw(size_bytes: float, seconds: float, world: int) -> float:
    """nccl-tests' all-reduce bus bandwidth: algbw = size / time, busbw = algbw x 2(n-1)/n, the factor that makes
    the figure comparable with the link's bandwidth whatever the rank count (nccl-tests doc/PERFORMANCE.md)."""
    return size_bytes / seconds * 2 * (world - 1) / world


def allreduce_seconds(dist: Any, torch: Any, n: int, device: str, iters: int = ALLREDUCE_ITERS) -> float:
    """Median seconds of one all-reduce of n float32 values over the initialised process group: every rank times
    the same barrier-separated calls, the slowest rank's time counts (MAX-reduced)."""
    x = torch.ones(n, dtype=torch.float32, device=device)
    dist.all_reduce(x)  # warm-up: the first call builds the communicator's rings
    times = []
    for _ in range(iters):
        dist.barrier()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        dist.all_reduce(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    worst = torch.tensor([statistics.median(times)], dtype=torch.float64, device=device)
    dist.all_reduce(worst, op=dist.ReduceOp.MAX)
    return float(worst.item())


def _allreduce_worker(rank: int, world: int, port: int, n: int, backend: str, out: Any) -> None:
    import torch
    import torch.distributed as dist

    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    dist.init_process_group(backend, rank=rank, world_size=world)
    device = "cpu"
    if backend == "nccl":
        torch.cuda.set_device(rank)
        device = f"cuda:{rank}"
    seconds = allreduce_seconds(dist, torch, n, device)
    if rank == 0:
        out.value = seconds
    dist.destroy_process_group()


def measure_allreduce_busbw(world: int = 2, size_bytes: int = 16 * MIB, backend: str = "gloo") -> float:
    """All-reduce bus bandwidth in bytes/s as nccl-tests reports it (busbw) over `world` processes started with
    torch.multiprocessing: gloo on the CPU, NCCL with one GPU per process. `torchrun -m sizing.bench.allreduce`
    measures the same under torchrun."""
    torch = _torch()
    import socket

    import torch.multiprocessing as mp

    if world < 2:
        raise SizingError(f"an all-reduce needs at least 2 processes, got {world}")
    if backend == "nccl" and torch.cuda.device_count() < world:
        raise SizingError(f"NCCL all-reduce over {world} GPUs needs {world} visible GPUs; use backend gloo")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    seconds = ctx.Value("d", 0.0)
    n = size_bytes // 4
    procs = [ctx.Process(target=_allreduce_worker, args=(r, world, port, n, backend, seconds)) for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    for p in procs:
        if p.is_alive():
            p.kill()
    if any(p.exitcode != 0 for p in procs) or seconds.value <= 0:
        raise SizingError("the all-reduce processes failed; check that localhost TCP ports are open")
    del torch
    return busbw(n * 4, seconds.value, world)
