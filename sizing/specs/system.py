"""The *on what* as the estimator sees it: the GPU, how many per node and nodes, the links between them and the
power cap, taken from a composed build (`System.from_build`) or, without one, from the card's own datasheet."""

from __future__ import annotations

from typing import Literal

from .base import Base, PosFloat, PosInt
from .build import Build
from .hardware import Gpu, NetworkPart
from .host import Host

# PCIe payload bandwidth per direction of an x16 link (hardware.md §3.4: 3.0 ~15.75, 4.0 ~31.5, 5.0 ~63 GB/s).
PCIE_X16_BYTES_S = {3: 15.75e9, 4: 31.5e9, 5: 63e9}
PCIE_FALLBACK_BYTES_S = 31.5e9  # a generation the table lacks is taken as 4.0
# Small-message all-reduce latencies as nccl-tests reports them (~10 us NVLink, ~20 us PCIe P2P, ~40 us through host
# memory without P2P); DERIVED order of magnitude, consistent with gpt-fast's A100 tensor-parallel rows.
LINK_LATENCY_S = {"nvlink": 10e-6, "fabric": 10e-6, "p2p": 20e-6, "host": 40e-6}
# The board-wide scale-up links by gpus.csv `nvlink` value. Infinity Fabric (MI300X: 7 x 128 GB/s xGMI links, a full
# mesh of 8 OAMs) and Gaudi's RoCE ports (21 of 24 x 200 GbE wired all-to-all on the baseboard) join every GPU of
# the board like NVSwitch; their small-message latency is taken as NVLink's (UNCONFIRMED, order of magnitude).
FABRICS = {"nvlink": "NVLink", "infinity-fabric": "Infinity Fabric (xGMI)", "roce": "on-chip RoCE links"}
NODE_HOP_LATENCY_S = 5e-6  # one InfiniBand send/recv between pipeline stages (order of magnitude, DERIVED)
DEFAULT_NODE_LINK_BYTES_S = 25e9  # 200 Gb/s InfiniBand HDR per direction: the NIC a cluster gets at least


class Link(Base):
    """One hop: bandwidth per direction and latency; `kind` says what carries it."""

    kind: Literal["nvlink", "fabric", "p2p", "host", "network"]  # fabric: Infinity Fabric or Gaudi RoCE
    name: str
    bytes_s: PosFloat
    latency_s: PosFloat


def gpu_link(gpu: Gpu, n_gpus: int, lanes: int | None = None, pcie_gen: int | None = None) -> Link:
    """The link between GPUs of one node. NVLink on SXM boards and the OAM boards' fabrics (FABRICS); a bridge joins
    pairs only; else PCIe at the lanes and generation the slot gives, peer-to-peer where the card allows it, else
    through host memory, which halves throughput (GeForce: hardware.md §0)."""
    if gpu.nvlink in FABRICS or (gpu.nvlink == "bridge" and n_gpus == 2):
        name = FABRICS.get(gpu.nvlink, "an NVLink bridge (one per pair, not in the bill of materials)")
        kind: Literal["nvlink", "fabric"] = "nvlink" if gpu.nvlink in ("nvlink", "bridge") else "fabric"
        bw = (gpu.nvlink_bytes_s or 2 * PCIE_X16_BYTES_S.get(gpu.pcie_gen, PCIE_FALLBACK_BYTES_S)) / 2
        return Link(kind=kind, name=name, bytes_s=bw, latency_s=LINK_LATENCY_S[kind])
    gen = min(gpu.pcie_gen, pcie_gen or gpu.pcie_gen)
    pcie = PCIE_X16_BYTES_S.get(gen, PCIE_FALLBACK_BYTES_S) * (lanes or gpu.pcie_lanes) / 16
    if gpu.has_p2p:
        return Link(kind="p2p", name="PCIe peer-to-peer", bytes_s=pcie, latency_s=LINK_LATENCY_S["p2p"])
    return Link(
        kind="host",
        name="host memory (no P2P on this card)",
        bytes_s=pcie / 2,
        latency_s=LINK_LATENCY_S["host"],
    )


def node_link(nic: NetworkPart | None) -> Link:
    """Between nodes: the NIC's line rate per direction, else the 200 Gb/s a cluster gets at least."""
    return Link(
        kind="network",
        name=nic.name if nic else "200 Gb/s InfiniBand (assumed)",
        bytes_s=nic.bytes_s if nic else DEFAULT_NODE_LINK_BYTES_S,
        latency_s=NODE_HOP_LATENCY_S,
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
    def of(cls, gpu: Gpu, n_gpus: int = 1, n_nodes: int = 1) -> System:
        """No build yet: each card at its own lanes, the cluster network assumed."""
        return cls(gpu=gpu, n_gpus=n_gpus, n_nodes=n_nodes, gpu_link=gpu_link(gpu, n_gpus), node_link=node_link(None))

    @classmethod
    def from_build(cls, b: Build) -> System:
        """The build's lanes per GPU and CPU PCIe generation, its NIC and its GPU power cap."""
        lanes = 16 if b.chassis.pcie_switch else b.gpu_lanes_each  # a switch gives each GPU a full x16 to its peers
        return cls(
            gpu=b.gpu,
            n_gpus=b.n_gpus,
            n_nodes=b.n_nodes,
            gpu_link=gpu_link(b.gpu, b.n_gpus, lanes, b.cpu.pcie_gen),
            node_link=node_link(b.nic),
            gpu_power_limit_w=b.gpu_power_limit_w,
            **checkpoint_target(b),
        )
