"""`sizing validate`: on the machine that arrived, measure what the estimates rest on and say, figure by figure,
whether it delivers: matmul and memory bandwidth against the datasheet (on a GPU: 70% of the dense peak, 60% in fp8,
and 70% of the memory bandwidth, below what healthy H100s and H200s reach here), host RAM (STREAM triad) against the
populated channels a saved build promises, host-to-device bandwidth against its PCIe link, all-reduce bus bandwidth, the
random-weight decoder and one training step (full and LoRA) against the estimate, the largest batch that fits, and
what a saved build promises (build_check: its parts, its figures within their bands, GPU power under load against its
PSU sizing; engines: the real engine's own benchmark with --engine)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sizing.specs import Base, Gpu, SizingError

from .build_check import Check, Promise, banded, load_promise, part_checks, serve_check, share, triad_check
from .compare import match_gpu
from .engines import ENGINES, engine_run
from .files import _write_atomic
from .host import power_under_load, read_host, read_nvml
from .measure import (
    MATMUL_N,
    _torch,
    measure_allreduce_busbw,
    measure_bandwidth,
    measure_matmul_as,
)
from .probes import (
    TRIAD_BYTES_QUICK,
    cpu_matmul_pair,
    cpu_name,
    host_memory_bytes,
    is_out_of_memory,
    largest_fitting,
    measure_host_to_device,
    measure_triad,
)
from .results import BenchRequest, Comparison
from .runner import run
from .training import cpu_shape, training_checks

if TYPE_CHECKING:
    from sizing.catalog import Catalog

# Pass lines against the datasheet, set below what healthy parts reach so a good machine is not rejected: MEASURED
# here (data/benchmarks/, validate on an H200 2026-12-04) bf16 760 TFLOP/s = 77% of the 989 dense peak at n = 8192,
# f16 74%, plain f32 76%, fp8 1,315 = 66% of 1,979 (torch._scaled_mm); an H100 SXM 76-78% in bf16. The device copy
# reached 75-87% of the spec bandwidth over the runs of one H200 and H100 (data/benchmarks/*.json bandwidth_bytes_s).
GPU_MATMUL_SHARE = 0.70  # of the dense datasheet peak, bf16, f16 and f32
GPU_FP8_SHARE = 0.60  # fp8 GEMMs reach less of their doubled peak at these sizes
GPU_BANDWIDTH_SHARE = 0.70  # of the spec memory bandwidth (device copy)
CPU_MATMUL_SHARE = 0.95  # of a tight numpy loop in the same run: the harness itself costs nothing
# cuBLAS sweeps on Hopper plateau by n=4096; the best of the sizes is the figure judged
GPU_MATMUL_SIZES, GPU_MATMUL_SIZES_QUICK = (2048, 4096, 8192), (1024, 2048)
CPU_ROUNDS = 5  # alternating torch / numpy rounds of the CPU matmul comparison (the best of each counts)
LINK_SHARE = 0.75  # pinned host-to-device copies reach ~75-90% of the PCIe payload rate
DECODE_BAND = 0.25  # measured decode within 25% of the estimate: twice the estimator's cross-validated error (12%)
GPU_MODEL, CPU_MODEL = "llama-3-8b", "qwen2.5-0.5b"  # the decoder's shape: a real 8B on a GPU, a small one on a CPU


class ValidateRequest(Base):
    model: str | None = None  # default: llama-3-8b on a GPU, CPU_MODEL without one
    build: str | None = None  # a saved `sizing recommend --json` or report JSON (build_check.load_promise)
    engine: str | None = None  # vllm or llama.cpp: run the real engine too (engines.py), when it is installed
    engine_model: str | None = None  # what the engine loads (default: the build's model by its HF repo; a .gguf file)
    quick: bool = False
    save: str | None = None  # folder: results go to <save>/<gpu-or-cpu>/validate-<date>.json


class Validation(Base):
    device: dict[str, Any]
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()
    runs: tuple[Comparison, ...] = ()  # the decoder runs behind the figures: what `sizing calibrate` fits

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)


def _device(torch: Any, catalog: Catalog) -> tuple[dict[str, Any], Gpu | None]:
    """The machine as torch, /proc, lscpu, dmidecode and NVML show it (each where present)."""
    info: dict[str, Any] = {
        "cpu": cpu_name(),
        "cpu_threads": os.cpu_count(),
        "host_memory_bytes": host_memory_bytes(),
        "torch": str(torch.__version__),
        "measured_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    info |= read_host()
    gpu = None
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        gpu = match_gpu(catalog, names[0])
        info |= {"gpus": names, "gpu_id": gpu.id if gpu else None, "cuda": torch.version.cuda}
        info["gpu_memory_bytes"] = float(
            min(torch.cuda.get_device_properties(i).total_memory for i in range(len(names)))
        )
        info["nvml"] = read_nvml()
    else:
        info |= {"gpus": [], "gpu_id": None, "nvml": {"available": False, "reason": "no CUDA GPU"}}
    return info, gpu


def compute_checks(gpu: Gpu | None, quick: bool, say) -> list[Check]:
    """Matmul (each dtype), device bandwidth and host-to-device on a catalog GPU; a CPU matmul against numpy."""
    if gpu is None:
        # 512 with --quick too: a few hundred ms, and at 128 a 2-thread OpenBLAS call spends its time waking its
        # workers (0.1-0.3 GFLOP/s against 13 single-threaded on the 2-core CI box), no reference for anything
        flops, ref = cpu_matmul_pair(MATMUL_N["cpu"], CPU_ROUNDS, repeats=5 if quick else 10)
        threads = _torch().get_num_threads()
        return [
            share("matmul_f32", flops, ref, CPU_MATMUL_SHARE, "FLOP/s", f"numpy matmul, same run, {threads} threads")
        ]
    checks = gpu_matmul_checks(gpu, quick, say)
    say("memory bandwidth")
    bw = measure_bandwidth("cuda", None if not quick else 256 * 2**20)
    checks.append(share("memory_bandwidth", bw, gpu.mem_bw_bytes_s, GPU_BANDWIDTH_SHARE, "B/s", f"{gpu.id} spec"))
    say("host to device")
    link = gpu.pcie_lanes / 16 * {3: 15.75e9, 4: 31.5e9, 5: 63e9}.get(gpu.pcie_gen, 31.5e9)
    checks.append(
        share(
            "host_to_device",
            measure_host_to_device("cuda"),
            link,
            LINK_SHARE,
            "B/s",
            f"PCIe {gpu.pcie_gen}.0 x{gpu.pcie_lanes}",
        )
    )
    return checks


def gpu_matmul_checks(gpu: Gpu, quick: bool, say) -> list[Check]:
    """Dense matmul per dtype at several sizes, the best size judged against the dense datasheet peak: bf16, f16,
    f32 (plain FP32) and fp8 where the catalog GPU has an fp8 peak; TF32 measured only (the catalog has no TF32
    column). A dtype this GPU or PyTorch cannot run is a row saying why, not a failure."""
    sizes = GPU_MATMUL_SIZES_QUICK if quick else GPU_MATMUL_SIZES
    checks = []
    for dtype in ("bf16", "f16", "f32", "tf32", "fp8"):
        if dtype == "fp8" and gpu.fp8_flops is None:
            continue
        say(f"matmul {dtype}")
        try:
            by_size = {n: measure_matmul_as(dtype, n) for n in sizes}
        except SizingError as exc:
            checks.append(Check(name=f"matmul_{dtype}", measured=f"not measured ({exc})", unit="FLOP/s"))
            continue
        best = max(by_size.values())
        swept = "TFLOP/s by size " + ", ".join(f"{n}: {flops / 1e12:,.0f}" for n, flops in by_size.items())
        if dtype == "tf32":
            checks.append(Check(name="matmul_tf32", measured=best, unit="FLOP/s", basis=f"measured only; {swept}"))
            continue
        peak = gpu.peak_flops(dtype)  # type: ignore[arg-type]
        line = GPU_FP8_SHARE if dtype == "fp8" else GPU_MATMUL_SHARE
        checks.append(share(f"matmul_{dtype}", best, peak, line, "FLOP/s", f"{gpu.id} dense peak; {swept}"))
    return checks


def decoder_checks(catalog: Catalog, model: str, quick: bool) -> tuple[list[Check], Comparison]:
    """The bench decoder of the model's shape: prefill, decode and peak memory against the estimate."""
    bench = run(
        catalog,
        BenchRequest(model=model, quick=quick, new_tokens=16 if quick else 128, prompt_tokens=64 if quick else 512),
    )
    checks = []
    for metric in bench.metrics:
        if metric.metric not in ("decode_tokens_per_s", "prefill_tokens_per_s", "allocated_peak_bytes"):
            continue
        ok = None if metric.ratio is None else abs(metric.ratio - 1) <= DECODE_BAND
        checks.append(
            Check(
                name=metric.metric.removesuffix("_bytes").replace("allocated_peak", "peak_memory"),
                measured=metric.measured,
                estimated=metric.estimate,
                unit=metric.unit,
                ratio=metric.ratio,
                ok=ok,
                basis=metric.basis,
            )
        )
    return checks, bench


def validate(catalog: Catalog, req: ValidateRequest, progress=None) -> Validation:
    """Every measurement, each against what was promised where something was (a datasheet, a saved build, the
    estimate), in a minute on a 2-core CPU with --quick."""
    torch = _torch()
    say = progress or (lambda _m: None)
    if req.engine and req.engine not in ENGINES:  # before minutes of measuring, not after
        raise SizingError(f"engine '{req.engine}' has no benchmark here; use --engine vllm or --engine llama.cpp")
    promise = load_promise(req.build) if req.build else None
    device, gpu = _device(torch, catalog)
    kind = "cuda" if torch.cuda.is_available() else "cpu"
    notes: list[str] = []
    if kind == "cpu":
        notes.append("no CUDA GPU: the CPU path only checks the harness; GPU figures need a GPU")
    elif gpu is None:
        notes.append(f"no catalog GPU for '{device['gpus'][0]}': GPU figures are measured, not judged")
    if kind == "cuda" and not device["nvml"].get("available"):
        notes.append(str(device["nvml"].get("reason")))
    say("matmul")
    checks = compute_checks(gpu if kind == "cuda" else None, req.quick, say)
    say("host RAM (triad)")
    triad = measure_triad(TRIAD_BYTES_QUICK if req.quick else None, repeats=3 if req.quick else 5)
    checks.append(triad_check(triad, promise.build if promise else None, catalog))
    say("all-reduce")
    checks += _allreduce(torch, kind, req.quick, notes)
    say("decoder")
    model = req.model or _decoder_model(kind, promise)
    more, bench_run = decoder_checks(catalog, model, req.quick)
    checks += banded(more, promise, DECODE_BAND)
    notes += bench_run.notes
    say("largest batch")
    checks.append(_largest_batch(catalog, model, kind, gpu, req.quick))
    say("training step")
    checks += training_checks(catalog, model, kind, gpu, req.quick)
    served, said = None, ""
    if req.engine:
        say(f"engine {req.engine}")
        served, said = engine_run(catalog, req.engine, req.engine_model, promise.workload if promise else {})
        notes.append(said)
        if served is not None and promise is None:
            checks.append(Check(name="serve_decode", measured=served, unit="tok/s", basis=f"{req.engine} benchmark"))
    if promise is not None:
        checks += part_checks(promise, device, catalog)
        why = f"--engine {req.engine} did not measure it, see the notes" if req.engine and served is None else ""
        serve = serve_check(promise, served, req.engine, catalog, why)
        checks += [serve] if serve else []
        checks += _power(kind, promise, req.quick, notes)
    result = Validation(device=device, checks=tuple(checks), notes=tuple(notes), runs=(bench_run,))
    if req.save:
        save_validation(result, Path(req.save))
    return result


def _decoder_model(kind: str, promise: Promise | None) -> str:
    """The model the decoder takes: a report's bench model on a GPU (the one that fits one card), else the default."""
    if kind == "cuda" and promise is not None and promise.bench_model:
        return promise.bench_model
    return GPU_MODEL if kind == "cuda" else CPU_MODEL


def _allreduce(torch: Any, kind: str, quick: bool, notes: list[str]) -> list[Check]:
    """Bus bandwidth over every GPU with NCCL (two or more), else two gloo processes on the host."""
    n_gpus = torch.cuda.device_count() if kind == "cuda" else 0
    backend, world = ("nccl", n_gpus) if n_gpus >= 2 else ("gloo", 2)
    try:
        busbw = measure_allreduce_busbw(world, 4 * 2**20 if quick else 64 * 2**20, backend=backend)
    except SizingError as exc:
        notes.append(str(exc))
        return []
    where = f"{world} GPUs, NCCL" if backend == "nccl" else "2 gloo processes on this host"
    return [Check(name="allreduce_busbw", measured=busbw, unit="B/s", basis=f"{where}, nccl-tests busbw")]


def _power(kind: str, promise: Promise, quick: bool, notes: list[str]) -> list[Check]:
    """Total GPU draw under a matmul load (NVML) against the sustained DC load the build's PSUs were sized for
    (sizing/estimate/power.py): the GPUs alone must stay within it."""
    sustained = (promise.build.get("power") or {}).get("sustained_w")
    if kind != "cuda" or not sustained:
        return []
    torch = _torch()
    mats = [torch.randn(4096, 4096, device=f"cuda:{i}", dtype=torch.bfloat16) for i in range(torch.cuda.device_count())]

    def load() -> None:
        for a in mats:
            for _ in range(20):
                torch.matmul(a, a)
        torch.cuda.synchronize()

    watts = power_under_load(load, 2.0 if quick else 10.0)
    if watts is None:
        notes.append("power under load not measured: NVML not available")
        return []
    budget = sustained / (promise.build.get("n_nodes", 1) or 1)
    return [
        Check(
            name="power_under_load",
            measured=watts,
            estimated=budget,
            unit="W",
            ratio=watts / budget,
            ok=watts <= budget,
            basis="every GPU's draw under bf16 matmuls (NVML) within the build's sustained DC load per node",
        )
    ]


def _largest_batch(catalog: Catalog, model: str, kind: str, gpu: Gpu | None, quick: bool) -> Check:
    """The most sequences of the decoder's shape (all layers on a GPU, CPU_LAYERS on a CPU) whose weights and cache
    the device holds, by bisection over real allocations that survive out-of-memory errors; on a GPU against the
    estimate's max_batch_at_context for the same shape and context (transformers engine, the bench's own)."""
    from sizing import estimate as est
    from sizing.modelspec import resolve
    from sizing.specs import Execution, System

    from .decoder import build_decoder

    spec = resolve(model, catalog)
    if kind != "cuda":  # the CPU figure is measured only: the training step's small shape (CPU_VOCAB caps the
        # embedding, which would otherwise be most of each trial's allocation and of --quick's minute)
        spec = cpu_shape(spec)
    tokens = 256 if quick else 2048
    dtype = "bf16" if kind == "cuda" else "f32"

    def fits(batch: int) -> bool:
        try:
            dec = build_decoder(spec, kind, dtype, batch, tokens)
        except SizingError:  # the CPU build's own cap, or not enough free memory
            return False
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            return False
        del dec
        _free(kind)
        return True

    found = largest_fitting(fits, 1, 16 if quick else 4096)
    basis = f"{spec.id}, {spec.n_layers} layers, vocab {spec.vocab_size}, {tokens} tokens per sequence"
    if gpu is None or kind != "cuda":
        return Check(name="largest_batch", measured=float(found), unit="sequences", basis=basis)
    work = Execution(
        engine=catalog.engine("transformers"),
        precision=catalog.precision(dtype),
        kv_precision=catalog.precision(dtype),
        batch=1,
        prompt_tokens=tokens,
        new_tokens=0,
    )
    promised = est.memory(spec, work, System.of(gpu, latencies=catalog.links)).max_batch_at_context
    ratio = found / promised if promised else None
    ok = None if ratio is None else abs(ratio - 1) <= DECODE_BAND
    return Check(
        name="largest_batch",
        measured=float(found),
        estimated=float(promised),
        unit="sequences",
        ratio=ratio,
        ok=ok,
        basis=basis + ", estimate",
    )


def _free(kind: str) -> None:
    if kind == "cuda":
        _torch().cuda.empty_cache()


def save_validation(v: Validation, folder: Path) -> Path:
    """<folder>/<gpu-id or cpu>/validate-<UTC date-time>.json, written atomically."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / (v.device.get("gpu_id") or "cpu") / f"validate-{stamp}.json"
    _write_atomic(path, json.dumps(validation_json(v), indent=2) + "\n")
    return path


def validation_json(v: Validation) -> dict[str, Any]:
    return {
        "device": v.device,
        "measurements": [c.model_dump(exclude={"basis"}) | {"basis": c.basis} for c in v.checks],
        "ok": v.ok,
        "notes": list(v.notes),
        "runs": [r.model_dump(mode="json") for r in v.runs],
    }


def validation_text(v: Validation) -> str:
    """One line per figure: measured, promised, ratio and verdict; the device first, the notes after."""
    from sizing.units import fmt_bytes

    gpus = ", ".join(v.device.get("gpus") or []) or "none"
    lines = [f"Device: {v.device.get('cpu')} ({v.device.get('cpu_threads')} threads), GPUs: {gpus}"]
    if v.device.get("host_memory_bytes"):
        lines[0] += f", RAM {fmt_bytes(v.device['host_memory_bytes'])}"
    for c in v.checks:
        verdict = {True: "PASS", False: "FAIL", None: "info"}[c.ok]
        ratio = f" ({c.ratio:.0%} of it)" if c.ratio is not None else ""
        promised = f" vs {_show(c.estimated, c.unit)}{ratio}" if c.estimated is not None else ""
        lines.append(f"  {verdict:4}  {c.name}: {_show(c.measured, c.unit)}{promised}  [{c.basis}]")
    lines.append("Result: " + ("the machine delivers what was checked" if v.ok else "the machine falls short"))
    lines += [f"note: {n}" for n in v.notes]
    return "\n".join(lines)


def _show(value: float | str, unit: str) -> str:
    if isinstance(value, str):
        return value
    scale = {"FLOP/s": (1e12, "TFLOP/s"), "B/s": (1e9, "GB/s"), "B": (2**30, "GiB")}.get(unit)
    if unit == "FLOP/s" and value < 1e12:  # a CPU's matmul
        scale = (1e9, "GFLOP/s")
    return f"{value / scale[0]:,.2f} {scale[1]}" if scale else f"{value:,.1f} {unit}"
