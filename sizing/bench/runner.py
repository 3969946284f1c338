"""A whole bench run: the micro benchmarks, then one decoder of the model's shape, into one Measurement."""

from __future__ import annotations

import contextlib
import datetime as dt
import platform
from pathlib import Path
from typing import Any

from sizing.specs import ModelSpec

from .decoder import build_decoder, measure_decode, measure_prefill
from .measure import (
    BW_BYTES_QUICK,
    MATMUL_N,
    MATMUL_N_QUICK,
    PROGRESS,
    _check_workload,
    _device_kind,
    _torch,
    measure_bandwidth,
    measure_launch,
    measure_matmul,
)
from .results import Measurement


def _device_name(torch: Any, kind: str) -> str:
    if kind == "cuda":
        return str(torch.cuda.get_device_name())
    with contextlib.suppress(OSError, UnicodeDecodeError):  # Linux names the CPU model here
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "cpu"


def measure(spec: ModelSpec, device: str, dtype: str, prompt_tokens: int, new_tokens: int, batch: int = 1,
            quick: bool = False, notes: tuple[str, ...] = (), progress: PROGRESS | None = None) -> Measurement:
    """Bandwidth, matmul, then one decoder of `spec`'s shape: prefill, decode and (CUDA) peak memory."""
    torch = _torch()
    kind = _device_kind(torch, device)
    _check_workload(prompt_tokens, new_tokens, batch)
    say = progress or (lambda _msg: None)
    say("bandwidth")
    bandwidth = measure_bandwidth(device, BW_BYTES_QUICK if quick else None, repeats=3 if quick else 10)
    mm_n = MATMUL_N_QUICK if quick else MATMUL_N[kind]
    say(f"matmul {mm_n}^3 {dtype}")
    flops = measure_matmul(device, dtype, mm_n, repeats=3 if quick else 10)
    say("launch overhead")
    launch = measure_launch(device, 200 if quick else 1000)
    if kind == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    say(f"weights {spec.id}: {spec.n_layers} layers, {spec.derived_params / 1e9:.2f}B parameters, {dtype}")
    dec = build_decoder(spec, device, dtype, batch, prompt_tokens + new_tokens)
    say(f"prefill {batch} x {prompt_tokens} tokens")
    prefill = measure_prefill(spec, device, dtype, prompt_tokens, batch, repeats=1 if quick else 3, decoder=dec)
    say(f"decode {batch} x {new_tokens} tokens")
    decode = measure_decode(spec, device, dtype, prompt_tokens, new_tokens, batch, decoder=dec)
    memory: dict[str, float] = {}
    if kind == "cuda":
        free, total = torch.cuda.mem_get_info()
        outside = total - free - torch.cuda.memory_reserved()  # CUDA context, cuBLAS workspace, other processes
        memory = {"allocated_peak_bytes": float(torch.cuda.max_memory_allocated()),
                  "reserved_peak_bytes": float(torch.cuda.max_memory_reserved()),
                  "device_peak_bytes": float(torch.cuda.max_memory_reserved() + max(outside, 0))}
    del dec
    if kind == "cuda":
        torch.cuda.empty_cache()
    read_s = spec.derived_params * (4 if dtype == "f32" else 2) / bandwidth  # weights read once per step
    notes = (*notes, f"decode step {1e3 / decode:.1f} ms; reading the weights at the measured bandwidth takes "
             f"{1e3 * read_s:.1f} ms; one eager op costs {1e6 * launch:.0f} us to launch here")
    return Measurement(
        device=kind, device_name=_device_name(torch, kind), torch_version=str(torch.__version__),
        cuda_version=torch.version.cuda if kind == "cuda" else None, dtype=dtype, model_id=spec.id,
        n_layers=spec.n_layers, n_params=float(spec.derived_params), prompt_tokens=prompt_tokens,
        new_tokens=new_tokens, batch=batch, bandwidth_bytes_s=bandwidth, matmul_flops=flops, matmul_n=mm_n, launch_s=launch,
        prefill_tokens_per_s=prefill, decode_tokens_per_s=decode, **memory,
        measured_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), notes=notes)
