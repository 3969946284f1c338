"""Fit the trainers' factors (data/trainers.csv) on the training rows of ../shared/reference/measured.csv.

    python benchmarks/calibrate_training.py [--write]

Per trainer with rows: `mfu` on its tokens/s rows (bf16 base), then `qlora_eff` on its quantized-base rows, then
`fragmentation` on its memory rows that count reserved memory (or an unstated counter, read as reserved). Each factor
minimises the median absolute log error over a grid; a factor the rows do not reach stays at its prior. `mfu` is the
GEMM efficiency of the step's roofline (sizing/estimate/training.py); its other coefficient, the multiple of the
hand-counted non-GEMM bytes (sizing/estimate/train_roofline.py NONGEMM_BYTES_MULT), is one pooled figure: each
candidate on BYTES_GRID refits the pooled factors, the one with the lowest median log error over every source's
tokens/s rows wins (refitted without the held-out source in the cross-validation). Rows whose
source does not state the box's PCIe links (measured.md: the 2x RTX 3090 rig's 'slow PCIe lanes') are left out of the
speed fit. Prints the fit and leave-one-source-out cross-validation: one shared set of factors fitted on the other
sources predicts each source in turn.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import statistics
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measured_training import TrainCase, load_training_cases, predict_training, with_trainer  # noqa: E402

from sizing import catalog as cat  # noqa: E402
from sizing.estimate import train_memory, training  # noqa: E402
from sizing.estimate.train_roofline import NONGEMM_BYTES_MULT  # noqa: E402
from sizing.specs import Trainer  # noqa: E402
from sizing.units import GIB  # noqa: E402

GRIDS = {
    "mfu": [i / 100 for i in range(10, 100)],
    "qlora_eff": [i / 100 for i in range(30, 101)],
    "fragmentation": [i / 100 for i in range(0, 41)],
    "overlap": [i / 20 for i in range(1, 21)],  # a Fraction: above 0 (trainers.csv rejects 0)
}
# Where every fit starts (so a rerun on its own output gives the same figures): PaLM's ~46% MFU less for small boxes,
# a QLoRA step 20% slower, half the collectives hidden, 5% allocator slack.
PRIOR = {"mfu": 0.40, "qlora_eff": 0.80, "overlap": 0.50, "fragmentation": 0.05}
BYTES_GRID = [i / 4 for i in range(0, 25)]  # multiples of the hand count, 0 (matmuls only) to 6
TRAINERS_CSV = Path(__file__).resolve().parents[1] / "data" / "trainers.csv"
ROOFLINE_PY = Path(__file__).resolve().parents[1] / "sizing" / "estimate" / "train_roofline.py"
# Sources kept out of every fit and only predicted: torchtitan's docs/performance.md rows (benchmarks/
# measured_torchtitan.csv: two 8-GPU H100 configurations, eager and compiled, at seq len 8192) are too few to fit a
# trainer on and measure a recipe (op-level selective checkpointing, 8k sequences) the other sources never ran.
VALIDATION_ONLY = ("torchtitan",)


def link_unknown(case: TrainCase) -> bool:
    return case.family == "answerai-fsdp-qlora" and case.system.gpu.id == "rtx-3090"


def rows_for(factor: str, cases: list[TrainCase]) -> list[TrainCase]:
    if factor == "fragmentation":
        return [c for c in cases if c.metric == "peak_memory" and not c.basis.startswith("allocated")]
    speed = [c for c in cases if c.metric == "train_tokens_per_s" and not link_unknown(c)]
    if factor == "overlap":  # only where there are collectives to hide
        return [c for c in speed if c.system.n_gpus_total > 1]
    quantized = [c for c in speed if c.execution.precision.is_quantized]
    return quantized if factor == "qlora_eff" else [c for c in speed if not c.execution.precision.is_quantized]


def median_log_error(cases: list[TrainCase], trainer: Trainer, mult: float = NONGEMM_BYTES_MULT) -> float:
    return statistics.median(abs(math.log(predict_training(with_trainer(c, trainer), mult) / c.value)) for c in cases)


def fit_bytes_mult(cases: list[TrainCase], prior: Trainer) -> float:
    """The pooled non-GEMM bytes multiple: the BYTES_GRID figure whose refitted pooled factors predict every tokens/s
    row best (median absolute log error)."""
    speed = [c for c in cases if c.metric == "train_tokens_per_s" and not link_unknown(c)]

    def error(mult: float) -> float:
        pooled, _, _ = fit(cases, prior, mult, speed_only=True)
        return median_log_error(speed, pooled, mult)

    return min(BYTES_GRID, key=error)


def fit(
    cases: list[TrainCase], trainer: Trainer, mult: float = NONGEMM_BYTES_MULT, speed_only: bool = False
) -> tuple[Trainer, dict[str, str], int]:
    """The trainer with every factor its rows reach fitted from PRIOR; the provenance of each; the rows used."""
    trainer = trainer.model_copy(update=PRIOR)
    status = {f: "prior" for f in Trainer.FACTORS}
    used = 0
    for factor in ("mfu", "qlora_eff", "overlap", "mfu", "fragmentation"):  # mfu again once overlap moved
        if speed_only and factor == "fragmentation":
            continue
        rows = rows_for(factor, cases)
        if not rows:
            continue
        used += len(rows) if factor != "mfu" or status["mfu"] == "prior" else 0
        grid = GRIDS[factor]
        best = min(grid, key=lambda v: median_log_error(rows, trainer.model_copy(update={factor: v}), mult))
        trainer = trainer.model_copy(update={factor: best})
        status[factor] = "at-bound" if best in (grid[0], grid[-1]) else "fitted"
    return trainer, status, used


def ape(case: TrainCase, trainer: Trainer, mult: float = NONGEMM_BYTES_MULT) -> float:
    return abs(predict_training(with_trainer(case, trainer), mult) / case.value - 1) * 100


def validate(held: list[TrainCase], pooled: Trainer, mult: float = NONGEMM_BYTES_MULT) -> None:
    """The validation-only sources predicted by the factors fitted on every calibration source (each row keeps its
    trainer's loss bytes): what a user of that trainer gets today, since its row carries the pooled fit."""
    print(f"\n{'validation (not fitted)':22} {'metric':20} {'rows':>5} {'median APE %':>13}  signed errors %")
    for source in sorted({c.family for c in held}):
        for metric in ("peak_memory", "train_tokens_per_s"):
            rows = [c for c in held if c.family == source and c.metric == metric]
            if not rows:
                continue
            signed = [
                (predict_training(with_trainer(c, _keep_loss(pooled, c)), mult) / c.value - 1) * 100 for c in rows
            ]
            shown = ", ".join(f"{e:+.0f}" for e in signed)
            print(f"{source:22} {metric:20} {len(rows):5} {statistics.median(map(abs, signed)):13.1f}  {shown}")
    for case in (c for c in held if c.metric in ("peak_memory", "train_tokens_per_s")):
        print(explain(with_trainer(case, _keep_loss(pooled, case)), mult))


def explain(case: TrainCase, mult: float) -> str:
    """One validation row's estimate broken down beside its measured figure (GiB of the busiest GPU; seconds of the
    step), to see which term misses."""
    mem = training.memory(case.model, case.execution, case.system)
    if case.metric == "peak_memory":
        b, m = mem.estimate.breakdown, mem.estimate
        logits = train_memory.logits_bytes(case.model, case.execution)
        parts = {
            "weights": b.weights_bytes,
            "optimizer": b.optimizer_bytes,
            "gradients": b.gradients_bytes,
            "activations": b.activations_bytes - logits,
            "loss": logits,
            "allocator slack": m.allocated_per_gpu_bytes * case.execution.training.trainer.fragmentation,  # type: ignore[union-attr]
        }
        shown = ", ".join(f"{k} {v / GIB:.1f}" for k, v in parts.items())
        return f"  {case.row_id}: measured {case.value:.1f} GiB = {shown} (GiB)"
    s = training.speed(case.model, case.execution, case.system, mem, mult)
    no_bytes = training.speed(case.model, case.execution, case.system, mem, 0.0)
    step = s.tokens_per_step / case.value
    exposed = max(0.0, s.step_s - s.compute_s - s.offload_s)
    return (
        f"  {case.row_id}: measured step {step:.2f} s; estimated {s.step_s:.2f} s = compute {s.compute_s:.2f}"
        f" (non-GEMM bytes {s.compute_s - no_bytes.compute_s:.2f}) + exposed collectives {exposed:.2f};"
        f" MFU {s.model_flops_utilization:.0%}"
    )


def _keep_loss(shared: Trainer, case: TrainCase) -> Trainer:
    return shared.model_copy(update={"loss_bytes_per_logit": case.execution.training.trainer.loss_bytes_per_logit})  # type: ignore[union-attr]


def cross_validate(cases: list[TrainCase], prior: Trainer) -> None:
    """Leave one source out: a shared set of factors (and bytes multiple) fitted on the other sources predicts the
    held-out one."""
    print(f"\n{'left out':22} {'metric':20} {'rows':>5} {'median APE %':>13}  bytes multiple")
    for source in sorted({c.family for c in cases}):
        rest = [c for c in cases if c.family != source]
        mult = fit_bytes_mult(rest, prior)
        shared, _, _ = fit(rest, prior, mult)
        for metric in ("peak_memory", "train_tokens_per_s"):
            held = [c for c in cases if c.family == source and c.metric == metric]
            held = [c for c in held if not (metric == "train_tokens_per_s" and link_unknown(c))]
            if held:
                errors = [
                    ape(
                        c,
                        shared.model_copy(
                            update={"loss_bytes_per_logit": c.execution.training.trainer.loss_bytes_per_logit}
                        ),
                        mult,
                    )
                    for c in held
                ]  # type: ignore[union-attr]
                print(f"{source:22} {metric:20} {len(held):5} {statistics.median(errors):13.1f}  {mult:.2f}")


FITTED_STAMP = re.compile(r"fitted by benchmarks/calibrate_training\.py on \d+ measured\.csv rows, \d{4}-\d{2}-\d{2}")
POOLED_NOTE = re.compile(r" Prior factors \(.*?\) are the pooled fit[^.]*\.[^.]*\.")


def write(fitted: dict[str, tuple[Trainer, dict[str, str], int]], pooled: Trainer) -> None:
    """The fitted factors into their trainers' rows; every factor a trainer's own rows do not reach takes the pooled
    fit as its prior (the note says which)."""
    rows = list(csv.DictReader(io.StringIO(TRAINERS_CSV.read_text(encoding="utf-8"))))
    today = date.today().isoformat()
    factors = ("mfu", "qlora_eff", "overlap", "fragmentation")
    for row in rows:
        t, status, n = fitted.get(row["id"], (pooled, {f: "prior" for f in Trainer.FACTORS}, 0))
        borrowed = [f for f in factors if status[f] == "prior"]
        for factor in factors:
            row[factor] = f"{getattr(pooled if factor in borrowed else t, factor):.2f}"
        row["notes"] = POOLED_NOTE.sub("", row["notes"])
        if borrowed:
            figures = ", ".join(f"{f} {getattr(pooled, f):.2f}" for f in borrowed)
            row["notes"] += (
                f" Prior factors ({figures}) are the pooled fit of benchmarks/calibrate_training.py over the "
                "torchtune, fsdp_qlora and ms-swift rows, not this trainer's own measurements."
            )
        if row["id"] not in fitted:
            continue
        row["n_rows"] = str(n)
        row["provenance"] = ";".join(f"{f}={status[f]}" for f in Trainer.FACTORS)
        stamp = f"fitted by benchmarks/calibrate_training.py on {n} measured.csv rows, {today}"
        if FITTED_STAMP.search(row["source"]):  # only the stamp: what later edits appended after it stays
            row["source"] = FITTED_STAMP.sub(stamp, row["source"], count=1)
        else:
            row["source"] += f" || {stamp}"
    buf = io.StringIO()
    out = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    out.writeheader()
    out.writerows(rows)
    TRAINERS_CSV.write_text(buf.getvalue(), encoding="utf-8")


def write_bytes_mult(mult: float) -> None:
    text = ROOFLINE_PY.read_text(encoding="utf-8")
    new = re.sub(r"^NONGEMM_BYTES_MULT = .*$", f"NONGEMM_BYTES_MULT = {mult:.2f}", text, count=1, flags=re.M)
    ROOFLINE_PY.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="fit trainers.csv factors on measured.csv training rows")
    parser.add_argument("--write", action="store_true", help="write the fitted factors into data/trainers.csv")
    args = parser.parse_args()
    catalog = cat.load()
    cases, skipped = load_training_cases(catalog)
    held = [c for c in cases if c.family in VALIDATION_ONLY]
    cases = [c for c in cases if c.family not in VALIDATION_ONLY]
    fitted = {}
    mult = fit_bytes_mult(cases, catalog.trainer("transformers"))
    print(f"non-GEMM bytes multiple {mult:.2f} (x the hand count; pooled over every source's tokens/s rows)\n")
    pooled, _, _ = fit(cases, catalog.trainer("transformers"), mult)
    print(f"{'trainer':12} {'factor':14} {'value':>6} {'status':>9}  (prior: the pooled fit over every source)")
    for trainer_id in sorted({c.execution.training.trainer.id for c in cases}):  # type: ignore[union-attr]
        own = [c for c in cases if c.execution.training.trainer.id == trainer_id]  # type: ignore[union-attr]
        t, status, n = fit(own, catalog.trainer(trainer_id), mult)
        fitted[trainer_id] = (t, status, n)
        for factor in ("mfu", "qlora_eff", "overlap", "fragmentation"):
            value = getattr(pooled if status[factor] == "prior" else t, factor)
            print(f"{trainer_id:12} {factor:14} {value:6.2f} {status[factor]:>9}")
    cross_validate(cases, catalog.trainer("transformers"))
    validate(held, pooled, mult)
    print(f"\nskipped {len(skipped)} rows: " + "; ".join(skipped[:4]) + (" ..." if len(skipped) > 4 else ""))
    if args.write:
        write(fitted, pooled)
        write_bytes_mult(mult)
        print(f"wrote {TRAINERS_CSV} and NONGEMM_BYTES_MULT in {ROOFLINE_PY}")


if __name__ == "__main__":
    main()
