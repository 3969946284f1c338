"""A composed server (parts and counts only), what the user allows, and what a build needs and draws."""

from __future__ import annotations

import math
from typing import Literal

from .base import Base, NonNegFloat, NonNegInt, Part, PosFloat, PosInt
from .classes import BuildClass
from .hardware import Accessory, Chassis, Circuit, Cpu, Dimm, Drive, Gpu, NetworkPart, Psu

Objective = Literal["cost", "speed", "cost-per-token"]
FormFactor = Literal["tower", "rack"]


class Constraints(Base):
    """What the user allows: resolved ids, limits and the ranking objective."""

    gpus: tuple[str, ...] = ()  # allow-list of GPU ids (empty: all)
    exclude: tuple[str, ...] = ()
    cpus: tuple[str, ...] = ()  # allow-list of CPU ids
    circuit: str | None = None  # None: 120 V/15 A for towers and workstations, rack 208 V/30 A for servers
    circuits: PosInt | None = None  # circuits of that kind per node (None: one named --circuit, or a rack's feeds)
    max_gpus: NonNegInt | None = None  # in total, over all nodes (0: no GPU builds, CPU-only and edge classes)
    form_factor: FormFactor | None = None  # tower includes workstations
    budget_usd: PosFloat | None = None
    target_tokens_per_s: PosFloat | None = None
    max_ttft_s: PosFloat | None = None  # first token of one request at the loaded server (rules/latency.py)
    min_user_tokens_per_s: PosFloat | None = None  # decode tokens/s per user (1 / TPOT)
    objective: Objective = "cost"
    multi_node: bool = True
    allow_used: bool = False  # price parts at used-market prices where that is their only price
    as_of: str | None = None  # YYYY-MM-DD the prices are judged against (stale: more than 18 months before)
    build_class: BuildClass | None = None  # only this class (None: GPU and hybrid builds; cpu with max_gpus 0)
    offline: bool = False  # air-gapped site: local model store and package mirror in every bill


class Build(Base):
    """One composed server (or n_nodes identical ones): every part, its count, and how it is set up (the lanes
    each GPU's slot gets, a GPU power cap). Everything a build needs or draws is computed from it, not stored."""

    gpu: Gpu
    n_gpus: PosInt  # per node
    n_nodes: PosInt = 1
    chassis: Chassis
    cpu: Cpu
    n_cpus: PosInt
    dimm: Dimm
    n_dimms: PosInt
    system_drive: Drive
    n_system_drives: PosInt = 1  # 2 on rack servers: a mirrored boot pair
    data_drive: Drive | None = None
    n_data_drives: NonNegInt = 0
    psu: Psu
    n_psus: PosInt
    nic: NetworkPart | None = None
    switch: NetworkPart | None = None  # one for the whole cluster
    frontend_nic: NetworkPart | None = None  # a rack server's Ethernet port to the site network (not the fabric)
    accessories: tuple[tuple[Accessory, int], ...] = ()  # cooler, rails, NVLink bridges (data/accessories.csv)
    circuit: Circuit
    gpu_lanes_each: PosInt  # PCIe lanes each GPU's slot gets
    gpu_power_limit_w: PosFloat | None = None  # set when the circuit or the PSUs need capped GPUs

    @property
    def ram_bytes(self) -> float:
        return self.n_dimms * self.dimm.capacity_bytes

    @property
    def dimms_per_channel(self) -> int:
        """DIMMs in each memory channel: more DIMMs than the CPUs have channels put two in a channel."""
        return math.ceil(self.n_dimms / (self.cpu.memory_channels * self.n_cpus))

    @property
    def memory_speed_mt_s(self) -> int:
        """The DIMMs' speed within what the CPU runs at this population: cpus.csv `max_memory_mt_s` at 1 DIMM per
        channel, `max_memory_mt_s_2dpc` at 2 where the row gives it (vendor figures, e.g. Xeon 6700P DDR5-6400 at
        1DPC, 5200 at 2DPC; Cpu.memory_mt_s), else the 1DPC speed, an upper bound."""
        return min(self.dimm.speed_mt_s, self.cpu.memory_mt_s(self.dimms_per_channel))

    @property
    def dimm_slots(self) -> int:
        """The DIMM slots of the populated sockets (a 2-socket board with one CPU uses half of them)."""
        return self.chassis.dimm_slots * self.n_cpus // self.chassis.cpu_sockets

    @property
    def cpu_lanes(self) -> int:
        return self.cpu.usable_lanes(self.n_cpus)

    def node_parts(self) -> tuple[tuple[str, Part, int], ...]:
        """(kind, part, count) in one node, in bill-of-materials order; the cluster switch is not in a node."""
        parts: list[tuple[str, Part, int]] = [
            ("gpu", self.gpu, self.n_gpus),
            ("chassis", self.chassis, 1),
            ("cpu", self.cpu, self.n_cpus),
            ("memory", self.dimm, self.n_dimms),
            ("system_drive", self.system_drive, self.n_system_drives),
        ]
        if self.data_drive:
            parts.append(("data_drive", self.data_drive, self.n_data_drives))
        parts.append(("psu", self.psu, self.n_psus))
        if self.nic:
            parts.append(("nic", self.nic, 1))
        if self.frontend_nic:
            parts.append(("frontend_nic", self.frontend_nic, 1))
        parts.extend((a.kind, a, n) for a, n in self.accessories)
        return tuple(parts)


class Requirements(Base):
    """What the work needs of one node besides GPU memory (sizing.estimate.requirements): the build is picked
    against it and the rules check the build against the same object."""

    ram_bytes: PosFloat
    system_drive_bytes: PosFloat
    data_drive_bytes: NonNegFloat
    cores: PosInt


class PowerDraw(Base):
    """What one node draws and its supplies give (sizing.estimate.power)."""

    sustained_w: PosFloat  # DC load at full GPU power
    capped_w: PosFloat  # DC load with the GPU power cap (= sustained_w without one)
    wall_w: PosFloat  # AC at the wall with the cap
    full_wall_w: PosFloat  # AC at the wall at full GPU power
    psu_capacity_w: PosFloat  # continuous DC the active PSUs give at this input voltage
    psu_efficiency: PosFloat
    psu_redundancy: str  # N+N, N+1 or none
    n_circuits: PosInt  # circuits of the build's kind its wall draw needs
    n_feeds: PosInt  # separate circuits its active PSUs can spread over (1 for an ATX machine)
    capped_for_psu: bool = False  # the GPU cap is what lets the PSUs carry the load (else it is for the circuit)
