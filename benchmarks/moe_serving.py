"""Our MoE serving estimate beside each public measurement in benchmarks/measured_moe.csv, at the row's expert-
parallel ways (and attention data parallel where the row ran it) and at the other split (ep 1 <-> ep = tp), so the
table shows what --ep changes. Figures only: the estimator never reads these rows.

    PYTHONPATH=. python benchmarks/moe_serving.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from sizing import catalog as cat
from sizing import scenarios
from sizing.specs import Estimate, Request, SizingError

ROWS = Path(__file__).resolve().parent / "measured_moe.csv"
DATA = Path(__file__).resolve().parents[1] / "data"


def figure(found: Estimate, metric: str) -> float:
    """The estimate's figure for a measured metric."""
    s = found.speed
    assert s is not None
    if metric == "tpot_ms":
        return 1000 / s.decode_tokens_per_s
    if metric == "output_tokens_per_s":  # every request at once: batch x new tokens over prefill + decode
        return found.execution.batch * s.e2e_tokens_per_s
    if metric == "decode_tokens_per_s_total":
        return s.decode_tokens_per_s_total
    raise ValueError(f"no estimate for metric {metric}")


def estimate(catalog: cat.Catalog, row: dict, ep: int) -> Estimate:
    req = Request(
        model=row["model"],
        engine=row["engine"],
        precision=row["precision"],
        gpu=row["gpu"],
        n_gpus=int(row["n_gpus"]),
        batch=int(row["batch"]),
        prompt_tokens=int(row["prompt_tokens"]),
        new_tokens=int(row["new_tokens"]),
        ep=ep,
        dp_attention=row["dp_attention"] == "true",
    )
    return scenarios.run(catalog, req)


def main() -> None:
    catalog = cat.load(DATA)
    print(f"{'row':<24} {'metric':<26} {'ep':>3} {'measured':>10} {'ours':>10} {'ratio':>6} {'ours, other ep':>15}")
    for row in csv.DictReader(ROWS.read_text().splitlines()):
        ep, tp, measured = int(row["ep"]), int(row["tp"]), float(row["value"])
        head = f"{row['row_id']:<24} {row['metric']:<26} {ep:>3} {measured:>10.1f}"
        try:
            if not row["batch"]:
                raise SizingError("workload not stated")
            catalog.model(row["model"])
            ours = figure(estimate(catalog, row, ep), row["metric"])
            other = figure(estimate(catalog, row, tp if ep == 1 else 1), row["metric"])
        except (SizingError, KeyError) as exc:
            print(f"{head} {'-':>10} {'-':>6}  ({exc})")
            continue
        print(f"{head} {ours:>10.1f} {ours / measured:>6.2f} {other:>15.1f}")


if __name__ == "__main__":
    main()
