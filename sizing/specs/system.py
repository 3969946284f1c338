"""The *on what* as the estimator sees it: the GPU, how many per node and nodes, the links between them and the
power cap, taken from a composed build (`System.from_build`) or, without one, from the card's own datasheet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from .base import Base, NonNegFloat, PosFloat, PosInt
from .build import Build
from .hardware import Gpu, NetworkPart
from .host import Host
from .links import LinkKind, LinkLatency

# PCIe payload bandwidth per direction of an x16 link (hardware.md §3.4: 3.0 ~15.75, 4.0 ~31.5, 5.0 ~63 GB/s).
PCIE_X16_BYTES_S = {3: 15.75e9, 4: 31.5e9, 5: 63e9}
PCIE_FALLBACK_BYTES_S = 31.5e9  # a generation the table lacks is taken as 4.0
# Small-message latency per link kind as (fixed cost, per ring step) in seconds: a small all-reduce over n ranks takes
# base + 2(n-1) x per_hop (specs/links.py). The fallback when no table is passed, a copy of data/links.csv (fitted
# by benchmarks/fit_links.py on the published nccl-tests times in data/links_measured.csv; tests/test_links.py checks
# the two agree). p2p and fabric have no measured row there: derived and unconfirmed (data/links.csv notes).
LINK_LATENCY_FALLBACK: dict[str, tuple[float, float]] = {
    "nvlink": (2.914e-6, 1.242e-6),
    "fabric": (2.914e-6, 1.242e-6),
    "p2p": (2.914e-6, 1.489e-6),
    "host": (2.914e-6, 2.978e-6),
    "network": (21.887e-6, 0.857e-6),
}
# The board-wide scale-up links by gpus.csv `nvlink` value. Infinity Fabric (MI300X: 7 x 128 GB/s xGMI links, a full
# mesh of 8 OAMs) and Gaudi's RoCE ports (21 of 24 x 200 GbE wired all-to-all on the baseboard) join every GPU of
# the board like NVSwitch; their small-message latency is taken as NVLink's (data/links.csv: derived, UNCONFIRMED).
FABRICS = {"nvlink": "NVLink", "infinity-fabric": "Infinity Fabric (xGMI)", "roce": "on-chip RoCE links"}
DEFAULT_NODE_LINK_BYTES_S = 25e9  # 200 Gb/s InfiniBand HDR per direction: the NIC a cluster gets at least


class Link(Base):
    """One hop: bandwidth per direction and latency; `kind` says what carries it. `latency_s` is one small message
    over one hop (the fixed cost and one ring step); `hop_s` is each further step of a collective, so a small ring
    all-reduce over n GPUs takes latency_s + (2n - 3) x hop_s = base + 2(n-1) x per_hop (estimate/comm.py)."""

    kind: LinkKind  # fabric: Infinity Fabric or Gaudi RoCE
    name: str
    bytes_s: PosFloat
    latency_s: PosFloat
    hop_s: NonNegFloat = 0.0


Latencies = Mapping[str, LinkLatency]  # the catalog's links table (data/links.csv) by kind


def _timing(kind: str, latencies: Latencies | None) -> dict[str, float]:
    """latency_s and hop_s of a link kind from the table, else from LINK_LATENCY_FALLBACK."""
    if latencies and kind in latencies:
        base, hop = latencies[kind].base_s, latencies[kind].hop_s
    else:
        base, hop = LINK_LATENCY_FALLBACK[kind]
    return {"latency_s": base + hop, "hop_s": hop}


def gpu_link(
    gpu: Gpu, n_gpus: int, lanes: int | None = None, pcie_gen: int | None = None, latencies: Latencies | None = None
) -> Link:
    """The link between GPUs of one node. NVLink on SXM boards and the OAM boards' fabrics (FABRICS); a bridge joins
    pairs only; else PCIe at the lanes and generation the slot gives, peer-to-peer where the card allows it, else
    through host memory, which halves throughput (GeForce: hardware.md §0). Latencies from `latencies` (the
    catalog's data/links.csv), else the fallback copy."""
    if gpu.nvlink in FABRICS or (gpu.nvlink == "bridge" and n_gpus == 2):
        name = FABRICS.get(gpu.nvlink, "an NVLink bridge (one per pair, not in the bill of materials)")
        kind: Literal["nvlink", "fabric"] = "nvlink" if gpu.nvlink in ("nvlink", "bridge") else "fabric"
        bw = (gpu.nvlink_bytes_s or 2 * PCIE_X16_BYTES_S.get(gpu.pcie_gen, PCIE_FALLBACK_BYTES_S)) / 2
        return Link(kind=kind, name=name, bytes_s=bw, **_timing(kind, latencies))
    gen = min(gpu.pcie_gen, pcie_gen or gpu.pcie_gen)
    pcie = PCIE_X16_BYTES_S.get(gen, PCIE_FALLBACK_BYTES_S) * (lanes or gpu.pcie_lanes) / 16
    if gpu.has_p2p:
        return Link(kind="p2p", name="PCIe peer-to-peer", bytes_s=pcie, **_timing("p2p", latencies))
    return Link(
        kind="host",
        name="host memory (no P2P on this card)",
        bytes_s=pcie / 2,
        **_timing("host", latencies),
    )


def node_link(nic: NetworkPart | None, latencies: Latencies | None = None) -> Link:
    """Between nodes: the NIC's line rate per direction, else the 200 Gb/s a cluster gets at least; the network's
    fitted latency (data/links.csv, measured over InfiniBand and RoCE)."""
    return Link(
        kind="network",
        name=nic.name if nic else "200 Gb/s InfiniBand (assumed)",
        bytes_s=nic.bytes_s if nic else DEFAULT_NODE_LINK_BYTES_S,
        **_timing("network", latencies),
    )


def checkpoint_target(b: Build) -> dict:
    """Where a build keeps training checkpoints: its data drives (the requirements size them to hold the kept saves),
    striped, so a save streams to every drive at once (RAID-0 / md stripe: n x one drive's sequential write, an
    upper bound), else the system drive. Sequential write bandwidth from data/drives.csv."""
    if b.data_drive is not None and b.n_data_drives > 0:
        d, n = b.data_drive, b.n_data_drives
        return {"checkpoint_drive": f"{n} x {d.name}", "checkpoint_write_bytes_s": n * d.write_bytes_s}
    return {"checkpoint_drive": b.system_drive.name, "checkpoint_write_bytes_s": b.system_drive.write_bytes_s}


class System(Base):
    gpu: Gpu
    n_gpus: PosInt = 1  # per node
    n_nodes: PosInt = 1
    gpu_link: Link
    node_link: Link
    gpu_power_limit_w: PosFloat | None = None
    host: Host | None = None  # the CPU and DIMMs as a device, for runs that keep weights in RAM (estimate/hybrid.py)
    # where a training run's checkpoints are written (a build's data drives, else its system drive; None: no build)
    checkpoint_drive: str | None = None
    checkpoint_write_bytes_s: PosFloat | None = None

    @property
    def n_gpus_total(self) -> int:
        return self.n_gpus * self.n_nodes

    @classmethod
    def of(cls, gpu: Gpu, n_gpus: int = 1, n_nodes: int = 1, latencies: Latencies | None = None) -> System:
        """No build yet: each card at its own lanes, the cluster network assumed."""
        return cls(
            gpu=gpu,
            n_gpus=n_gpus,
            n_nodes=n_nodes,
            gpu_link=gpu_link(gpu, n_gpus, latencies=latencies),
            node_link=node_link(None, latencies),
        )

    @classmethod
    def from_build(cls, b: Build, latencies: Latencies | None = None) -> System:
        """The build's lanes per GPU and CPU PCIe generation, its NIC and its GPU power cap; link latencies from
        `latencies` (the catalog's data/links.csv), else the fallback copy."""
        lanes = 16 if b.chassis.pcie_switch else b.gpu_lanes_each  # a switch gives each GPU a full x16 to its peers
        return cls(
            gpu=b.gpu,
            n_gpus=b.n_gpus,
            n_nodes=b.n_nodes,
            gpu_link=gpu_link(b.gpu, b.n_gpus, lanes, b.cpu.pcie_gen, latencies),
            node_link=node_link(b.nic, latencies),
            gpu_power_limit_w=b.gpu_power_limit_w,
            **checkpoint_target(b),
        )
