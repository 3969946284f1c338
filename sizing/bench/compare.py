"""A measurement against the estimate: which catalog GPU a device name stands for, the measured / estimated
ratio per metric, and the text table of it. No file access; .files reads and writes results."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sizing import estimate as est
from sizing.specs import Execution, Gpu, ModelSpec, System
from sizing.units import fmt_bytes, fmt_rate

from .results import ENGINE, Comparison, Measurement, MetricComparison

if TYPE_CHECKING:
    from sizing.catalog import Catalog

UNITS = {
    "bandwidth_bytes_s": "B/s",
    "matmul_flops": "FLOP/s",
    "prefill_tokens_per_s": "tok/s",
    "decode_tokens_per_s": "tok/s",
    "allocated_peak_bytes": "B",
    "device_peak_bytes": "B",
}


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


def execution_of(m: Measurement, catalog: Catalog, engine: str = ENGINE) -> Execution:
    """The workload a measurement ran, as the estimator takes it: its dtype for weights and cache, its batch,
    prompt and new tokens, on `engine` (the bench decoder counts as transformers: eager PyTorch, no paging)."""
    precision = catalog.precision(m.dtype)
    return Execution(
        engine=catalog.engine(engine),
        precision=precision,
        kv_precision=precision,
        batch=m.batch,
        prompt_tokens=m.prompt_tokens,
        new_tokens=m.new_tokens,
    )


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
    work = execution_of(m, catalog)
    engine, precision = work.engine, work.precision
    e = est.estimate(spec, work, System.of(gpu, latencies=catalog.links), catalog.efficiency(engine.id, gpu.gpu_class))
    assert e.speed is not None  # an inference estimate
    basis = f"estimate(engine={engine.id}, {gpu.id})"
    targets = {
        "bandwidth_bytes_s": (gpu.mem_bw_bytes_s, f"{gpu.id} mem_bw_gb_s (vendor peak)"),
        "matmul_flops": (
            gpu.peak_flops(precision.compute_dtype),
            f"{gpu.id} {precision.compute_dtype} dense peak",
        ),
        "prefill_tokens_per_s": (e.speed.prefill_tokens_per_s, basis),
        "decode_tokens_per_s": (e.speed.decode_tokens_per_s, basis),
        "allocated_peak_bytes": (e.memory.allocated_per_gpu_bytes, basis + " allocated"),
        "device_peak_bytes": (e.memory.per_gpu_bytes, basis + " device"),
    }
    compared: list[MetricComparison] = []
    for name, value in measured.items():
        target, source = targets[name]
        compared.append(
            MetricComparison(
                metric=name,
                unit=UNITS[name],
                measured=value,
                estimate=target,
                ratio=value / target if target else None,
                basis=source,
            )
        )
    notes.append(
        "the bench decoder is a bare eager PyTorch loop (no generate()); at small batch its decode is "
        "bound by per-op launch cost (launch_s), which the transformers estimate folds into a fitted "
        "per-layer overhead"
    )
    return Comparison(measurement=m, gpu_id=gpu.id, metrics=tuple(compared), notes=tuple(notes + list(e.notes)))


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
