"""`sizing calibrate`: fit the efficiency factors the estimator uses for a GPU class and engine to the runs saved
by `sizing bench --out` and `sizing validate --save`, and show each figure's error before and after.

Physics stays fixed (bytes, FLOPs, bandwidth and peaks from the catalog); only the factors the saved figures
inform move: bw_eff (the fraction of the memory bandwidth decode reaches; quant_bw_eff for quantized weights),
layer_overhead_s (the fixed per-layer host/launch time) and mm_eff (the fraction of the dense matmul peak prefill
reaches). Besides saved runs it reads measured.csv-style files (.csv: single-GPU inference speed rows, one
figure each; read by sizing.catalog.calibration). The fit is the one benchmarks/calibrate.py makes for
data/efficiency.csv, on fewer rows: least squares on log(estimate / measured) plus PRIOR_WEIGHT x the log-distance
of each factor from the catalog row it starts from, so a single run cannot throw a factor far; coordinate descent
with a golden-section search in log space, each step kept only when it lowers the objective (the data's summed
squared log error after is never larger than before). Writing goes through sizing.catalog.calibration into the
user's own data folder, never into the shipped one."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sizing import estimate as est
from sizing.modelspec import resolve
from sizing.specs import Base, Efficiency, Execution, ModelSpec, SizingError, System

from .compare import execution_of
from .decoder import cut
from .files import load_runs
from .results import Comparison

if TYPE_CHECKING:
    from sizing.catalog import Catalog

FIGURES = ("decode_tokens_per_s", "prefill_tokens_per_s")  # the estimator's speeds a bench run measures
# Bounds of each factor, the ones benchmarks/calibrate.py fits data/efficiency.csv within (LOWER / UPPER there);
# bw_eff <= 1: no kernel reads faster than the memory's peak; mm_eff up to 2 for FP16-accumulate GeForce GEMMs.
BOUNDS = {
    "bw_eff": (0.2, 1.0),
    "quant_bw_eff": (0.1, 1.0),
    "layer_overhead_s": (1e-7, 3e-3),
    "mm_eff": (0.05, 2.0),
}
COLUMN = {"layer_overhead_s": "layer_overhead_us"}  # field -> efficiency.csv column (provenance names columns)
PRIOR_WEIGHT = 0.5  # residual per unit of log-distance from the starting row (benchmarks/calibrate.py's value)
SWEEPS = 6  # coordinate-descent passes over the factors
GOLDEN_STEPS = 40  # golden-section steps per factor: the log-interval shrinks by 0.618^40 ~ 4e-9
SAME = 1e-3  # relative distance within which a factor counts as at its bound or unmoved (benchmarks/calibrate.py)


class Case(Base):
    """One saved run as the estimator sees it: the model's shape as built, the workload, the GPU, and what it
    measured for each speed figure."""

    label: str  # gpu, model, batch, prompt + new: how the before/after table names the run
    model_spec: ModelSpec
    execution: Execution
    system: System
    measured: dict[str, float]
    copy_share: float | None = None  # a bench run's copy bandwidth / spec (None for a measured.csv row)
    matmul_share: float | None = None  # its matmul / dense peak


class FigureError(Base):
    label: str
    figure: str
    measured: float
    before: float  # the estimate with the catalog's row
    after: float  # with the calibrated row

    @property
    def error_before(self) -> float:
        return self.before / self.measured - 1

    @property
    def error_after(self) -> float:
        return self.after / self.measured - 1


class Calibration(Base):
    """One engine x GPU class: the row it started from, the calibrated row, the error of each figure with both,
    and the micro-benchmark fractions (copy bandwidth and matmul of the datasheet) for reference."""

    engine: str
    gpu_class: str
    gpus: tuple[str, ...]
    before: Efficiency
    after: Efficiency
    figures: tuple[FigureError, ...]
    copy_share: float | None = None  # measured copy bandwidth / spec, median over the runs
    matmul_share: float | None = None  # measured dense matmul / datasheet peak, median over the runs


class CalibrationResult(Base):
    calibrations: tuple[Calibration, ...]
    notes: tuple[str, ...] = ()
    written: str | None = None  # the efficiency.csv written, if any


def _median(values: Sequence[float]) -> float | None:
    s = sorted(values)
    return None if not s else (s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2)


def case_of(catalog: Catalog, run: Comparison) -> Case | None:
    """The run as the estimator sees it; None when it ran on no catalog GPU (a CPU smoke test calibrates nothing)."""
    if run.gpu_id is None or run.gpu_id not in catalog.gpus:
        return None
    m = run.measurement
    spec = cut(resolve(m.model_id, catalog), n_layers=m.n_layers)
    measured = {f: float(getattr(m, f)) for f in FIGURES}
    return Case(
        label=f"{run.gpu_id} {m.model_id} b{m.batch} {m.prompt_tokens}+{m.new_tokens}",
        model_spec=spec,
        execution=execution_of(m, catalog, run.engine),
        system=System.of(catalog.gpus[run.gpu_id], latencies=catalog.links),
        measured=measured,
        copy_share=_share(run, "bandwidth_bytes_s"),
        matmul_share=_share(run, "matmul_flops"),
    )


def predict(case: Case, eff: Efficiency) -> dict[str, float]:
    """The estimator's speeds for this case with these factors (sizing.estimate.speed: the same function
    `sizing estimate` uses)."""
    speeds, _, _ = est.speed(case.model_spec, case.execution, case.system, eff)
    return {"decode_tokens_per_s": speeds.decode_tokens_per_s, "prefill_tokens_per_s": speeds.prefill_tokens_per_s}


def data_error(cases: Sequence[Case], eff: Efficiency) -> float:
    """Sum over cases and their measured figures of log(estimate / measured)^2."""
    total = 0.0
    for case in cases:
        got = predict(case, eff)
        total += sum(math.log(got[f] / value) ** 2 for f, value in case.measured.items())
    return total


def _golden(f: Callable[[float], float], lo: float, hi: float) -> float:
    """The argmin of f on [lo, hi] by golden-section search (f unimodal there; otherwise a local minimum)."""
    g = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(GOLDEN_STEPS):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return (a + b) / 2


def fitted_factors(cases: Sequence[Case]) -> tuple[str, ...]:
    """The factors these runs inform: the weight-read one their precisions use, the per-layer time, mm_eff."""
    weights = {"quant_bw_eff" if c.execution.precision.is_quantized else "bw_eff" for c in cases}
    return (*sorted(weights), "layer_overhead_s", "mm_eff")


def fit(cases: Sequence[Case], start: Efficiency) -> Efficiency:
    """The factors that minimise data_error + PRIOR_WEIGHT^2 x sum of log(factor / start)^2, each within BOUNDS."""
    names = fitted_factors(cases)
    x0 = {n: math.log(getattr(start, n)) for n in names}
    x = dict(x0)

    def objective(point: dict[str, float]) -> float:
        eff = start.model_copy(update={n: math.exp(v) for n, v in point.items()})
        prior = sum((v - x0[n]) ** 2 for n, v in point.items())
        return data_error(cases, eff) + PRIOR_WEIGHT**2 * prior

    best = objective(x)
    for _ in range(SWEEPS):
        before = best
        for n in names:
            lo, hi = (math.log(b) for b in BOUNDS[n])

            def along(v: float, n: str = n, base: dict[str, float] = x) -> float:
                return objective({**base, n: v})

            trial = {**x, n: _golden(along, lo, hi)}
            value = objective(trial)
            if value < best:  # keep a step only when it helps: the objective never rises
                x, best = trial, value
        if before - best < 1e-9:
            break
    return start.model_copy(update={n: math.exp(v) for n, v in x.items()})


def _status(name: str, value: float, prior: float) -> str:
    lo, hi = BOUNDS[name]
    if min(abs(value - lo), abs(value - hi)) <= SAME * value:
        return "at-bound"
    return "prior" if abs(value - prior) <= SAME * prior else "fitted"


def calibrated_row(cases: Sequence[Case], start: Efficiency, gpus: Sequence[str], date: str) -> Efficiency:
    """The fitted row, marked as a local calibration: which runs, which row it started from, the date; the
    provenance of each factor it fitted, the rest as the starting row had them."""
    fitted = fit(cases, start)
    names = fitted_factors(cases)
    status = {COLUMN.get(n, n): _status(n, getattr(fitted, n), getattr(start, n)) for n in names}
    provenance = tuple((f, status.get(f, s)) for f, s in start.provenance)
    source = (
        f"calibrated by `sizing calibrate` on {len(cases)} measured runs ({', '.join(sorted(set(gpus)))}), "
        f"prior = efficiency.csv row ({start.engine}, {start.gpu_class}), {date}; a local calibration"
    )
    return fitted.model_copy(
        update={
            "gpu_class": cases[0].system.gpu.gpu_class,
            "n_rows": sum(len(c.measured) for c in cases),
            "provenance": provenance,
            "versions": (),  # the runs name no engine version (the bench decoder is no release of one)
            "copied_from": None,  # measured now, not borrowed from another engine
            "source": source,
        }
    )


def measured_cases(catalog: Catalog, path: Path) -> tuple[list[Case], int]:
    """A measured.csv-style file's single-GPU inference speeds as cases (one figure each), and how many of its rows
    were left out (other tasks, several GPUs, suspect trust, a model or GPU the catalog does not know)."""
    from sizing.catalog.calibration import read_measured

    rows, skipped = read_measured(path)
    cases = []
    for r in rows:
        try:
            precision = catalog.precision(r.precision)
            execution = Execution(
                engine=catalog.engine(r.engine),
                precision=precision,
                kv_precision=catalog.precision(r.kv_precision) if r.kv_precision else precision,
                batch=r.batch,
                prompt_tokens=r.prompt_tokens,
                new_tokens=r.new_tokens,
            )
            spec, gpu = resolve(r.model, catalog), catalog.gpu(r.gpu)
        except SizingError:
            skipped += 1
            continue
        cases.append(
            Case(
                label=f"{gpu.id} {spec.id} {r.engine} b{r.batch} {r.prompt_tokens}+{r.new_tokens} line {r.line}",
                model_spec=spec,
                execution=execution,
                system=System.of(gpu, latencies=catalog.links),
                measured={r.metric: r.value},
            )
        )
    return cases, skipped


def _gather(catalog: Catalog, paths: list[Path], notes: list[str]) -> dict[tuple[str, str], list[tuple[Case, str]]]:
    """Cases by (engine, GPU class), each with its GPU: saved runs (JSON files and folders) and measured.csv-style
    files (.csv)."""
    groups: dict[tuple[str, str], list[tuple[Case, str]]] = {}
    tables = [Path(p) for p in paths if str(p).lower().endswith(".csv")]
    saved = [Path(p) for p in paths if not str(p).lower().endswith(".csv")]
    skipped = 0
    for _path, run in load_runs(saved) if saved else []:
        case = case_of(catalog, run)
        if case is None:
            skipped += 1
            continue
        groups.setdefault((run.engine, case.system.gpu.gpu_class), []).append((case, run.gpu_id or ""))
    if skipped:
        notes.append(f"{skipped} run(s) on no catalog GPU (CPU smoke tests) calibrate nothing and were skipped")
    for table in tables:
        cases, left = measured_cases(catalog, table)
        for case in cases:
            groups.setdefault((case.execution.engine.id, case.system.gpu.gpu_class), []).append(
                (case, case.system.gpu.id)
            )
        if left:
            notes.append(
                f"{table.name}: {left} row(s) left out (not one GPU's inference speed, suspect, or unknown names)"
            )
    return groups


def calibrate(catalog: Catalog, paths: list[Path], date: str | None = None) -> CalibrationResult:
    """Every saved run and measured row in `paths`, grouped by engine x GPU class, fitted into one calibrated row
    per group."""
    notes: list[str] = []
    groups = _gather(catalog, paths, notes)
    if not groups:
        raise SizingError("none of the saved runs ran on a catalog GPU; calibrate needs results from a GPU machine")
    today = date or dt.date.today().isoformat()
    out = []
    for (engine, gpu_class), members in sorted(groups.items()):
        cases = [c for c, _ in members]
        start = catalog.efficiency(engine, gpu_class)
        gpus = [g for _, g in members]
        after = calibrated_row(cases, start, gpus, today)
        figures = tuple(
            FigureError(label=c.label, figure=f, measured=c.measured[f], before=b[f], after=a[f])
            for c in cases
            for b, a in [(predict(c, start), predict(c, after))]
            for f in c.measured
        )
        out.append(
            Calibration(
                engine=engine,
                gpu_class=gpu_class,
                gpus=tuple(sorted(set(gpus))),
                before=start,
                after=after,
                figures=figures,
                copy_share=_median([c.copy_share for c in cases if c.copy_share]),
                matmul_share=_median([c.matmul_share for c in cases if c.matmul_share]),
            )
        )
        if engine == "transformers":
            notes.append(
                f"({engine}, {gpu_class}): the bench decoder is a bare eager PyTorch loop, not HF generate(); its "
                "factors describe that loop: HF transformers estimates from the calibrated folder inherit them"
            )
    return CalibrationResult(calibrations=tuple(out), notes=tuple(notes))


def _share(run: Comparison, metric: str) -> float | None:
    """measured / datasheet of a micro-benchmark, when the run compared it."""
    try:
        return run.metric(metric).ratio
    except KeyError:
        return None


def save_calibration(catalog: Catalog, result: CalibrationResult, out_dir: Path) -> CalibrationResult:
    """Write the calibrated rows into `out_dir` (a copy of the catalog's folder, made if needed)."""
    from sizing.catalog.calibration import write_calibration

    path = write_calibration([c.after for c in result.calibrations], catalog.data_dir, out_dir)
    return result.model_copy(update={"written": str(path)})


def calibration_text(result: CalibrationResult) -> str:
    """Per engine x GPU class: the factors before and after, then each figure's error before and after."""
    lines: list[str] = []
    for c in result.calibrations:
        lines.append(f"{c.engine} on {c.gpu_class} GPUs ({', '.join(c.gpus)}), {len(c.figures)} figures")
        for name in ("bw_eff", "quant_bw_eff", "layer_overhead_s", "mm_eff"):
            b, a = getattr(c.before, name), getattr(c.after, name)
            if name == "layer_overhead_s":
                lines.append(f"  layer_overhead_us {b * 1e6:10.2f} -> {a * 1e6:10.2f}")
            elif a != b or name == "bw_eff":
                lines.append(f"  {name:17} {b:10.4f} -> {a:10.4f}")
        if c.copy_share is not None:
            ref = f"  reference: copy reached {c.copy_share:.0%} of the spec bandwidth"
            if c.matmul_share is not None:
                ref += f", matmul {c.matmul_share:.0%} of the dense peak"
            lines.append(ref)
        lines.append(f"  {'run':<36} {'figure':<22} {'measured':>10} {'before':>16} {'after':>16}")
        for f in c.figures:
            lines.append(
                f"  {f.label:<36} {f.figure:<22} {f.measured:10,.1f} "
                f"{f.before:9,.1f} ({f.error_before:+4.0%}) {f.after:9,.1f} ({f.error_after:+4.0%})"
            )
        before = _rms([f.error_before for f in c.figures])
        after = _rms([f.error_after for f in c.figures])
        lines.append(f"  rms error {before:.0%} -> {after:.0%}")
    if result.written:
        lines.append(f"wrote {result.written}; estimate with it: --data {Path(result.written).parent}")
    else:
        lines.append("nothing written: pass --out DIR to save a calibrated copy of the data folder")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def _rms(errors: Sequence[float]) -> float:
    return math.sqrt(sum(e * e for e in errors) / len(errors)) if errors else 0.0
