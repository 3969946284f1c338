"""Measure a real machine and compare it with the estimate: memory bandwidth, dense matmul FLOP/s, and a minimal
Llama-style decoder (random weights of a real model's shape, no download) for prefill/decode speed and peak memory.

The only torch user in `sizing` (.measure imports it inside a function; .decoder and .runner ask it), so
`import sizing.bench` is fast and works without torch. Results go to `<out>/<gpu-id-or-cpu>__<model-id>.json`
(data/benchmarks/ by default), one entry per workload, written atomically; `recompare` re-reads them against the
current estimator.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from sizing import estimate as est
from sizing.modelspec import resolve
from sizing.specs import Execution, Gpu, ModelSpec, SizingError, System
from sizing.units import fmt_bytes, fmt_rate

from .decoder import Decoder, build_decoder, forward, measure_decode, measure_prefill
from .measure import (
    DTYPES,
    PROGRESS,
    _check_workload,
    _torch,
    _torch_dtype,
    measure_bandwidth,
    measure_launch,
    measure_matmul,
)
from .results import ENGINE, BenchFile, Comparison, Measurement, MetricComparison
from .runner import measure

if TYPE_CHECKING:
    from sizing.catalog import Catalog

CPU_LAYERS = 2  # without a GPU the decoder keeps this many layers: a smoke test, not a sizing number

__all__ = [
    "CPU_LAYERS", "DTYPES", "ENGINE", "BenchFile", "Comparison", "Decoder", "Measurement", "MetricComparison",
    "build_decoder", "compare", "forward", "load_results", "match_gpu", "measure", "measure_bandwidth",
    "measure_decode", "measure_launch", "measure_matmul", "measure_prefill", "recompare", "result_path", "run",
    "save", "table",
]


# ------------------------------------------------------------------------------------------------- compare
UNITS = {"bandwidth_bytes_s": "B/s", "matmul_flops": "FLOP/s", "prefill_tokens_per_s": "tok/s",
         "decode_tokens_per_s": "tok/s", "allocated_peak_bytes": "B", "device_peak_bytes": "B"}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")


def match_gpu(catalog: Catalog, device_name: str) -> Gpu | None:
    """The catalog GPU a CUDA device name stands for: 'NVIDIA H100 80GB HBM3' -> h100-sxm, 'NVIDIA H200' -> h200,
    'NVIDIA GeForce RTX 4090' -> rtx-4090; the longest id or alias that the name starts with. None if unknown
    (laptop parts are not their desktop namesakes)."""
    slug = _slug(device_name)
    if "laptop" in slug or "mobile" in slug:
        return None
    slug = re.sub(r"^(nvidia|tesla)-", "", slug)
    keys = {gpu_id: gpu_id for gpu_id in catalog.gpus} | dict(catalog.aliases["gpus"])
    for candidate in (slug, slug.removeprefix("geforce-")):
        hits = [k for k in keys if candidate == k or candidate.startswith(k + "-")]
        if hits:
            return catalog.gpus[keys[max(hits, key=len)]]
    return None


def compare(m: Measurement, spec: ModelSpec, catalog: Catalog, gpu: Gpu | None) -> Comparison:
    """Per metric: the measured value, the estimate and measured / estimate. Bandwidth and matmul against the
    catalog GPU's peaks; prefill, decode and memory against estimate() with the transformers engine."""
    measured = {name: getattr(m, name) for name in UNITS if getattr(m, name) is not None}
    notes = list(m.notes)
    if gpu is None:
        rows = tuple(MetricComparison(metric=k, unit=UNITS[k], measured=v) for k, v in measured.items())
        if m.device == "cuda":
            notes.append(f"no catalog GPU for '{m.device_name}': measurements only; pass a --gpu to compare")
        return Comparison(measurement=m, metrics=rows, notes=tuple(notes))
    precision = catalog.precision(m.dtype)
    engine = catalog.engine(ENGINE)
    work = Execution(engine=engine, precision=precision, kv_precision=precision, batch=m.batch,
                     prompt_tokens=m.prompt_tokens, new_tokens=m.new_tokens)
    e = est.estimate(spec, work, System.of(gpu), catalog.efficiency(engine.id, gpu.gpu_class))
    basis = f"estimate(engine={engine.id}, {gpu.id})"
    targets = {
        "bandwidth_bytes_s": (gpu.mem_bw_bytes_s, f"{gpu.id} mem_bw_gb_s (vendor peak)"),
        "matmul_flops": (gpu.peak_flops(precision.compute_dtype), f"{gpu.id} {precision.compute_dtype} dense peak"),
        "prefill_tokens_per_s": (e.speed.prefill_tokens_per_s, basis),
        "decode_tokens_per_s": (e.speed.decode_tokens_per_s, basis),
        "allocated_peak_bytes": (e.memory.allocated_per_gpu_bytes, basis + " allocated"),
        "device_peak_bytes": (e.memory.per_gpu_bytes, basis + " device"),
    }
    rows = []
    for name, value in measured.items():
        target, source = targets[name]
        rows.append(MetricComparison(metric=name, unit=UNITS[name], measured=value, estimate=target,
                                     ratio=value / target if target else None, basis=source))
    notes.append("the bench decoder is a bare eager PyTorch loop (no generate()); at small batch its decode is "
                 "bound by per-op launch cost (launch_s), which the transformers estimate folds into a fitted "
                 "per-layer overhead")
    return Comparison(measurement=m, gpu_id=gpu.id, metrics=tuple(rows), notes=tuple(notes + list(e.notes)))


# ------------------------------------------------------------------------------------------------ save/load
def result_path(out_dir: Path | str, comparison: Comparison) -> Path:
    m = comparison.measurement
    gpu = comparison.gpu_id or ("cpu" if m.device == "cpu" else _slug(m.device_name))
    return Path(out_dir) / f"{gpu}__{_slug(m.model_id)}.json"


def load_results(path: Path | str) -> BenchFile:
    path = Path(path)
    try:
        return BenchFile.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SizingError(f"cannot read {path} ({exc.__class__.__name__}); check the path") from None
    except ValidationError:
        raise SizingError(f"{path} is not a bench results file; move it away or pick another --out") from None


def _workload_key(c: Comparison) -> tuple:
    m = c.measurement
    return (m.device_name, m.dtype, m.n_layers, m.prompt_tokens, m.new_tokens, m.batch)


def _write_atomic(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, then os.replace: readers see the old file or the new, never half
    (POSIX rename(2) is atomic within one file system)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o644)  # mkstemp makes 0600; results are for sharing
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise SizingError(f"cannot write {path} ({exc.strerror or exc}); pick another --out") from None


def check_writable(folder: Path) -> None:
    """The results folder exists (or can be made) and takes a file."""
    _write_atomic(folder / ".write-check", "")
    with contextlib.suppress(OSError):
        (folder / ".write-check").unlink()


def save(comparison: Comparison, out_dir: Path | str) -> Path:
    """Add (or replace, same workload) this run in `<out_dir>/<gpu>__<model>.json`; returns the path."""
    path = result_path(out_dir, comparison)
    runs = list(load_results(path).runs) if path.is_file() else []
    runs = [r for r in runs if _workload_key(r) != _workload_key(comparison)] + [comparison]
    gpu, model = path.stem.split("__", 1)
    _write_atomic(path, BenchFile(gpu=gpu, model=model, runs=tuple(runs)).model_dump_json(indent=2) + "\n")
    return path


# ---------------------------------------------------------------------------------------------------- run
def run(catalog: Catalog, model_name: str, gpu_hint: str | None = None, prompt_tokens: int = 512,
        new_tokens: int = 128, batch: int = 1, out_dir: Path | str | None = None, quick: bool = False,
        dtype: str = "bf16", n_layers: int | None = None, progress: PROGRESS | None = None) -> Comparison:
    """Measure `model_name` on this machine (CUDA if present, else a CPU smoke test: float32, CPU_LAYERS layers)
    and compare with the estimate; with out_dir, save the result as JSON."""
    torch = _torch()
    spec = resolve(model_name, catalog)
    if out_dir is not None:
        check_writable(Path(out_dir))  # fail before minutes of measuring, not after
    _check_workload(prompt_tokens, new_tokens, batch)
    if n_layers is not None and n_layers < 1:
        raise SizingError(f"layers must be at least 1, got {n_layers}; raise it")
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
        notes.append(f"no CUDA GPU: measured on CPU in float32 with {n_layers} of {spec.n_layers} layers; "
                     "a smoke test, not a sizing number")
    if n_layers is not None and n_layers != spec.n_layers:
        if device == "cuda":
            notes.append(f"built {n_layers} of {spec.n_layers} layers; the estimate uses the same shape")
        spec = spec.model_copy(update={"n_layers": n_layers})
    m = measure(spec, device, dtype, prompt_tokens, new_tokens, batch, quick=quick, notes=tuple(notes),
                progress=progress)
    comparison = compare(m, spec, catalog, gpu)
    if out_dir is not None:
        save(comparison, out_dir)
    return comparison


def _fmt(unit: str, value: float | None) -> str:
    if value is None:
        return "-"
    if unit == "B/s":
        return f"{value / 1e9:,.0f} GB/s"
    if unit == "FLOP/s":
        return f"{value / 1e12:,.1f} TFLOP/s"
    if unit == "tok/s":
        return fmt_rate(value)
    return fmt_bytes(value)


def table(comparison: Comparison) -> str:
    """A compact text table: metric, measured, estimated, ratio."""
    lines = [f"{'metric':<22} {'measured':>16} {'estimated':>16} {'ratio':>6}"]
    for r in comparison.metrics:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        lines.append(f"{r.metric:<22} {_fmt(r.unit, r.measured):>16} {_fmt(r.unit, r.estimate):>16} {ratio:>6}")
    return "\n".join(lines)


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
            spec = resolve(m.model_id, catalog).model_copy(update={"n_layers": m.n_layers})
            gpu = catalog.gpu(run_.gpu_id) if run_.gpu_id else None
            out.append(compare(m, spec, catalog, gpu))
    return out
