"""All-reduce bus bandwidth under torchrun, one process per GPU (NCCL) or per CPU rank (gloo):

    torchrun --standalone --nproc-per-node 8 -m sizing.bench.allreduce --bytes 268435456

Rank 0 prints one JSON line: {"backend", "world", "bytes", "seconds", "busbw_bytes_s"} (nccl-tests' busbw,
sizing.bench.measure.busbw). `measure_torchrun` launches it and reads that line back."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from sizing.specs import SizingError
from sizing.units import MIB

from .measure import _dist, _torch, allreduce_seconds, busbw


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="all-reduce bus bandwidth (nccl-tests busbw) under torchrun")
    parser.add_argument("--bytes", type=int, default=64 * MIB, help="buffer size per rank")
    parser.add_argument("--backend", choices=("nccl", "gloo"), default=None, help="default: nccl with GPUs, else gloo")
    args = parser.parse_args(argv)
    torch, dist = _torch(), _dist()
    backend = args.backend or ("nccl" if torch.cuda.is_available() else "gloo")
    dist.init_process_group(backend)  # torchrun sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
    rank, world = dist.get_rank(), dist.get_world_size()
    device = "cpu"
    if backend == "nccl":
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    n = args.bytes // 4
    seconds = allreduce_seconds(dist, torch, n, device)
    if rank == 0:
        row = {"backend": backend, "world": world, "bytes": n * 4, "seconds": seconds}
        print(json.dumps(row | {"busbw_bytes_s": busbw(n * 4, seconds, world)}), flush=True)
    dist.destroy_process_group()


def torchrun_command(world: int, size_bytes: int, backend: str | None = None) -> list[str]:
    """`python -m torch.distributed.run` (torchrun) on this machine with `world` processes."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}"]
    cmd += ["-m", "sizing.bench.allreduce", "--bytes", str(size_bytes)]
    return cmd + (["--backend", backend] if backend else [])


def measure_torchrun(
    world: int = 2, size_bytes: int = 16 * MIB, backend: str | None = None, timeout_s: int = 300
) -> dict:
    """Run the all-reduce under torchrun and return rank 0's JSON line."""
    cmd = torchrun_command(world, size_bytes, backend)
    env = os.environ | {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False, env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SizingError(f"torchrun did not run ({exc.__class__.__name__}); check the torch install") from None
    rows = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not rows:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SizingError(f"torchrun all-reduce failed (exit {done.returncode}): {tail[:200]}")
    return json.loads(rows[-1])


if __name__ == "__main__":
    main()
