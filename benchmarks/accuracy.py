"""Accuracy of the estimator against ../shared/reference/measured.csv.

    python benchmarks/accuracy.py [--worst N] [--check]

Prints, per source family and metric, the number of rows and the median absolute percentage error (suspect rows
excluded and counted apart), the oom rows predicted not to fit, and the targets from the estimator issue:
memory <= 8%, decode <= 12%, prefill <= 20%, end-to-end <= 15%, every oom row predicted not to fit. With --check
it exits 1 when a target is missed (CI runs it so).
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


def main() -> None:
    parser = argparse.ArgumentParser(description="estimator accuracy on measured.csv")
    parser.add_argument("--worst", type=int, default=0, help="also list the N worst rows")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
