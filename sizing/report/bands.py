"""Uncertainty bands and latency targets as a buyer reads them: "~118 tok/s (95-140)" in the terminal, [lo, hi] in
the JSON (sizing/estimate/bands.py makes them)."""

from __future__ import annotations

from collections.abc import Callable

from sizing.specs import Estimate


def approx(value: float, band: tuple[float, float] | None, fmt: Callable[[float], str]) -> str:
    """A figure with its uncertainty band, "~118 tok/s (95-140)"; the figure alone where it has no band."""
    text = fmt(value)
    if band is None:
        return text
    lo, hi = fmt(band[0]), fmt(band[1])
    unit = " " + text.rpartition(" ")[2] if " " in text else ""
    if unit and lo.endswith(unit) and hi.endswith(unit):
        lo, hi = lo[: -len(unit)], hi[: -len(unit)]
    return f"~{text} ({lo}-{hi})"


def ranges_json(values: dict) -> dict:
    """Band pairs as [lo, hi] lists rounded like the figures (4 digits)."""
    return {k: ([round(v[0], 4), round(v[1], 4)] if isinstance(v, tuple) else v) for k, v in values.items()}


def memory_range_json(e: Estimate) -> dict:
    """memory.per_gpu_bytes_range: the band of the device peak, [lo, hi] bytes (absent without a band)."""
    r = e.memory.per_gpu_bytes_range
    return {"per_gpu_bytes_range": [round(r[0]), round(r[1])]} if r else {}
