"""Fit the per-engine, per-GPU-class efficiency factors in data/efficiency.csv to the public measurements.

    python benchmarks/calibrate.py            # prints the fit; --write replaces data/efficiency.csv

The estimator's physics (bytes, FLOPs, bandwidth, peaks) is fixed; only seven factors per (engine, GPU class) are fitted
by least squares on log(predicted / measured) over speed rows (trust=suspect rows excluded). Each engine gets an
any-class row ('*') fitted on all its rows; a class with at least MIN_ROWS rows gets its own row, pulled toward the
engine's by a prior so that thin data cannot run away. Engines with no measurements copy the fitted engine that
engines.csv `fit_like` names and say so in `source`. Needs scipy (`pip install -e .[dev]`).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from datetime import date
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measured import MEASURED, Case, load_cases, predict  # noqa: E402

from sizing import catalog as cat  # noqa: E402
from sizing.specs import Efficiency  # noqa: E402

PARAMS = ("bw_eff", "quant_bw_eff", "layer_overhead_s", "kv_traffic", "mm_eff", "quant_mm_eff", "attn_eff")
PRIOR = np.array([0.8, 0.6, 100e-6, 1.0, 0.5, 0.8, 0.3])
LOWER = np.array([0.2, 0.1, 1e-7, 0.5, 0.05, 0.2, 0.005])
UPPER = np.array([1.0, 1.0, 3e-3, 200.0, 2.0, 1.5, 2.0])  # mm_eff > 1: FP16-accumulate GEMMs on GeForce (hardware.md §0)
SPEED = {"decode_tokens_per_s", "prefill_tokens_per_s", "e2e_tokens_per_s", "output_tokens_per_s",
         "time_to_first_token_s"}
MIN_ROWS = 20
PRIOR_WEIGHT = 0.5  # residual per unit of log-distance from the engine-wide fit


def copies(catalog: cat.Catalog, measured: set[str]) -> dict[str, str]:
    """Unmeasured engine -> the engine whose fit it borrows (engines.csv `fit_like`); measured engines get their own."""
    return {e.id: e.fit_like for e in catalog.engines.values() if e.fit_like and e.id not in measured}


def make_eff(engine: str, gpu_class: str, x: np.ndarray, n_rows: int, source: str) -> Efficiency:
    return Efficiency(engine=engine, gpu_class=gpu_class, n_rows=n_rows, source=source,
                      **{name: float(v) for name, v in zip(PARAMS, x, strict=True)})


def residuals(cases: list[Case], x: np.ndarray, engine: str, gpu_class: str) -> np.ndarray:
    eff = make_eff(engine, gpu_class, x, 0, "fit")
    out = []
    for case in cases:
        pred = predict(case, eff)
        ratio = pred / case.value
        out.append(math.log(ratio) if case.metric != "time_to_first_token_s" else -math.log(ratio))
    return np.array(out)


def fit(cases: list[Case], engine: str, gpu_class: str, prior: np.ndarray, weight: float) -> np.ndarray:
    def fun(logx: np.ndarray) -> np.ndarray:
        x = np.exp(logx)
        return np.concatenate([residuals(cases, x, engine, gpu_class), weight * (logx - np.log(prior))])

    start = np.clip(prior, LOWER * 1.01, UPPER * 0.99)
    result = least_squares(fun, np.log(start), bounds=(np.log(LOWER), np.log(UPPER)), loss="soft_l1", f_scale=0.2)
    return np.exp(result.x)


def fit_rows(usable: list[Case]) -> dict[tuple[str, str], Efficiency]:
    """The '*' row per engine and a row per well-covered GPU class, as main() writes them."""
    out: dict[tuple[str, str], Efficiency] = {}
    for engine in sorted({c.engine.id for c in usable}):
        mine = [c for c in usable if c.engine.id == engine]
        x_all = fit(mine, engine, "*", PRIOR, 0.05)
        out[(engine, "*")] = make_eff(engine, "*", x_all, len(mine), "")
        classes = {c.gpu.gpu_class for c in mine}
        for gpu_class in sorted(classes):
            sub = [c for c in mine if c.gpu.gpu_class == gpu_class]
            if len(sub) >= MIN_ROWS and len(classes) > 1:
                out[(engine, gpu_class)] = make_eff(engine, gpu_class, fit(sub, engine, gpu_class, x_all, PRIOR_WEIGHT),
                                                    len(sub), "")
    return out


def cross_validate() -> None:
    """Leave-one-GPU-out: how well the fitted factors predict a GPU the fit never saw."""
    import statistics

    catalog = cat.load()
    cases, _ = load_cases(catalog)
    usable = [c for c in cases if c.metric in SPEED and c.trust != "suspect"]
    print(f"{'held-out GPU':18} {'metric':22} {'rows':>5} {'median APE %':>13}")
    for gpu in sorted({c.gpu.id for c in usable}):
        held = [c for c in usable if c.gpu.id == gpu]
        effs = fit_rows([c for c in usable if c.gpu.id != gpu])
        for metric in sorted({c.metric for c in held}):
            errs = []
            for case in (c for c in held if c.metric == metric):
                eff = effs.get((case.engine.id, case.gpu.gpu_class)) or effs.get((case.engine.id, "*"))
                if eff is None:
                    continue
                errs.append(abs(predict(case, eff) - case.value) / case.value * 100)
            if errs:
                print(f"{gpu:18} {metric:22} {len(errs):5} {statistics.median(errs):13.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace data/efficiency.csv with the fit")
    parser.add_argument("--cross-validate", action="store_true",
                        help="leave one GPU out: fit without it, print the error on its rows (generalisation)")
    args = parser.parse_args()
    if args.cross_validate:
        cross_validate()
        return
    catalog = cat.load()
    cases, _ = load_cases(catalog)
    usable = [c for c in cases if c.metric in SPEED and c.trust != "suspect"]
    today = date.today().isoformat()
    rows: list[Efficiency] = []
    fitted: dict[str, np.ndarray] = {}
    for engine in sorted({c.engine.id for c in usable}):
        mine = [c for c in usable if c.engine.id == engine]
        families = sorted({c.family for c in mine})
        x_all = fit(mine, engine, "*", PRIOR, 0.05)
        fitted[engine] = x_all
        src = f"fitted by benchmarks/calibrate.py on {len(mine)} measured.csv rows ({', '.join(families)}), {today}"
        rows.append(make_eff(engine, "*", x_all, len(mine), src))
        for gpu_class in sorted({c.gpu.gpu_class for c in mine}):
            sub = [c for c in mine if c.gpu.gpu_class == gpu_class]
            if len(sub) < MIN_ROWS or len({c.gpu.gpu_class for c in mine}) == 1:
                continue
            x = fit(sub, engine, gpu_class, x_all, PRIOR_WEIGHT)
            gpus = sorted({c.gpu.id for c in sub})
            src = (f"fitted by benchmarks/calibrate.py on {len(sub)} measured.csv rows ({', '.join(gpus)}), "
                   f"prior = the engine's '*' row, {today}")
            rows.append(make_eff(engine, gpu_class, x, len(sub), src))
    for engine, like in copies(catalog, set(fitted)).items():
        if like in fitted:
            rows.append(make_eff(engine, "*", fitted[like], 0,
                                 f"UNCONFIRMED: no public measurements in measured.csv; copies {like}'s fit ({today})"))
    for e in rows:
        print(f"{e.engine:13} {e.gpu_class:12} n={e.n_rows or 0:4}  " + "  ".join(
            f"{p}={getattr(e, p) * (1e6 if p == 'layer_overhead_s' else 1):.3g}" for p in PARAMS))
    if args.write:
        path = Path(catalog.data_dir) / "efficiency.csv"
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["engine", "gpu_class", "bw_eff", "quant_bw_eff", "layer_overhead_us", "kv_traffic",
                             "mm_eff", "quant_mm_eff", "attn_eff", "n_rows", "source"])
            for e in rows:
                writer.writerow([e.engine, e.gpu_class, f"{e.bw_eff:.4f}", f"{e.quant_bw_eff:.4f}",
                                 f"{e.layer_overhead_s * 1e6:.2f}", f"{e.kv_traffic:.4f}", f"{e.mm_eff:.4f}",
                                 f"{e.quant_mm_eff:.4f}", f"{e.attn_eff:.4f}", e.n_rows, e.source])
        print(f"wrote {path} (from {MEASURED})")


if __name__ == "__main__":
    main()
