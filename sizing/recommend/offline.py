"""What an air-gapped site adds (`recommend --offline`): a local model store sized for the weights, a copy and the
engine's package mirror on every bill, and the lines the output prints (no cloud dependency)."""

from __future__ import annotations

from sizing.estimate.shapes import model_file_bytes
from sizing.specs import ClassOption, Drive, Execution, Line, ModelSpec, Option
from sizing.units import GB, fmt_bytes

from .derive import pick_drive
from .prices import line_of
from .provider import PartsProvider, Problem

# What the engine's package mirror takes on disk: wheels (torch with its CUDA libraries is ~3 GB) or the engine's
# container image (vllm/vllm-openai is ~10 GB compressed), a few versions kept. An allowance, UNCONFIRMED.
MIRROR_BYTES = 64 * GB


# -- offline (air-gapped) site ------------------------------------------------------------------------------------
def offline_store(parts: PartsProvider, model: ModelSpec, x: Execution) -> tuple[Drive, int, float] | None:
    """The local model store: drives holding the weights, a copy, and the engine's package mirror."""
    need = 2 * model_file_bytes(model, x.precision) + MIRROR_BYTES
    picked = pick_drive((d for d in parts.drives.values() if d.media == "ssd"), need, max_count=8)
    return (picked[0], picked[1], need) if picked else None


def offline_lines(problem: Problem) -> tuple[tuple[Line, ...], tuple[str, ...]]:
    """The BOM lines and the output lines an air-gapped site adds."""
    x, model = problem.execution, problem.model
    store = offline_store(problem.parts, model, x)
    text = [
        f"offline: no cloud dependency; weights, tokenizer and {x.engine.name}'s packages come from local disk "
        "(HF_HUB_OFFLINE=1, a local package index or a saved container image)",
    ]
    if store is None:
        text.append("offline: no SSD in drives.csv holds the model store; add one")
        return (), tuple(text)
    drive, count, need = store
    text.append(
        f"offline: model store {count} x {drive.name} for {fmt_bytes(need)}: the weights "
        f"({fmt_bytes(model_file_bytes(model, x.precision))}) + a copy + a {fmt_bytes(MIRROR_BYTES)} mirror of "
        f"{x.engine.name}'s packages"
    )
    line = line_of("offline_store", drive, count, problem.constraints)
    return (line,), tuple(text)


def with_lines(o: Option, extra: tuple[Line, ...]) -> Option:
    """The option with `extra` lines on its bill: its subtotal and unpriced parts follow."""
    if not extra:
        return o
    add = sum(ln.line_total_usd or 0.0 for ln in extra)
    missing = tuple(ln.id for ln in extra if ln.unit_price_usd is None)
    cand = o.candidate.model_copy(
        update={"subtotal_usd": o.candidate.subtotal_usd + add, "complete": o.candidate.complete and not missing}
    )
    return o.model_copy(update={"candidate": cand, "lines": o.lines + extra, "unpriced": o.unpriced + missing})


def class_with_lines(o: ClassOption, extra: tuple[Line, ...]) -> ClassOption:
    if not extra:
        return o
    add = sum(ln.line_total_usd or 0.0 for ln in extra)
    missing = tuple(ln.id for ln in extra if ln.unit_price_usd is None)
    return o.model_copy(
        update={"lines": o.lines + extra, "subtotal_usd": o.subtotal_usd + add, "unpriced": o.unpriced + missing}
    )
