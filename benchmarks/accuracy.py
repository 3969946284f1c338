"""Accuracy of the estimator against ../shared/reference/measured.csv.

    python benchmarks/accuracy.py [--worst N] [--check]
    python benchmarks/accuracy.py --markdown [--write]   # the accuracy table; --write puts it in README.md
    python benchmarks/accuracy.py --extra                # only the validation rows of measured_extra.csv

Prints, per source family and metric, the number of rows and the median absolute percentage error (suspect rows
excluded and counted apart), the oom rows predicted not to fit, and the targets from the estimator issue:
memory <= 8%, decode <= 12%, prefill <= 20%, end-to-end <= 15%, every oom row predicted not to fit. With --check
it exits 1 when a target is missed (CI runs it so).

benchmarks/measured_extra.csv holds public measurements of engines, GPUs and models the calibration file lacks
(LMDeploy, ExLlamaV2, MLC LLM, SGLang; H200; DeepSeek-V3), in measured.csv's columns. They are never fitted
(calibrate.py reads only measured.csv): the report prints their errors apart, per engine and GPU class, as a test of
the model on what it never saw.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_training import link_unknown  # noqa: E402
from measured import load_cases, predict  # noqa: E402
from measured_training import load_training_cases, predict_training  # noqa: E402

from sizing import catalog as cat  # noqa: E402

TARGETS = {
    "peak_memory": 8.0,
    "decode_tokens_per_s": 12.0,
    "prefill_tokens_per_s": 20.0,
    "e2e_tokens_per_s": 15.0,
}


README = Path(__file__).resolve().parents[1] / "README.md"
EXTRA = Path(__file__).resolve().parent / "measured_extra.csv"  # validation rows, never fitted
START, END = "<!-- accuracy table: benchmarks/accuracy.py --markdown --write -->", "<!-- end of accuracy table -->"
GROUP = {  # measured.csv metric -> the band group (data/bands.csv metric)
    "decode_tokens_per_s": "decode",
    "e2e_tokens_per_s": "decode",
    "output_tokens_per_s": "decode",
    "prefill_tokens_per_s": "prefill",
    "time_to_first_token_s": "prefill",
    "peak_memory": "memory",
}


def markdown(catalog) -> str:
    """Median APE per engine, GPU class and metric group: on the calibration rows (the fitted factors) and
    cross-validated (data/bands.csv, from `benchmarks/calibrate.py --cross-validate --write`: leave-one-GPU-out;
    memory has no fitted factor; engines with borrowed factors: leave-one-engine-out)."""
    cases, _ = load_cases(catalog)
    errors: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for case in cases:
        if case.metric not in GROUP or case.trust == "suspect":
            continue
        pred = predict(case, catalog.efficiency(case.execution.engine.id, case.gpu.gpu_class))
        errors[(case.execution.engine.id, case.gpu.gpu_class, GROUP[case.metric])].append(
            abs(pred - case.value) / case.value * 100
        )
    bands = {(b.engine, b.gpu_class, b.metric): b for b in catalog.bands}
    lines = [
        "| engine | GPU class | metric | rows | calibration median error | cross-validated median error "
        "| band (measured / estimated, p10-p90) |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for engine, gpu_class, group in sorted(errors):
        vals = errors[(engine, gpu_class, group)]
        band = bands.get((engine, gpu_class, group))
        wide = "" if band else " (engine-wide)"
        band = band or bands.get((engine, "*", group))
        cv = f"{band.median_ape_pct:.1f}%{wide}" if band else "-"
        span = f"{band.lo_ratio:.2f}-{band.hi_ratio:.2f} ({band.basis})" if band else "-"
        lines.append(
            f"| {engine} | {gpu_class} | {group} | {len(vals)} | {statistics.median(vals):.1f}% | {cv} | {span} |"
        )
    measured = {e for e, _, _ in errors}
    for b in sorted(catalog.bands, key=lambda b: (b.engine, b.metric)):
        if b.engine not in measured and b.gpu_class == "*":
            lines.append(
                f"| {b.engine} | any | {b.metric} | 0 | - | {b.median_ape_pct:.1f}% | "
                f"{b.lo_ratio:.2f}-{b.hi_ratio:.2f} ({b.basis}) |"
            )
    return "\n".join(lines)


def write_readme(table: str) -> None:
    text = README.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"README.md lacks the markers {START} ... {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    print(f"wrote the accuracy table into {README}")


def main() -> None:
    parser = argparse.ArgumentParser(description="estimator accuracy on measured.csv")
    parser.add_argument("--worst", type=int, default=0, help="also list the N worst rows")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--markdown", action="store_true", help="print the accuracy table (README.md carries it)")
    parser.add_argument("--write", action="store_true", help="with --markdown: replace the table in README.md")
    parser.add_argument("--extra", action="store_true", help="only the never-fitted rows of measured_extra.csv")
    args = parser.parse_args()
    if args.extra:
        extra_report(cat.load())
        return
    if args.markdown:
        print_markdown(args.write)
        return
    report(args)


def extra_markdown(catalog) -> str:
    """The never-fitted rows of measured_extra.csv as a table: per engine, GPU class and metric group, the rows,
    the median error, the median measured / estimated and how many rows fall inside the band the estimate shows."""
    rows, _ = extra_errors(catalog)
    groups: dict[tuple[str, str, str], list[ExtraRow]] = defaultdict(list)
    for row in rows:
        groups[(row[1], row[2], row[3])].append(row)
    lines = [
        "Validation on public measurements the fit never saw (`benchmarks/measured_extra.csv`, "
        "`python benchmarks/accuracy.py --extra`):",
        "",
        "| engine | GPU class | metric | rows | median error | median measured / estimated | inside the band |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for (engine, gpu_class, group), vals in sorted(groups.items()):
        ape = statistics.median(abs(v[5] - v[4]) / v[4] * 100 for v in vals)
        ratio = statistics.median(v[4] / v[5] for v in vals)
        banded = [v[6] for v in vals if v[6] is not None]
        cover = f"{sum(banded)}/{len(banded)}" if banded else "-"
        lines.append(f"| {engine} | {gpu_class} | {group} | {len(vals)} | {ape:.1f}% | {ratio:.2f} | {cover} |")
    return "\n".join(lines)


def print_markdown(write: bool) -> None:
    catalog = cat.load()
    table = markdown(catalog) + "\n\n" + extra_markdown(catalog)
    print(table)
    if write:
        write_readme(table)


def report(args: argparse.Namespace) -> None:
    """The accuracy report: per family and metric, all families against the targets, oom rows, the worst rows."""
    catalog = cat.load()
    cases, skipped = load_cases(catalog)
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    by_metric: dict[str, list[float]] = defaultdict(list)
    suspect: list[float] = []
    worst: list[tuple[float, str]] = []
    oom_total = oom_ok = 0
    for case in cases:
        eff = catalog.efficiency(case.execution.engine.id, case.gpu.gpu_class)
        pred = predict(case, eff)
        if case.metric == "oom":
            oom_total += 1
            oom_ok += pred == 1.0
            if pred != 1.0:
                worst.append((100.0, f"{case.row_id} oom predicted to fit"))
            continue
        ape = abs(pred - case.value) / case.value * 100
        if case.trust == "suspect":
            suspect.append(ape)
            continue
        errors[(case.family, case.metric)].append(ape)
        by_metric[case.metric].append(ape)
        worst.append(
            (
                ape,
                f"{case.row_id} {case.metric} {case.model.id} {case.execution.engine.id} {case.execution.precision.id} "
                f"{case.gpu.id}x{case.system.n_gpus} b{case.execution.batch} "
                f"p{case.execution.prompt_tokens} n{case.execution.new_tokens}: "
                f"measured {case.value:.4g}, estimated {pred:.4g}",
            )
        )
    print(f"{'family':22} {'metric':24} {'rows':>5} {'median APE %':>13}")
    for (family, metric), values in sorted(errors.items()):
        print(f"{family:22} {metric:24} {len(values):5} {statistics.median(values):13.1f}")
    print()
    print(f"{'all families':22} {'metric':24} {'rows':>5} {'median APE %':>13} {'target %':>9}")
    missed = [] if oom_ok == oom_total else ["oom"]
    for metric, values in sorted(by_metric.items()):
        target = TARGETS.get(metric)
        if target is not None and statistics.median(values) > target:
            missed.append(metric)
        verdict = "" if target is None else ("  ok" if statistics.median(values) <= target else "  MISSED")
        print(
            f"{'':22} {metric:24} {len(values):5} {statistics.median(values):13.1f} "
            f"{'' if target is None else f'{target:9.0f}'}{verdict}"
        )
    print(f"\noom rows predicted not to fit: {oom_ok}/{oom_total}" + ("  ok" if oom_ok == oom_total else "  MISSED"))
    if suspect:
        print(f"suspect rows (excluded above): {len(suspect)}, median APE {statistics.median(suspect):.1f}%")
    print(f"rows skipped (training or not resolvable): {len(skipped)}")
    for ape, line in sorted(worst, reverse=True)[: args.worst]:
        print(f"  {ape:7.1f}%  {line}")
    training_accuracy(catalog)
    extra_report(catalog)
    if args.check and (missed or set(TARGETS) - set(by_metric)):
        print(f"accuracy targets missed: {', '.join(missed) or 'metrics without rows'}")
        sys.exit(1)


TRAIN_TARGETS = {"peak_memory": 12.0, "train_tokens_per_s": 20.0}  # the training issue's targets (reported)


def training_accuracy(catalog) -> None:
    """The training rows: median APE per source and metric with the fitted trainers.csv factors, and overall
    against the training targets (printed; the fitted-source cross-validation is calibrate_training.py's)."""
    cases, skipped = load_training_cases(catalog)
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    oom_total = oom_ok = 0
    for case in cases:
        pred = predict_training(case)
        if case.metric == "oom":
            oom_total, oom_ok = oom_total + 1, oom_ok + (pred == 1.0)
            continue
        if case.metric == "train_tokens_per_s" and link_unknown(case):
            continue
        errors[(case.family, case.metric)].append(abs(pred - case.value) / case.value * 100)
    print(f"\n{'training: family':22} {'metric':24} {'rows':>5} {'median APE %':>13}")
    for (family, metric), values in sorted(errors.items()):
        print(f"{family:22} {metric:24} {len(values):5} {statistics.median(values):13.1f}")
    for metric, target in TRAIN_TARGETS.items():
        values = [v for (_, m), vs in errors.items() if m == metric for v in vs]
        verdict = "ok" if statistics.median(values) <= target else "MISSED (tracked in the training issue)"
        print(
            f"{'all sources':22} {metric:24} {len(values):5} {statistics.median(values):13.1f} {target:9.0f}  {verdict}"
        )
    print(f"training oom rows predicted not to fit: {oom_ok}/{oom_total}; rows skipped: {len(skipped)}")


ExtraRow = tuple[str, str, str, str, float, float, bool | None]


def extra_errors(catalog, path: Path = EXTRA) -> tuple[list[ExtraRow], list[str]]:
    """Each resolvable, non-suspect row of measured_extra.csv as (row id, engine, GPU class, metric group,
    measured, estimated, inside the band) with the catalog's efficiency for its engine and GPU class, as for
    measured.csv; inside the band: measured / estimated within the data/bands.csv ratio span the estimate carries
    (None without a band); plus the rows skipped (suspect, or a name the catalog lacks) and why."""
    cases, skipped = load_cases(catalog, path)
    out = []
    for case in cases:
        if case.metric not in GROUP or case.metric == "oom":
            continue
        if case.trust == "suspect":
            skipped.append(f"{case.row_id}: suspect ({case.metric})")
            continue
        engine, gpu_class = case.execution.engine.id, case.gpu.gpu_class
        eff = catalog.efficiency(engine, gpu_class)
        pred = predict(case, eff)
        band = next((b for b in eff.band if b.metric == GROUP[case.metric]), None)
        ratio = case.value / pred
        if case.metric == "time_to_first_token_s":  # a time's band is its rate's band inverted (estimate/bands.py)
            ratio = 1 / ratio
        inside = None if band is None else min(band.lo_ratio, 1.0) <= ratio <= max(band.hi_ratio, 1.0)
        out.append((case.row_id, engine, gpu_class, GROUP[case.metric], case.value, pred, inside))
    return out, skipped


def extra_report(catalog, path: Path = EXTRA) -> None:
    """The validation rows apart: median APE and the median ratio measured / estimated per engine, GPU class and
    metric group (a ratio far from 1 names a mechanism the model lacks, not a constant to tune), then every row."""
    rows, skipped = extra_errors(catalog, path)
    groups: dict[tuple[str, str, str], list[tuple[float, float, bool | None]]] = defaultdict(list)
    for _, engine, gpu_class, group, measured, pred, inside in rows:
        groups[(engine, gpu_class, group)].append((abs(pred - measured) / measured * 100, measured / pred, inside))
    print(f"\nvalidation, never fitted: {path.name}")
    print(
        f"{'engine':14} {'GPU class':11} {'metric':8} {'rows':>5} {'median APE %':>13} {'measured/est':>13} "
        f"{'in band':>8}"
    )
    for (engine, gpu_class, group), vals in sorted(groups.items()):
        ape = statistics.median(v[0] for v in vals)
        ratio = statistics.median(v[1] for v in vals)
        banded = [v[2] for v in vals if v[2] is not None]
        cover = f"{sum(banded)}/{len(banded)}" if banded else "-"
        print(f"{engine:14} {gpu_class:11} {group:8} {len(vals):5} {ape:13.1f} {ratio:13.2f} {cover:>8}")
    for row_id, _, _, group, measured, pred, _ in rows:
        print(f"  {row_id:24} {group:8} measured {measured:9.4g}  estimated {pred:9.4g}  ({measured / pred:.2f}x)")
    for line in skipped:
        print(f"  skipped {line}")


if __name__ == "__main__":
    main()
