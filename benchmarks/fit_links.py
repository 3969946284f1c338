"""Fit the small-message link latencies in data/links.csv to the published all-reduce times in
data/links_measured.csv.

    python benchmarks/fit_links.py          # prints the fit and each measured row's error
    python benchmarks/fit_links.py --write  # also replaces data/links.csv

The model (sizing/specs/links.py) is NCCL's ring latency: time(n) = base + 2(n-1) x per_hop for an all-reduce over
n ranks, the 2(n-1) steps of a reduce-scatter followed by an all-gather (NVIDIA/nccl src/graph/tuning.cc). Inside a
node one fixed cost is shared by every kind and each kind has its own per-hop latency; the network has its own pair.
Both are non-negative least squares on the *relative* error (a 5 us row counts as much as a 50 us one). A kind
without rows is derived from a measured kind, marked unconfirmed, and `notes` says how. Needs scipy.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sizing import catalog as cat  # noqa: E402
from sizing.specs.links import LinkLatency, LinkMeasurement  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "data"
KINDS = ("nvlink", "fabric", "p2p", "host", "network")
SOURCE = "fitted by benchmarks/fit_links.py on data/links_measured.csv"


@dataclass(frozen=True)
class Fit:
    base_s: float
    hop_s: float


def steps(n: int) -> int:
    """Ring all-reduce steps over n ranks (reduce-scatter + all-gather)."""
    return 2 * (n - 1)


def nnls_fit(rows: list[LinkMeasurement], kinds: tuple[str, ...]) -> tuple[float, dict[str, float]]:
    """One fixed cost shared by `kinds` and one per-hop latency per kind, by non-negative least squares on the
    relative error: row i reads (base + steps(n_i) x hop_kind) / time_i = 1."""
    a = np.zeros((len(rows), 1 + len(kinds)))
    for i, r in enumerate(rows):
        a[i, 0] = 1 / r.time_s
        a[i, 1 + kinds.index(r.link_kind)] = steps(r.n_gpus) / r.time_s
    x, _ = nnls(a, np.ones(len(rows)))
    return float(x[0]), {k: float(x[1 + j]) for j, k in enumerate(kinds)}


def fit_all(rows: list[LinkMeasurement]) -> list[LinkLatency]:
    """One LinkLatency per kind. Inside a node (every kind but network) the fixed cost is the kernel launch and
    completion, whatever carries the steps, so it is shared and only the per-hop latency is the link's; this lets a
    kind measured at a single n still get its own per-hop figure. The network has its own fixed cost (NCCL's proxy
    thread and the NIC). A kind without rows is derived (unconfirmed, notes say how)."""
    by_kind = {k: [r for r in rows if r.link_kind == k] for k in KINDS}
    intra = tuple(k for k in KINDS if k != "network" and by_kind[k])
    intra_rows = [r for r in rows if r.link_kind in intra]
    if "host" not in intra or len({(r.link_kind, r.n_gpus) for r in intra_rows}) <= len(intra):
        raise SystemExit("links_measured.csv needs host rows and some kind measured at two or more GPU counts")
    base, hops = nnls_fit(intra_rows, intra)
    fits = {k: Fit(base, hops[k]) for k in intra}
    if len({r.n_gpus for r in by_kind["network"]}) >= 2:
        net_base, net_hop = nnls_fit(by_kind["network"], ("network",))
        fits["network"] = Fit(net_base, net_hop["network"])
    out: list[LinkLatency] = []
    for kind in KINDS:
        n = len(by_kind[kind])
        unconfirmed: tuple[str, ...] = ("base_us", "per_hop_us") if n < 2 else ()
        if kind in fits:
            f = fits[kind]
            ns = ", ".join(map(str, sorted({r.n_gpus for r in by_kind[kind]})))
            shared = f"; base shared with {', '.join(k for k in intra if k != kind)}" if kind in intra else ""
            note = f"non-negative least squares on relative error over {n} rows at n = {ns}{shared}"
        elif kind == "p2p":
            # DERIVED: NCCL's SHM path (no P2P) writes each step to host memory and the peer reads it back, two PCIe
            # crossings where P2P makes one write into the peer's memory, so half the host per-hop latency.
            f = Fit(base, hops["host"] / 2)
            note = (
                "DERIVED, UNCONFIRMED: no measured P2P row; the shared base, per-hop half of host's "
                "(one PCIe crossing per ring step instead of two through host memory)"
            )
            unconfirmed = ("base_us", "per_hop_us")
        elif kind == "fabric" and "nvlink" in fits:  # Infinity Fabric / Gaudi RoCE boards: switched like NVSwitch
            f = fits["nvlink"]
            note = "DERIVED, UNCONFIRMED: no measured row; taken as NVLink's (a board-wide fabric joining every GPU)"
            unconfirmed = ("base_us", "per_hop_us")
        else:
            raise SystemExit(f"links_measured.csv has too few {kind} rows to fit or derive its latency")
        source = (
            SOURCE if kind in fits else "derived by benchmarks/fit_links.py from its fit on data/links_measured.csv"
        )
        out.append(
            LinkLatency(
                id=kind, base_s=f.base_s, hop_s=f.hop_s, n_rows=n, unconfirmed=unconfirmed, source=source, notes=note
            )
        )
    return out


def write(path: Path, table: list[LinkLatency]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(list(LinkLatency.COLUMNS))
        for t in table:
            w.writerow([t.id, f"{t.base_s * 1e6:.3f}", f"{t.hop_s * 1e6:.3f}", t.n_rows, ";".join(t.unconfirmed),
                        t.source, t.notes])  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="replace data/links.csv with the fit")
    ap.add_argument("--data", type=Path, default=DATA, help="data folder (default: the bundled data/)")
    args = ap.parse_args()
    rows = list(cat.load(args.data).link_measurements)
    table = fit_all(rows)
    print(f"{'kind':8} {'base us':>8} {'hop us':>7} {'rows':>4}  how")
    for t in table:
        print(f"{t.id:8} {t.base_s * 1e6:8.3f} {t.hop_s * 1e6:7.3f} {t.n_rows:4d}  {t.notes}")
    print(f"\n{'row':32} {'kind':8} {'n':>3} {'measured us':>11} {'fitted us':>9} {'error':>7}")
    by_id = {t.id: t for t in table}
    for r in rows:
        got = by_id[r.link_kind].allreduce_latency_s(r.n_gpus)
        print(f"{r.id:32} {r.link_kind:8} {r.n_gpus:3d} {r.time_s * 1e6:11.2f} {got * 1e6:9.2f} "
              f"{(got / r.time_s - 1) * 100:+6.1f}%")  # fmt: skip
    if args.write:
        write(args.data / "links.csv", table)
        print(f"\nwrote {args.data / 'links.csv'}")


if __name__ == "__main__":
    main()
