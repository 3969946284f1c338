"""A whole bench run: the micro benchmarks, then one decoder of the model's shape, into one Measurement
(`measure`); `run` measures a model by name on this machine and compares it with the estimate, `recompare`
compares saved runs again with today's estimator."""

from __future__ import annotations

import contextlib
import datetime as dt
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sizing.modelspec import resolve
from sizing.specs import Gpu, SizingError

from .compare import compare, match_gpu
from .decoder import build_decoder, cut, measure_decode, measure_prefill
from .files import check_writable, load_results, save
from .measure import (
    BW_BYTES_QUICK,
    MATMUL_N,
    MATMUL_N_QUICK,
    PROGRESS,
    _check_workload,
    _device_kind,
    _torch,
    _torch_dtype,
    measure_bandwidth,
    measure_launch,
    measure_matmul,
)
from .results import BenchRequest, BenchRun, Comparison, Measurement

if TYPE_CHECKING:
    from sizing.catalog import Catalog

CPU_LAYERS = 2  # without a GPU the decoder keeps this many layers: a smoke test, not a sizing number


def _device_name(torch: Any, kind: str) -> str:
    if kind == "cuda":
        return str(torch.cuda.get_device_name())
    with contextlib.suppress(OSError, UnicodeDecodeError):  # Linux names the CPU model here
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "cpu"


def measure(
    work: BenchRun, quick: bool = False, notes: tuple[str, ...] = (), progress: PROGRESS | None = None
) -> Measurement:
    """Bandwidth, matmul, then one decoder of the model's shape: prefill, decode and (CUDA) peak memory."""
    torch = _torch()
    spec, device, dtype = work.model_spec, work.device, work.dtype
    prompt_tokens, new_tokens, batch = work.prompt_tokens, work.new_tokens, work.batch
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
    prefill = measure_prefill(work, repeats=1 if quick else 3, decoder=dec)
    say(f"decode {batch} x {new_tokens} tokens")
    decode = measure_decode(work, decoder=dec)
    memory: dict[str, float] = {}
    if kind == "cuda":
        free, total = torch.cuda.mem_get_info()
        outside = total - free - torch.cuda.memory_reserved()  # CUDA context, cuBLAS workspace, other processes
        memory = {
            "allocated_peak_bytes": float(torch.cuda.max_memory_allocated()),
            "reserved_peak_bytes": float(torch.cuda.max_memory_reserved()),
            "device_peak_bytes": float(torch.cuda.max_memory_reserved() + max(outside, 0)),
        }
    del dec
    if kind == "cuda":
        torch.cuda.empty_cache()
    read_s = spec.derived_params * (4 if dtype == "f32" else 2) / bandwidth  # weights read once per step
    notes = (
        *notes,
        f"decode step {1e3 / decode:.1f} ms; reading the weights at the measured bandwidth takes "
        f"{1e3 * read_s:.1f} ms; one eager op costs {1e6 * launch:.0f} us to launch here",
    )
    return Measurement(
        device=kind,
        device_name=_device_name(torch, kind),
        torch_version=str(torch.__version__),
        cuda_version=torch.version.cuda if kind == "cuda" else None,
        dtype=dtype,
        model_id=spec.id,
        n_layers=spec.n_layers,
        n_params=float(spec.derived_params),
        prompt_tokens=prompt_tokens,
        new_tokens=new_tokens,
        batch=batch,
        bandwidth_bytes_s=bandwidth,
        matmul_flops=flops,
        matmul_n=mm_n,
        launch_s=launch,
        prefill_tokens_per_s=prefill,
        decode_tokens_per_s=decode,
        **memory,
        measured_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        notes=notes,
    )


def run(
    catalog: Catalog,
    request: BenchRequest,
    out_dir: Path | str | None = None,
    progress: PROGRESS | None = None,
) -> Comparison:
    """Measure `request.model` on this machine (CUDA if present, else a CPU smoke test: float32, CPU_LAYERS
    layers) and compare with the estimate; with out_dir, save the result as JSON."""
    torch = _torch()
    spec = resolve(request.model, catalog)
    prompt_tokens, new_tokens, batch = request.prompt_tokens, request.new_tokens, request.batch
    gpu_hint, dtype, n_layers = request.gpu, request.dtype, request.n_layers
    _check_workload(prompt_tokens, new_tokens, batch)
    if n_layers is not None and n_layers < 1:
        raise SizingError(f"layers must be at least 1, got {n_layers}; raise it")
    if out_dir is not None:  # after the request is known good, so a rejected request leaves no folder behind
        check_writable(Path(out_dir))  # fail before minutes of measuring, not after
    notes: list[str] = []
    gpu: Gpu | None = None
    if torch.cuda.is_available():
        device = "cuda"
        _torch_dtype(torch, dtype)
        gpu = catalog.gpu(gpu_hint) if gpu_hint else match_gpu(catalog, torch.cuda.get_device_name())
    else:
        device, dtype = "cpu", "f32"
        if gpu_hint:
            notes.append(f"--gpu {gpu_hint} not compared: there is no CUDA GPU to measure")
        n_layers = min(n_layers or CPU_LAYERS, spec.n_layers)
        notes.append(
            f"no CUDA GPU: measured on CPU in float32 with {n_layers} of {spec.n_layers} layers; "
            "a smoke test, not a sizing number"
        )
    if n_layers is not None and n_layers != spec.n_layers:
        if device == "cuda":
            notes.append(f"built {n_layers} of {spec.n_layers} layers; the estimate uses the same shape")
        spec = cut(spec, n_layers=n_layers)
    work = BenchRun(
        model_spec=spec,
        device=device,
        dtype=dtype,
        prompt_tokens=prompt_tokens,
        new_tokens=new_tokens,
        batch=batch,
    )
    m = measure(work, quick=request.quick, notes=tuple(notes), progress=progress)
    comparison = compare(m, spec, catalog, gpu)
    if out_dir is not None:
        save(comparison, out_dir)
    return comparison


def recompare(catalog: Catalog, paths: list[Path]) -> list[Comparison]:
    """Every stored run in `paths` (files or folders of results) compared again with the current estimator and
    catalog: how today's estimates fare against what was measured."""
    files: list[Path] = []
    for p in paths:
        files += sorted(Path(p).glob("*__*.json")) if Path(p).is_dir() else [Path(p)]
    if not files:
        raise SizingError(f"no bench results (*__*.json) in {', '.join(map(str, paths))}; run `sizing bench` first")
    out = []
    for path in files:
        for run_ in load_results(path).runs:
            m = run_.measurement
            spec = cut(resolve(m.model_id, catalog), n_layers=m.n_layers)
            gpu = catalog.gpu(run_.gpu_id) if run_.gpu_id else None
            out.append(compare(m, spec, catalog, gpu))
    return out
