"""How long a small collective takes over each kind of link: the published nccl-tests figures behind the model
(data/links_measured.csv) and the model fitted to them (data/links.csv, written by benchmarks/fit_links.py).

The model is NCCL's own: a ring all-reduce of n ranks runs 2(n-1) steps, and with a message small enough that the
bandwidth term vanishes (the LL protocol, one flag-carrying store per step) its time is a fixed cost plus one
per-step latency per step, latency = base + 2(n-1) x per_hop (NVIDIA/nccl src/graph/tuning.cc, ncclTopoTuneModel:
`nsteps = 2 * (nRanks - 1)` for all-reduce and latency = baseLat + nsteps x hwLat per hardware kind).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from .base import Base, Col, NonNegFloat, NonNegInt, PosFloat, PosInt

LinkKind = Literal["nvlink", "fabric", "p2p", "host", "network"]  # fabric: Infinity Fabric or Gaudi RoCE


class LinkMeasurement(Base):
    """One published small-message all-reduce time (data/links_measured.csv): nccl-tests' out-of-place column."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "link_kind": Col("link_kind"),
        "gpu": Col("gpu"),
        "n_gpus": Col("n_gpus", "int"),
        "message_bytes": Col("message_bytes", "int"),
        "time_us": Col("time_s", "float", 1e-6),
        "nccl_version": Col("nccl_version", required=False),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    id: str
    link_kind: LinkKind
    gpu: str  # the card, as a gpus.csv id where the catalog has it
    n_gpus: PosInt  # ranks in the all-reduce
    message_bytes: PosInt
    time_s: PosFloat
    nccl_version: str = ""
    source: str
    notes: str = ""


class LinkLatency(Base):
    """The fitted small-message model of one link kind (data/links.csv): all-reduce over n ranks takes
    base_s + 2(n-1) x hop_s before the bandwidth term. `n_rows` is how many measured rows the kind has; a kind with
    fewer than 2 lists its figures in `unconfirmed` and `notes` says how they were derived."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "kind": Col("id"),
        "base_us": Col("base_s", "float", 1e-6),
        "per_hop_us": Col("hop_s", "float", 1e-6),
        "n_rows": Col("n_rows", "int"),
        "unconfirmed": Col("unconfirmed", "list", required=False),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    id: LinkKind
    base_s: PosFloat  # a collective always costs its launch and completion
    hop_s: NonNegFloat
    n_rows: NonNegInt
    unconfirmed: tuple[str, ...] = ()
    source: str
    notes: str = ""

    def allreduce_latency_s(self, n: int) -> float:
        """A small-message ring all-reduce over n ranks: base + 2(n-1) steps (module docstring)."""
        return self.base_s + 2 * max(0, n - 1) * self.hop_s
