"""Fit the engines' CPU-side factors (data/cpu_efficiency.csv) on ../shared/reference/measured_hybrid.csv.

    python benchmarks/calibrate_hybrid.py [--write] [--cross-validate]

Per engine with rows: bw_eff (DRAM bandwidth reached in decode), mm_eff (vector peak reached by host matmuls),
amx_eff (AMX peak reached), numa_eff (share of a second socket's bandwidth a per-node copy gains) and pcie_eff (PCIe
rate reached streaming host weights to the GPU) minimise the squared log error of the engine's fitted rows
(measured_hybrid.py says which rows and why), by coordinate search within BOUNDS from PRIOR. A factor that no row of
the engine moves stays where it was: the prior, or for an engine that borrows (BORROW) the lender's fitted value,
marked `prior` either way. Rows on GPUs alone (ik_llama.cpp issue #263) test the GPU factors and are not fitted
here. Set SIZING_MEASURED_HYBRID to use another file. --cross-validate refits without each source in turn and
prints the error on the source left out.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measured_hybrid import HybridCase, load_hybrid_cases, predict, with_cpu_eff  # noqa: E402

from sizing import catalog as cat  # noqa: E402
from sizing.specs import CpuEfficiency  # noqa: E402

FACTORS = CpuEfficiency.FACTORS
PRIOR = {"bw_eff": 0.5, "mm_eff": 0.5, "amx_eff": 0.2, "numa_eff": 0.5, "pcie_eff": 0.7}
# bw_eff and pcie_eff are shares of a peak; mm_eff may pass 1 (int8 dot products against the FP32 vector peak)
BOUNDS = {
    "bw_eff": (0.05, 1.0),
    "mm_eff": (0.01, 4.0),
    "amx_eff": (0.002, 1.0),
    "numa_eff": (0.0, 1.0),
    "pcie_eff": (0.05, 1.0),
}
BORROW = {"ik_llama.cpp": "llama.cpp"}  # a fork keeps its upstream's factors where its own rows say nothing
CPU_EFF_CSV = Path(__file__).resolve().parents[1] / "data" / "cpu_efficiency.csv"
PASSES = 4
GRID = 41  # log-spaced points per factor search


def loss(cases: list[HybridCase], e: CpuEfficiency) -> float:
    return sum(math.log(predict(with_cpu_eff(c, e)) / c.value) ** 2 for c in cases)


def _search(cases: list[HybridCase], e: CpuEfficiency, factor: str) -> CpuEfficiency:
    """The factor's best value within its bounds: a log-spaced grid (a roofline makes the loss flat where the
    factor does not bind, so a bracketing search alone can walk off), then golden-section refinement around the
    best grid point; 0 is tried too for numa_eff."""
    lo, hi = BOUNDS[factor]
    a0, b0 = math.log(max(lo, 1e-3)), math.log(hi)
    grid = [a0 + (b0 - a0) * i / (GRID - 1) for i in range(GRID)]

    def f(v: float) -> float:
        return loss(cases, e.model_copy(update={factor: math.exp(v)}))

    values = [f(v) for v in grid]
    i = min(range(GRID), key=values.__getitem__)
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, GRID - 1)]
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(16):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    best_v = min(((a + b) / 2, f((a + b) / 2)), (grid[i], values[i]), key=lambda t: t[1])[0]
    best = e.model_copy(update={factor: math.exp(best_v)})
    if factor == "numa_eff" and loss(cases, e.model_copy(update={factor: 0.0})) < loss(cases, best):
        return e.model_copy(update={factor: 0.0})
    return best


def moved(cases: list[HybridCase], e: CpuEfficiency, factor: str) -> bool:
    """Whether any row's estimate depends on the factor."""
    v = getattr(e, factor)
    base = [predict(with_cpu_eff(c, e)) for c in cases]
    for other in (v * 1.5 + 0.01, v / 4):  # up and well down: a roofline hides a factor until it binds
        trial = e.model_copy(update={factor: other})
        if any(abs(predict(with_cpu_eff(c, trial)) / b - 1) > 1e-9 for c, b in zip(cases, base, strict=True)):
            return True
    return False


def fit(cases: list[HybridCase], start: CpuEfficiency) -> tuple[CpuEfficiency, dict[str, str]]:
    """Coordinate search over the factors the rows move; (the fit, factor -> fitted / at-bound / prior)."""
    free = [f for f in FACTORS if cases and moved(cases, start, f)]
    e = start
    for _ in range(PASSES):
        for factor in free:
            e = _search(cases, e, factor)
    status = {}
    for f in FACTORS:
        lo, hi = BOUNDS[f]
        v = getattr(e, f)
        status[f] = "prior" if f not in free else "at-bound" if min(abs(v - lo), abs(v - hi)) <= 1e-3 * hi else "fitted"
    return e, status


def fit_all(cases: list[HybridCase], catalog: cat.Catalog) -> list[CpuEfficiency]:
    today = date.today().isoformat()
    rows: dict[str, CpuEfficiency] = {}
    engines = [e for e in ("llama.cpp", "ktransformers", "ik_llama.cpp") if e in catalog.engines]
    for engine in sorted(engines, key=lambda e: e in BORROW):  # lenders first
        own = [c for c in cases if c.engine == engine and c.fit and c.execution.hybrid is not None]
        base = rows[BORROW[engine]] if engine in BORROW else None
        start = CpuEfficiency(engine=engine, **({f: getattr(base, f) for f in FACTORS} if base else PRIOR), source="")
        e, status = fit(own, start)
        sources = sorted({c.source_key for c in own})
        kept = [f for f in FACTORS if status[f] == "prior"]
        lent = (
            f"; {', '.join(kept)}: {BORROW[engine]}'s fit (its upstream), not moved by its rows"
            if base and kept
            else ""
        )
        rows[engine] = e.model_copy(
            update={
                "n_rows": len(own),
                "provenance": tuple((f, status[f]) for f in FACTORS),
                "source": f"fitted by benchmarks/calibrate_hybrid.py on {len(own)} measured_hybrid.csv rows "
                f"({', '.join(sources) or 'none'}){lent}, {today}",
            }
        )
    return [rows[e] for e in engines]


def write(rows: list[CpuEfficiency]) -> None:
    with CPU_EFF_CSV.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(CpuEfficiency.COLUMNS)
        for e in rows:
            w.writerow(
                [e.engine, *(f"{getattr(e, f):.4f}" for f in FACTORS), e.n_rows, e.copied_from or ""]
                + [";".join(f"{f}={s}" for f, s in e.provenance), e.source]
            )


def cross_validate(cases: list[HybridCase], catalog: cat.Catalog) -> None:
    """Each source left out in turn: its rows' error with the factors fitted on the others."""
    print(f"\n{'left out':18} {'row':22} {'metric':22} {'measured':>9} {'estimated':>9} {'error %':>8}")
    for source in sorted({c.source_key for c in cases if c.fit and c.execution.hybrid is not None}):
        rest = [c for c in cases if c.source_key != source]
        fitted = {e.engine: e for e in fit_all(rest, catalog)}
        for c in (c for c in cases if c.source_key == source and c.fit and c.execution.hybrid is not None):
            p = predict(with_cpu_eff(c, fitted[c.engine]))
            print(f"{source:18} {c.row_id:22} {c.metric:22} {c.value:9.2f} {p:9.2f} {100 * (p / c.value - 1):+8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description="fit data/cpu_efficiency.csv on measured_hybrid.csv")
    parser.add_argument("--write", action="store_true", help="overwrite data/cpu_efficiency.csv with the fit")
    parser.add_argument("--cross-validate", action="store_true", help="leave each source out in turn")
    args = parser.parse_args()
    catalog = cat.load()
    cases, skipped = load_hybrid_cases(catalog)
    rows = fit_all(cases, catalog)
    print(f"{'engine':14} {'rows':>4} " + " ".join(f"{f:>16}" for f in FACTORS))
    for e in rows:
        status = dict(e.provenance)
        print(f"{e.engine:14} {e.n_rows:4} " + " ".join(f"{getattr(e, f):7.4f} {status[f]:>8}" for f in FACTORS))
    fitted = {e.engine: e for e in rows}
    errors = [
        abs(math.log(predict(with_cpu_eff(c, fitted[c.engine])) / c.value))
        for c in cases
        if c.fit and c.execution.hybrid is not None
    ]
    print(
        f"\nfitted rows: {len(errors)}, median |log error| {statistics.median(errors):.3f}; not placed: {len(skipped)}"
    )
    if args.cross_validate:
        cross_validate(cases, catalog)
    if args.write:
        write(rows)
        print(f"wrote {CPU_EFF_CSV}")


if __name__ == "__main__":
    main()
