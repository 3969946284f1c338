"""The acceptance harness's measurements beyond the bench's: host RAM bandwidth (STREAM triad), host-to-device
bandwidth, a tight numpy matmul (the harness-quality reference), all-reduce bus bandwidth over torch.distributed,
and the largest batch that fits by bisection. torch is imported inside functions (.measure), numpy likewise."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sizing.specs import SizingError
from sizing.units import MIB

from .measure import _device_kind, _timed, _torch, matmul_seconds_of

TRIAD_BYTES = 256 * MIB  # three arrays well past any CPU's last-level cache (EPYC 9654: 384 MB L3 over 12 CCDs)
TRIAD_BYTES_QUICK = 24 * MIB
# Idle time before each library's block of the CPU matmul comparison: a BLAS thread pool keeps spinning on its cores
# for a while after a call before it sleeps (OpenBLAS README: OPENBLAS_THREAD_TIMEOUT; libgomp: GOMP_SPINCOUNT), and
# a pool still spinning takes cores from the other library's call.
SETTLE_S = 0.2


def _proc(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def cpu_name() -> str:
    """The CPU model as Linux names it (/proc/cpuinfo), else what the platform module says."""
    for line in _proc("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "cpu"


def host_memory_bytes() -> float | None:
    """Installed RAM the kernel sees (/proc/meminfo MemTotal, in KiB there)."""
    for line in _proc("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return float(line.split()[1]) * 1024
    return None


def measure_triad(size_bytes: int | None = None, repeats: int = 5) -> float:
    """Host RAM bandwidth in bytes/s: STREAM's triad a = b + s*c moves 3 arrays (two read, one written; McCalpin
    1995 counts 3 x 8 bytes per element for doubles; here float32, 3 x 4), at the best of `repeats` timed runs, as
    STREAM reports its "Best Rate" (stream.c: the minimum time), so other processes on a shared host move it less."""
    torch = _torch()
    size = size_bytes or TRIAD_BYTES
    if size < 3 * MIB:
        raise SizingError(f"triad buffers of {size} bytes are too small to time; use at least 3 MiB")
    n = size // 12
    a, b, c = (torch.empty(n, dtype=torch.float32) for _ in range(3))
    b.fill_(1.0)
    c.fill_(2.0)
    torch.add(b, c, alpha=3.0, out=a)  # warm-up: first touch of the output pages
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.add(b, c, alpha=3.0, out=a)
        times.append(time.perf_counter() - t0)
    return 3 * n * 4 / max(min(times), 1e-9)


def measure_host_to_device(device: str = "cuda", size_bytes: int = 256 * MIB, repeats: int = 5) -> float:
    """Pinned host memory to the GPU in bytes/s (CUDA C Best Practices Guide §9.1.1: pinned transfers reach the
    link's bandwidth, pageable ones do not)."""
    torch = _torch()
    if _device_kind(torch, device) != "cuda":
        raise SizingError("host-to-device bandwidth needs a CUDA GPU")
    n = size_bytes // 4
    src = torch.ones(n, dtype=torch.float32).pin_memory()
    dst = torch.empty(n, dtype=torch.float32, device=device)
    seconds = _timed(torch, "cuda", lambda: dst.copy_(src, non_blocking=True), repeats=repeats, warmup=1)
    return n * 4 / seconds


def numpy_matmul_flops(n: int = 512, repeats: int = 5) -> float:
    """A tight numpy (BLAS) float32 matmul loop: the reference the torch CPU figure must reach (harness quality)."""
    import numpy as np

    a, b = _operands(n)
    out = np.empty((n, n), dtype=np.float32)
    return 2 * n**3 / _timed(None, "cpu", lambda: np.matmul(a, b, out=out), repeats=repeats, warmup=2)


def _operands(n: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)


def cpu_matmul_pair(n: int = 512, rounds: int = 3, repeats: int = 10) -> tuple[float, float]:
    """(torch, numpy) float32 FLOP/s of the same n x n matmul on the same operands (torch.from_numpy shares numpy's
    memory), each timed by the same loop (two warm-up calls, then the median of `repeats`): torch through the
    bench's own matmul_seconds_of, numpy as a tight np.matmul(out=) loop. The rounds alternate which library goes
    first, each block after SETTLE_S idle; the best round of each counts, as STREAM reports its best rate, because on
    a shared CPU a round can lose its cores to other processes. Threads are each library's own (the same when
    OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS agree, as benchmarks/harness_quality.py sets them)."""
    import numpy as np

    torch = _torch()
    if n < 16 or rounds < 1 or repeats < 1:
        raise SizingError(f"matmul comparison needs n >= 16 and at least one round and repeat, got n={n}")
    a, b = _operands(n)
    out = np.empty((n, n), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    timers = {
        "torch": lambda: matmul_seconds_of(torch, "cpu", ta, tb, repeats),
        "numpy": lambda: _timed(None, "cpu", lambda: np.matmul(a, b, out=out), repeats=repeats, warmup=2),
    }
    best = dict.fromkeys(timers, 0.0)
    for i in range(rounds):
        for name in ("torch", "numpy") if i % 2 == 0 else ("numpy", "torch"):
            time.sleep(SETTLE_S)
            best[name] = max(best[name], 2 * n**3 / timers[name]())
    return best["torch"], best["numpy"]


def largest_fitting(fits: Callable[[int], bool], low: int = 1, high: int = 1 << 16) -> int:
    """The largest n in [low, high] for which `fits(n)` holds, by doubling then bisection; `fits` runs the workload
    and returns False on an out-of-memory error (it must free what it allocated). 0 when even `low` fails."""
    if not fits(low):
        return 0
    good, bad = low, None
    while bad is None:
        trial = min(good * 2, high)
        if trial == good:
            return good
        if fits(trial):
            good = trial
        else:
            bad = trial
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if fits(mid) else (good, mid)
    return good


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's CUDA OOM (torch.OutOfMemoryError, a RuntimeError), the host's MemoryError, or a RuntimeError whose
    message says it ran out of memory (CPU allocators)."""
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())
