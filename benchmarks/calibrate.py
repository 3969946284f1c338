"""Fit the per-engine, per-GPU-class efficiency factors in data/efficiency.csv to the public measurements.

    python benchmarks/calibrate.py            # prints the fit; --write replaces data/efficiency.csv
    python benchmarks/calibrate.py --annotate # refills version, copied_from, provenance without refitting
    python benchmarks/calibrate.py --cross-validate [--write]  # leave one GPU / model / engine out; --write: bands.csv

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
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measured import MEASURED, Case, load_cases, predict  # noqa: E402

from sizing import catalog as cat  # noqa: E402
from sizing.specs import Efficiency, Engine, ErrorBand  # noqa: E402

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


def log_errors(cases: list[Case], eff_of: Callable[[Case], Efficiency]) -> np.ndarray:
    """log(predicted / measured) of each row under its Efficiency (a time's sign flipped, so that + is too fast)."""
    out = []
    for case in cases:
        ratio = predict(case, eff_of(case)) / case.value
        out.append(math.log(ratio) if case.metric != "time_to_first_token_s" else -math.log(ratio))
    return np.array(out)


def residuals(cases: list[Case], x: np.ndarray, engine: str, gpu_class: str) -> np.ndarray:
    eff = make_eff(engine, gpu_class, x, 0, "fit")
    return log_errors(cases, lambda _case: eff)


def solve(
    errors: Callable[[np.ndarray], np.ndarray], prior: np.ndarray, weight: float, start: np.ndarray
) -> np.ndarray:
    """The factors x minimising soft-L1 of errors(x) plus weight x log(x / prior), within [LOWER, UPPER], searched
    in log space from `start`."""
    from scipy.optimize import least_squares  # only fitting needs scipy (pip install -e .[dev])

    def fun(logx: np.ndarray) -> np.ndarray:
        return np.concatenate([errors(np.exp(logx)), weight * (logx - np.log(prior))])

    x0 = np.clip(start, LOWER * 1.01, UPPER * 0.99)
    result = least_squares(fun, np.log(x0), bounds=(np.log(LOWER), np.log(UPPER)), loss="soft_l1", f_scale=0.2)
    return np.exp(result.x)


def fit(cases: list[Case], engine: str, gpu_class: str, prior: np.ndarray, weight: float) -> np.ndarray:
    return solve(lambda x: residuals(cases, x, engine, gpu_class), prior, weight, prior)


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


# measured.csv metric -> the band it informs (data/bands.csv `metric`) and the sign of its log error on a rate
GROUP = {
    "decode_tokens_per_s": ("decode", 1),
    "e2e_tokens_per_s": ("decode", 1),
    "output_tokens_per_s": ("decode", 1),
    "prefill_tokens_per_s": ("prefill", 1),
    "time_to_first_token_s": ("prefill", -1),  # a time: its rate is the inverse
}
BAND_LO, BAND_HI = 0.10, 0.90  # the percentiles of measured / estimated a band spans


@dataclass(frozen=True)
class Held:
    """One held-out row's prediction: which cross-validation, what was held out, and log(measured / estimated) of
    the row's rate (a time is inverted)."""

    basis: str
    held: str
    engine: str
    gpu_class: str
    group: str
    log_ratio: float


def held_ratio(case: Case, eff: Efficiency) -> float:
    group, sign = GROUP[case.metric]
    return sign * math.log(case.value / predict(case, eff))


def fit_start(cases: list[Case], engine: str, gpu_class: str, prior: np.ndarray, weight: float, start: np.ndarray):
    """fit() started at `start` (a nearby fit) rather than at the prior: the same optimum, reached in fewer steps."""
    return solve(lambda x: residuals(cases, x, engine, gpu_class), prior, weight, start)


def leave_one_gpu_out(catalog: cat.Catalog, usable: list[Case]) -> list[Held]:
    """Each GPU's rows predicted by factors fitted without them: the engine's '*' row refitted without the GPU
    (started at the full fit), and the GPU's class row refitted on the rest of its class with that as prior."""
    out: list[Held] = []
    full = {(e.engine, e.gpu_class): factors(e) for e in catalog.efficiencies if e.n_rows}
    for gpu in sorted({c.gpu.id for c in usable}):
        held = [c for c in usable if c.gpu.id == gpu]
        for engine in sorted({c.execution.engine.id for c in held}):
            rest = [c for c in usable if c.execution.engine.id == engine and c.gpu.id != gpu]
            mine = [c for c in held if c.execution.engine.id == engine]
            if not rest:
                continue  # the engine's only GPU: nothing to fit on (leave-one-engine-out covers it)
            x_all = fit_start(rest, engine, "*", PRIOR, 0.05, full.get((engine, "*"), PRIOR))
            gpu_class = mine[0].gpu.gpu_class
            eff = make_eff(engine, "*", x_all, len(rest), "")
            sub = class_cases(rest).get(gpu_class)
            if sub and (engine, gpu_class) in full:
                x = fit_start(sub, engine, gpu_class, x_all, PRIOR_WEIGHT, full[(engine, gpu_class)])
                eff = make_eff(engine, gpu_class, x, len(sub), "")
            out += [
                Held("leave-one-gpu-out", gpu, engine, gpu_class, GROUP[c.metric][0], held_ratio(c, eff)) for c in mine
            ]
            print(f"  held out {gpu:18} {engine:13} {len(mine):4} rows", file=sys.stderr, flush=True)
    return out


def leave_one_model_out(catalog: cat.Catalog, usable: list[Case]) -> list[Held]:
    """For an engine measured on one GPU only (leave-one-GPU-out has nothing to fit on): each model's rows
    predicted by the engine's '*' row refitted without that model (a k-fold within the engine, one fold per model,
    started at the full fit). The error of the fitted engine on a model it has not seen."""
    out: list[Held] = []
    full = {e.engine: factors(e) for e in catalog.efficiencies if e.n_rows and e.gpu_class == "*"}
    for engine in sorted({c.execution.engine.id for c in usable}):
        mine = [c for c in usable if c.execution.engine.id == engine]
        if len({c.gpu.id for c in mine}) > 1:
            continue  # leave-one-GPU-out covers it
        for model in sorted({c.model.id for c in mine}):
            rest = [c for c in mine if c.model.id != model]
            held = [c for c in mine if c.model.id == model]
            if not rest:
                continue
            x = fit_start(rest, engine, "*", PRIOR, 0.05, full.get(engine, PRIOR))
            eff = make_eff(engine, "*", x, len(rest), "")
            out += [
                Held("leave-one-model-out", model, engine, c.gpu.gpu_class, GROUP[c.metric][0], held_ratio(c, eff))
                for c in held
            ]
        print(f"  held out each model of {engine:13} {len(mine):4} rows", file=sys.stderr, flush=True)
    return out


# Dispatch cost of one kernel launch for a runtime kind no other measured engine shares (eager Python alone is
# transformers): the CPU cost of one eager PyTorch op, Python bytecode + pybind11 + dispatcher + backend +
# cudaLaunchKernel, "~5-25 us" (jiahuanglin.xyz/all_lessons/gpu_kernel_serving/18_pytorch_to_kernel.html, read
# 2026-12-02): the middle of that range; a C++ runtime pays the driver's launch alone, "~1-3 us on CUDA 12+
# drivers" (same page): its upper end. UNCONFIRMED (a secondary source, no measurement of ours). Graph replay
# always has another measured engine of its kind (vLLM, gpt-fast) in measured.csv.
PUBLISHED_DISPATCH_S = {"eager": 15e-6, "cpp": 3e-6}


def runtime_kind(engine: Engine) -> str:
    """How an engine's decode step reaches the GPU: `eager` (every op dispatched from Python: engines.csv
    host_bound), `graph` (a captured CUDA graph replayed: engine_mechanics.csv cuda_graphs) or `cpp` (a C++ runtime
    launching each kernel)."""
    if engine.host_bound:
        return "eager"
    return "graph" if engine.cuda_graphs else "cpp"


def mechanics_overhead_s(engine: Engine, others: list[Engine]) -> float | None:
    """The per-layer host cost of an engine no fit has seen, from its design: its kernels per decode layer x the
    dispatch cost of one launch for its runtime kind, that cost taken from the OTHER measured engines of the same
    kind (the median of their engine_mechanics.csv dispatch_us_per_kernel, which is their own fitted per-layer cost
    over their kernel count) or, where none shares its kind, PUBLISHED_DISPATCH_S. None without a mechanics row."""
    if not engine.kernels_per_layer:
        return None
    kind = runtime_kind(engine)
    same = [e.dispatch_s_per_kernel for e in others if runtime_kind(e) == kind and e.dispatch_s_per_kernel]
    dispatch = float(np.median(same)) if same else PUBLISHED_DISPATCH_S.get(kind)
    return None if dispatch is None else engine.kernels_per_layer * dispatch


# Cache traffic of an engine no fit has seen: the bytes its cache design moves (sizing/estimate/engines.py
# kv_passes: repeat_kv copies, a concatenated cache), each read once. kv_traffic is a property of an engine's
# attention kernels (its own fits run from the 0.5 bound to ~2), not of the GPU, so the pool does not fit it: pooled,
# it took whatever the engine with the most long-context rows wanted (transformers) and lent it to the others.
UNSEEN_KV_TRAFFIC = 1.0


def pooled_residuals(cases: list[Case], x: np.ndarray, own: dict[str, float]) -> np.ndarray:
    """residuals() over several engines' rows with one set of GPU-side factors `x`, each row keeping its own
    engine's per-layer host cost (`own`, seconds: its own fit, which never saw the held-out engine) and its cache
    traffic at UNSEEN_KV_TRAFFIC (kv_traffic is a coordinate of x that moves nothing)."""
    fixed = {"kv_traffic": UNSEEN_KV_TRAFFIC}
    effs = {
        e: make_eff(e, "*", x, 0, "fit").model_copy(update={"layer_overhead_s": s, **fixed}) for e, s in own.items()
    }
    return log_errors(cases, lambda case: effs[case.execution.engine.id])


def fit_pooled(cases: list[Case], own: dict[str, float], start: np.ndarray) -> np.ndarray:
    """fit() of the GPU-side factors over several engines' rows, host costs held at `own` (layer_overhead_s is
    still a coordinate of x but moves nothing: its prior term keeps it where it starts)."""
    return solve(lambda x: pooled_residuals(cases, x, own), PRIOR, 0.05, start)


def leave_one_engine_out(catalog: cat.Catalog, usable: list[Case]) -> list[Held]:
    """Each engine's rows predicted as if the fit had never seen it. Its GPU-side factors (bandwidth, matmul,
    attention) are fitted on the other engines' rows pooled, each of those rows keeping its own engine's fitted
    per-layer host cost; its own per-layer host cost comes from its mechanics (mechanics_overhead_s: kernels per
    layer from its documented decode path x the dispatch cost of its runtime kind), and its cache traffic from its
    cache design at UNSEEN_KV_TRAFFIC, not from the pool."""
    out: list[Held] = []
    start = np.exp(np.mean([np.log(factors(e)) for e in catalog.efficiencies if e.n_rows and e.gpu_class == "*"], 0))
    own = {e.engine: e.layer_overhead_s for e in catalog.efficiencies if e.n_rows and e.gpu_class == "*"}
    for engine in sorted({c.execution.engine.id for c in usable}):
        rest = [c for c in usable if c.execution.engine.id != engine]
        mine = [c for c in usable if c.execution.engine.id == engine]
        others = list({(e.id, e.version): e for e in (c.execution.engine for c in rest)}.values())
        x = fit_pooled(rest, {e: own[e] for e in {c.execution.engine.id for c in rest}}, start)
        pooled = make_eff(engine, "*", x, len(rest), "").model_copy(update={"kv_traffic": UNSEEN_KV_TRAFFIC})
        for c in mine:
            host = mechanics_overhead_s(c.execution.engine, others)
            eff = pooled if host is None else pooled.model_copy(update={"layer_overhead_s": host})
            out.append(
                Held("leave-one-engine-out", engine, engine, c.gpu.gpu_class, GROUP[c.metric][0], held_ratio(c, eff))
            )
        print(f"  held out engine {engine:13} {len(mine):4} rows", file=sys.stderr, flush=True)
    return out


def memory_errors(catalog: cat.Catalog) -> list[Held]:
    """Peak-memory rows: the memory model has no fitted factor, so its held-out error is its calibration error."""
    cases, _ = load_cases(catalog)
    out = []
    for c in cases:
        if c.metric == "peak_memory" and c.trust != "suspect":
            ratio = math.log(c.value / predict(c, catalog.efficiency(c.execution.engine.id, c.gpu.gpu_class)))
            out.append(Held("calibration", c.gpu.id, c.execution.engine.id, c.gpu.gpu_class, "memory", ratio))
    return out


def ape(log_ratio: float) -> float:
    """|estimated - measured| / measured in % from log(measured / estimated)."""
    return abs(math.exp(-log_ratio) - 1) * 100


def table(rows: list[Held], key: str, title: str) -> list[str]:
    """Median APE per `key` ('engine' or 'gpu_class') and band group, as text lines."""
    import statistics

    lines = [title, f"{key:14} {'metric':8} {'rows':>5} {'median APE %':>13} {'p10 ratio':>10} {'p90 ratio':>10}"]
    for k in sorted({getattr(r, key) for r in rows}):
        for group in ("decode", "prefill", "memory"):
            vals = [r.log_ratio for r in rows if getattr(r, key) == k and r.group == group]
            if vals:
                lo, hi = np.quantile(vals, [BAND_LO, BAND_HI])
                lines.append(
                    f"{k:14} {group:8} {len(vals):5} {statistics.median(ape(v) for v in vals):13.1f} "
                    f"{math.exp(lo):10.3f} {math.exp(hi):10.3f}"
                )
    return lines


def band_rows(catalog: cat.Catalog, held: list[Held], today: str) -> list[ErrorBand]:
    """data/bands.csv: for each measured engine a '*' row per metric and a row per GPU class with at least MIN_ROWS
    held-out rows (leave-one-GPU-out; an engine measured on one GPU: leave-one-model-out within it; memory:
    calibration); for each engine whose factors are borrowed, or a metric an engine has no measurement of, the
    pooled leave-one-engine-out rows of every engine (the error of predicting an engine no fit has seen)."""
    import statistics

    def band(engine: str, gpu_class: str, group: str, vals: list[float], basis: str, what: str) -> ErrorBand:
        lo, hi = np.quantile(vals, [BAND_LO, BAND_HI])
        return ErrorBand(
            id=f"{engine}.{'any' if gpu_class == '*' else gpu_class}.{group}",
            engine=engine,
            gpu_class=gpu_class,
            metric=group,
            lo_ratio=round(min(1.0, math.exp(lo)), 4),
            hi_ratio=round(max(1.0, math.exp(hi)), 4),
            median_ape_pct=round(statistics.median(ape(v) for v in vals), 2),
            n_rows=len(vals),
            basis=basis,
            source=f"benchmarks/calibrate.py --cross-validate --write on measured.csv, {what}, {today}",
        )

    out: list[ErrorBand] = []
    logo = [r for r in held if r.basis in ("leave-one-gpu-out", "calibration")]
    lomo = [r for r in held if r.basis == "leave-one-model-out"]
    loeo = [r for r in held if r.basis == "leave-one-engine-out"]
    for engine in sorted({r.engine for r in logo + lomo}):
        for group in ("decode", "prefill", "memory"):
            mine = [r for r in logo if r.engine == engine and r.group == group]
            # an engine measured on one GPU only has no leave-one-GPU-out rows: its own fit refitted without each
            # model stands in (it is in the fit, so its band is its own error, not that of an engine never seen)
            mine = mine or [r for r in lomo if r.engine == engine and r.group == group]
            if not mine:
                continue
            basis = mine[0].basis
            out.append(band(engine, "*", group, [r.log_ratio for r in mine], basis, f"{engine}'s {basis} rows"))
            for gpu_class in sorted({r.gpu_class for r in mine}):
                sub = [r.log_ratio for r in mine if r.gpu_class == gpu_class]
                if len(sub) >= MIN_ROWS and len({r.gpu_class for r in mine}) > 1:
                    out.append(band(engine, gpu_class, group, sub, basis, f"{engine}'s {basis} rows on {gpu_class}"))
    have = {(b.engine, b.metric) for b in out}
    for engine in sorted(catalog.engines):
        for group in ("decode", "prefill"):
            vals = [r.log_ratio for r in loeo if r.group == group]
            if vals and (engine, group) not in have:  # borrowed factors, or no measurement of this metric
                why = "has borrowed factors" if (engine, "decode") not in have else f"has no {group} measurements"
                what = f"every engine's leave-one-engine-out rows pooled ({engine} {why})"
                out.append(band(engine, "*", group, vals, "leave-one-engine-out", what))
    return out


def save_held(path: Path, held: list[Held]) -> None:
    path.write_text(json.dumps([h.__dict__ for h in held]))


def load_held(path: Path) -> list[Held]:
    return [Held(**h) for h in json.loads(path.read_text())]


def write_bands(path: Path, rows: list[ErrorBand]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(list(ErrorBand.COLUMNS))
        for b in rows:
            writer.writerow([getattr(b, ErrorBand.COLUMNS[c].field) for c in ErrorBand.COLUMNS])


def cross_validate(write_file: bool, held_file: Path | None = None) -> None:
    """Leave one GPU out and leave one engine out: how well refitted factors predict rows the fit never saw.
    Prints both tables (median APE and the 10th/90th percentile of measured / estimated, per engine and per GPU
    class); with --write, data/bands.csv from them."""
    catalog = cat.load()
    if held_file is not None and held_file.exists():  # the rows a previous run held out and predicted (--held)
        held = load_held(held_file)
        logo = [h for h in held if h.basis == "leave-one-gpu-out"]
        lomo = [h for h in held if h.basis == "leave-one-model-out"]
        loeo = [h for h in held if h.basis == "leave-one-engine-out"]
        memory = [h for h in held if h.basis == "calibration"]
    else:
        usable = usable_cases(catalog)
        logo = leave_one_gpu_out(catalog, usable)
        lomo = leave_one_model_out(catalog, usable)
        loeo = leave_one_engine_out(catalog, usable)
        memory = memory_errors(catalog)
        if held_file is not None:
            save_held(held_file, logo + lomo + loeo + memory)
    for lines in (
        table(logo + memory, "engine", "leave-one-GPU-out, per engine (memory: not fitted, calibration error)"),
        table(logo + memory, "gpu_class", "leave-one-GPU-out, per GPU class"),
        table(lomo, "engine", "leave-one-model-out within the engine, for engines measured on one GPU only"),
        table(loeo, "engine", "leave-one-engine-out, per held-out engine (factors fitted on the other engines)"),
        table(loeo, "gpu_class", "leave-one-engine-out, per GPU class"),
    ):
        print("\n".join(lines) + "\n")
    if write_file:
        path = Path(catalog.data_dir) / "bands.csv"
        write_bands(path, band_rows(catalog, logo + lomo + loeo + memory, date.today().isoformat()))
        print(f"wrote {path} (from {MEASURED})")


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
        help="leave one GPU out and one engine out: refit without them, print the error on their rows; with "
        "--write, write data/bands.csv (the uncertainty bands) from it",
    )
    parser.add_argument(
        "--held",
        type=Path,
        help="with --cross-validate: keep the held-out predictions in this JSON file, or reuse it when it exists "
        "(the tables and bands again without refitting)",
    )
    args = parser.parse_args()
    if args.cross_validate:
        cross_validate(args.write, args.held)
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
