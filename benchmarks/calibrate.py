"""Fit the per-engine, per-GPU-class efficiency factors in data/efficiency.csv to the public measurements.

    python benchmarks/calibrate.py            # prints the fit; --write replaces data/efficiency.csv
    python benchmarks/calibrate.py --annotate # refills version, copied_from, provenance without refitting

The estimator's physics (bytes, FLOPs, bandwidth, peaks) is fixed; only seven factors per (engine, GPU class) are fitted
by least squares on log(predicted / measured) over speed rows (trust=suspect rows excluded). Each engine gets an
any-class row ('*') fitted on all its rows; a class with at least MIN_ROWS rows gets its own row, pulled toward the
engine's by a prior so that thin data cannot run away. Engines with no measurements copy the fitted engine that
engines.csv `fit_like` names and say so in `source` and `copied_from`. Each row also records the engine versions
its measurements name (`version`) and, per factor, whether the data fitted it or it sits at a bound or at its prior
(`provenance`). Needs scipy (`pip install -e .[dev]`).
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measured import MEASURED, Case, load_cases, predict  # noqa: E402

from sizing import catalog as cat  # noqa: E402
from sizing.specs import Efficiency, Engine  # noqa: E402

PARAMS = ("bw_eff", "quant_bw_eff", "layer_overhead_s", "kv_traffic", "mm_eff", "quant_mm_eff", "attn_eff")
PRIOR = np.array([0.8, 0.6, 100e-6, 1.0, 0.5, 0.8, 0.3])
LOWER = np.array([0.2, 0.1, 1e-7, 0.5, 0.05, 0.2, 0.005])
UPPER = np.array(
    [1.0, 1.0, 3e-3, 200.0, 2.0, 1.5, 2.0]
)  # mm_eff > 1: FP16-accumulate GEMMs on GeForce (hardware.md §0)
SPEED = {
    "decode_tokens_per_s",
    "prefill_tokens_per_s",
    "e2e_tokens_per_s",
    "output_tokens_per_s",
    "time_to_first_token_s",
}
MIN_ROWS = 20
PRIOR_WEIGHT = 0.5  # residual per unit of log-distance from the engine-wide fit
SAME = 1e-3  # relative distance within which a factor counts as equal to its prior or a bound
COLUMN = {"layer_overhead_s": "layer_overhead_us"}  # spec field -> efficiency.csv column, where they differ
HEADER = [
    "engine",
    "gpu_class",
    "bw_eff",
    "quant_bw_eff",
    "layer_overhead_us",
    "kv_traffic",
    "mm_eff",
    "quant_mm_eff",
    "attn_eff",
    "n_rows",
    "version",
    "copied_from",
    "provenance",
    "source",
]


def copies(catalog: cat.Catalog, measured: set[str]) -> dict[str, str]:
    """Unmeasured engine -> the engine whose fit it borrows (engines.csv `fit_like`); measured engines get their own."""
    return {e.id: e.fit_like for e in catalog.engines.values() if e.fit_like and e.id not in measured}


def factor_status(value: float, prior: float, lower: float, upper: float) -> str:
    """`at-bound` within SAME of LOWER or UPPER (the bound, not the data, set it), else `prior` within SAME of the
    starting prior (the data did not move it), else `fitted`."""

    def near(a: float, b: float) -> bool:
        return abs(a - b) <= SAME * abs(b)

    if near(value, lower) or near(value, upper):
        return "at-bound"
    return "prior" if near(value, prior) else "fitted"


def provenance(x: np.ndarray, prior: np.ndarray) -> tuple[tuple[str, str], ...]:
    """(efficiency.csv column, status) for each factor of a fit that started from `prior`."""
    return tuple(
        (COLUMN.get(name, name), factor_status(float(v), float(p), float(lo), float(hi)))
        for name, v, p, lo, hi in zip(PARAMS, x, prior, LOWER, UPPER, strict=True)
    )


def factors(eff: Efficiency) -> np.ndarray:
    return np.array([getattr(eff, name) for name in PARAMS])


def row_texts(path: Path = MEASURED) -> dict[str, str]:
    """measured.csv row_id -> its notes and source, where the engine version is written."""
    with path.open(newline="", encoding="utf-8") as fh:
        return {r["row_id"]: f"{r['notes']} || {r['source']}" for r in csv.DictReader(fh)}


def versions(cases: list[Case], engine: Engine, texts: dict[str, str]) -> tuple[str, ...]:
    """The engine versions the measured rows name ("vLLM 0.6.3", "TensorRT-LLM (v0.6.1", "(v1.0-era"), sorted;
    () when any row names none (the fit then also covers unknown versions)."""
    names = "|".join(re.escape(n) for n in (engine.name, engine.id, *engine.aliases))
    by_name = re.compile(rf"(?i)(?:{names})\s*\(?v?(\d+(?:\.\d+)+)")
    found: set[str] = set()
    for case in cases:
        text = texts.get(case.row_id, "")
        seen = set(by_name.findall(text)) | set(re.findall(r"\(v(\d+(?:\.\d+)+)", text))
        if not seen:
            return ()
        found |= seen
    return tuple(sorted(found, key=lambda v: tuple(int(p) for p in v.split("."))))


def make_eff(engine: str, gpu_class: str, x: np.ndarray, n_rows: int, source: str) -> Efficiency:
    return Efficiency(
        engine=engine,
        gpu_class=gpu_class,
        n_rows=n_rows,
        source=source,
        **{name: float(v) for name, v in zip(PARAMS, x, strict=True)},
    )


def residuals(cases: list[Case], x: np.ndarray, engine: str, gpu_class: str) -> np.ndarray:
    eff = make_eff(engine, gpu_class, x, 0, "fit")
    out = []
    for case in cases:
        pred = predict(case, eff)
        ratio = pred / case.value
        out.append(math.log(ratio) if case.metric != "time_to_first_token_s" else -math.log(ratio))
    return np.array(out)


def fit(cases: list[Case], engine: str, gpu_class: str, prior: np.ndarray, weight: float) -> np.ndarray:
    from scipy.optimize import least_squares  # only fitting needs scipy (pip install -e .[dev])

    def fun(logx: np.ndarray) -> np.ndarray:
        x = np.exp(logx)
        return np.concatenate([residuals(cases, x, engine, gpu_class), weight * (logx - np.log(prior))])

    start = np.clip(prior, LOWER * 1.01, UPPER * 0.99)
    result = least_squares(fun, np.log(start), bounds=(np.log(LOWER), np.log(UPPER)), loss="soft_l1", f_scale=0.2)
    return np.exp(result.x)


def fit_rows(usable: list[Case]) -> dict[tuple[str, str], Efficiency]:
    """The '*' row per engine and a row per well-covered GPU class, as main() writes them."""
    out: dict[tuple[str, str], Efficiency] = {}
    for engine in sorted({c.execution.engine.id for c in usable}):
        mine = [c for c in usable if c.execution.engine.id == engine]
        x_all = fit(mine, engine, "*", PRIOR, 0.05)
        out[(engine, "*")] = make_eff(engine, "*", x_all, len(mine), "")
        for gpu_class, sub in class_cases(mine).items():
            out[(engine, gpu_class)] = make_eff(
                engine, gpu_class, fit(sub, engine, gpu_class, x_all, PRIOR_WEIGHT), len(sub), ""
            )
    return out


def cross_validate() -> None:
    """Leave-one-GPU-out: how well the fitted factors predict a GPU the fit never saw."""
    import statistics

    catalog = cat.load()
    usable = usable_cases(catalog)
    print(f"{'held-out GPU':18} {'metric':22} {'rows':>5} {'median APE %':>13}")
    for gpu in sorted({c.gpu.id for c in usable}):
        held = [c for c in usable if c.gpu.id == gpu]
        effs = fit_rows([c for c in usable if c.gpu.id != gpu])
        for metric in sorted({c.metric for c in held}):
            errs = []
            for case in (c for c in held if c.metric == metric):
                eff = effs.get((case.execution.engine.id, case.gpu.gpu_class)) or effs.get(
                    (case.execution.engine.id, "*")
                )
                if eff is None:
                    continue
                errs.append(abs(predict(case, eff) - case.value) / case.value * 100)
            if errs:
                print(f"{gpu:18} {metric:22} {len(errs):5} {statistics.median(errs):13.1f}")


def usable_cases(catalog: cat.Catalog) -> list[Case]:
    cases, _ = load_cases(catalog)
    return [c for c in cases if c.metric in SPEED and c.trust != "suspect"]


def class_cases(mine: list[Case]) -> dict[str, list[Case]]:
    """The GPU classes of one engine's rows that get their own row: at least MIN_ROWS rows, and not the only class."""
    classes = sorted({c.gpu.gpu_class for c in mine})
    subs = {k: [c for c in mine if c.gpu.gpu_class == k] for k in classes}
    return {k: sub for k, sub in subs.items() if len(sub) >= MIN_ROWS and len(classes) > 1}


def fit_all(catalog: cat.Catalog, usable: list[Case], today: str) -> list[Efficiency]:
    """Every efficiency.csv row: a fitted '*' row per measured engine, fitted class rows, and copies."""
    texts = row_texts()
    rows: list[Efficiency] = []
    fitted: dict[str, Efficiency] = {}
    for engine in sorted({c.execution.engine.id for c in usable}):
        mine = [c for c in usable if c.execution.engine.id == engine]
        families = sorted({c.family for c in mine})
        x_all = fit(mine, engine, "*", PRIOR, 0.05)
        src = f"fitted by benchmarks/calibrate.py on {len(mine)} measured.csv rows ({', '.join(families)}), {today}"
        fitted[engine] = make_eff(engine, "*", x_all, len(mine), src).model_copy(
            update={
                "versions": versions(mine, catalog.engines[engine], texts),
                "provenance": provenance(x_all, PRIOR),
            }
        )
        rows.append(fitted[engine])
        for gpu_class, sub in class_cases(mine).items():
            x = fit(sub, engine, gpu_class, x_all, PRIOR_WEIGHT)
            gpus = sorted({c.gpu.id for c in sub})
            src = (
                f"fitted by benchmarks/calibrate.py on {len(sub)} measured.csv rows ({', '.join(gpus)}), "
                f"prior = the engine's '*' row, {today}"
            )
            rows.append(
                make_eff(engine, gpu_class, x, len(sub), src).model_copy(
                    update={
                        "versions": versions(sub, catalog.engines[engine], texts),
                        "provenance": provenance(x, x_all),
                    }
                )
            )
    for engine, like in copies(catalog, set(fitted)).items():
        if like in fitted:
            src = f"UNCONFIRMED: no public measurements in measured.csv; copies {like}'s fit ({today})"
            rows.append(
                fitted[like].model_copy(
                    update={"engine": engine, "n_rows": 0, "versions": (), "copied_from": like, "source": src}
                )
            )
    return rows


def annotate(catalog: cat.Catalog, usable: list[Case]) -> list[Efficiency]:
    """The rows of efficiency.csv as they are, with version, copied_from and provenance recomputed from their
    values and the measured rows their fit used (no refit: every number stays)."""
    texts = row_texts()
    any_class = {e.engine: e for e in catalog.efficiencies if e.gpu_class == "*"}
    out = []
    for eff in catalog.efficiencies:
        engine = catalog.engines[eff.engine]
        mine = [c for c in usable if c.execution.engine.id == eff.engine]
        if eff.gpu_class != "*":
            mine = class_cases(mine).get(eff.gpu_class, [])
        copied = eff.copied_from or (engine.fit_like if not eff.n_rows else None)
        prior = PRIOR if eff.gpu_class == "*" or copied else factors(any_class[eff.engine])
        out.append(
            eff.model_copy(
                update={
                    "versions": () if copied or not mine else versions(mine, engine, texts),
                    "copied_from": copied,
                    "provenance": provenance(factors(eff), prior),
                }
            )
        )
    return out


def write(path: Path, rows: list[Efficiency]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        for e in rows:
            writer.writerow(
                [
                    e.engine,
                    e.gpu_class,
                    f"{e.bw_eff:.4f}",
                    f"{e.quant_bw_eff:.4f}",
                    f"{e.layer_overhead_s * 1e6:.2f}",
                    f"{e.kv_traffic:.4f}",
                    f"{e.mm_eff:.4f}",
                    f"{e.quant_mm_eff:.4f}",
                    f"{e.attn_eff:.4f}",
                    e.n_rows,
                    ";".join(e.versions),
                    e.copied_from or "",
                    ";".join(f"{k}={v}" for k, v in e.provenance),
                    e.source,
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace data/efficiency.csv with the fit")
    parser.add_argument(
        "--annotate",
        action="store_true",
        help="refill version, copied_from and provenance of data/efficiency.csv without refitting",
    )
    parser.add_argument(
        "--cross-validate",
        action="store_true",
        help="leave one GPU out: fit without it, print the error on its rows (generalisation)",
    )
    args = parser.parse_args()
    if args.cross_validate:
        cross_validate()
        return
    catalog = cat.load()
    usable = usable_cases(catalog)
    rows = annotate(catalog, usable) if args.annotate else fit_all(catalog, usable, date.today().isoformat())
    for e in rows:
        print(
            f"{e.engine:13} {e.gpu_class:12} n={e.n_rows or 0:4}  "
            + "  ".join(f"{p}={getattr(e, p) * (1e6 if p == 'layer_overhead_s' else 1):.3g}" for p in PARAMS)
            + f"  v={';'.join(e.versions) or '?'}"
            + (f"  copies {e.copied_from}" if e.copied_from else "")
            + "  "
            + " ".join(f"{k}:{v}" for k, v in e.provenance if v != "fitted")
        )
    if args.write or args.annotate:
        path = Path(catalog.data_dir) / "efficiency.csv"
        write(path, rows)
        print(f"wrote {path} (from {MEASURED})")


if __name__ == "__main__":
    main()
