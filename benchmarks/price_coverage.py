"""How many catalog parts have a price, of which kind and of which age: one table by file x kind x age bucket.

    python benchmarks/price_coverage.py [--as-of YYYY-MM-DD] [--data DIR]

Age buckets count months from the price date's latest possible month (`2025` = 2025-12) to --as-of (default today):
current (<= 12 months), aging (13-18), stale (> 18, as `sizing` marks it), undated (a price without a date) and
unpriced (no price_usd). Reads data/ through the catalog, like the recommender.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import date

from sizing import catalog as cat
from sizing.recommend.prices import STALE_MONTHS, price_month

FILES = ("gpus", "cpus", "dimms", "drives", "psus", "chassis", "network", "accessories")
BUCKETS = ("current", "aging", "stale", "undated", "unpriced")


def bucket(part, now: int) -> str:
    if part.price_usd is None:
        return "unpriced"
    then = price_month(part.price_date)
    if then is None:
        return "undated"
    age = now - then
    return "current" if age <= 12 else "aging" if age <= STALE_MONTHS else "stale"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--as-of", default=date.today().isoformat())
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    now = price_month(args.as_of[:7])
    assert now is not None, "--as-of takes YYYY-MM-DD"
    catalog = cat.load(args.data)
    counts: Counter[tuple[str, str, str]] = Counter()
    for file in FILES:
        for part in getattr(catalog, file).values():
            counts[(file, part.price_kind or "-", bucket(part, now))] += 1
    print(f"Price coverage of {catalog.data_dir} as of {args.as_of}")
    print(f"{'file':<12}{'kind':<10}" + "".join(f"{b:>10}" for b in BUCKETS) + f"{'total':>8}")
    totals: Counter[str] = Counter()
    for file, kind in sorted({(f, k) for f, k, _ in counts}):
        row = [counts[(file, kind, b)] for b in BUCKETS]
        totals.update({b: n for b, n in zip(BUCKETS, row, strict=True)})
        print(f"{file:<12}{kind:<10}" + "".join(f"{n:>10}" for n in row) + f"{sum(row):>8}")
    all_n = sum(totals.values())
    print(f"{'all':<22}" + "".join(f"{totals[b]:>10}" for b in BUCKETS) + f"{all_n:>8}")
    priced = all_n - totals["unpriced"]
    print(f"{priced} of {all_n} parts priced; {totals['current'] + totals['aging']} within {STALE_MONTHS} months")


if __name__ == "__main__":
    main()
