"""Deriving the parts of one build ("derive, then pick", DESIGN.md): the cheapest CPU for the chassis' socket with
enough lanes and cores, identical DIMMs in every channel sized to the requirements, drives that hold the working
set, the smallest PSU set that passes. Pure: takes the parts provider and the requirements, returns a Build (or the
Finding that says what part the catalog lacks) and its bill of materials.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TypeVar

from sizing import rules
from sizing.estimate.power import (
    active_psus,
    allowed_circuits,
    fault_tolerant,
    feeds,
    installed_psus,
    load_w,
    module_w,
    power,
    power_cap_w,
    psu_capacity_w,
    psu_efficiency,
    psu_headroom,
    psu_power_cap_w,
)
from sizing.estimate.requirements import NIC_LANES, data_bays, gpu_lanes, io_lanes, system_drive_interface
from sizing.specs import (
    CATALOG_GAP,
    Accessory,
    Build,
    Chassis,
    Cpu,
    Dimm,
    Drive,
    Efficiency,
    Estimate,
    Execution,
    Finding,
    Gpu,
    Line,
    NetworkPart,
    Part,
    PowerDraw,
    Psu,
    Requirements,
    System,
)
from sizing.specs.system import DEFAULT_NODE_LINK_BYTES_S

from .accessories import boot_drives, cheapest_fit, pick_accessories, pick_frontend_nic
from .envelope import oversized
from .prices import Bill, bill_with, line_of
from .provider import PartsProvider, Problem

T = TypeVar("T")
WallCheck = Callable[[Psu, int], bool]  # whether the wall circuit carries a build on this PSU model and unit count

DEFAULT_CIRCUIT = {
    "tower": "120v-15a",
    "workstation": "120v-15a",
    "rack": "rack-208v-30a",
}  # circuits.csv ids


def _priced_first(price: float | None) -> tuple[bool, float]:
    """Sort key: parts with a dated price before unpriced ones, then cheaper first."""
    return (price is None, price or 0.0)


def pick_cpu(
    cpus: Iterable[Cpu], chassis: Chassis, n_cpus: int, lanes: tuple[int, int], cores: int
) -> tuple[Cpu, int, bool] | None:
    """The cheapest CPU for the chassis' socket (n_cpus of them) with enough cores and lanes for x16 GPUs, else for
    x8 GPUs (`lanes`: what each needs), else the one with the most lanes (the rules then say what is missing).
    Returns (cpu, lanes per GPU, whether it has what the build needs)."""
    fits = [c for c in cpus if c.socket == chassis.cpu_socket_type and c.max_sockets >= n_cpus]
    if not fits:
        return None
    for need, each in zip(lanes, (16, 8), strict=True):
        good = [c for c in fits if c.usable_lanes(n_cpus) >= need and c.cores * n_cpus >= cores]
        if good:
            return min(good, key=lambda c: (_priced_first(c.price_usd), c.cores)), each, True
    return max(fits, key=lambda c: (c.usable_lanes(n_cpus), c.cores)), 8, False


def socket_counts(chassis: Chassis, n_gpus: int) -> tuple[int, ...]:
    """CPUs to try, fewest first: a 2-socket PCIe board also runs with one socket populated when the GPUs fit in
    the slots wired to that socket (about half of them on dual-root boards, an UNCONFIRMED per-board assumption);
    HGX baseboards need both sockets."""
    if chassis.cpu_sockets > 1 and chassis.gpu_form_factor == "pcie" and 2 * n_gpus <= chassis.max_gpus:
        return (1, chassis.cpu_sockets)
    return (chassis.cpu_sockets,)


def pick_dimms(dimms: Iterable[Dimm], cpu: Cpu, n_cpus: int, slots: int, need: float) -> tuple[Dimm, int] | None:
    """Identical DIMMs in every channel (1 or 2 per channel): the cheapest set that holds `need`, preferring the
    slowest speed the CPU still runs at full rate at that population (its 2DPC speed with 2 per channel,
    Cpu.memory_mt_s); else the largest set that fits the slots."""
    channels = cpu.memory_channels * n_cpus
    kind = "rdimm" if cpu.ecc_rdimm else "udimm"
    usable = [d for d in dimms if d.ddr_gen == cpu.ddr_gen and d.module_type == kind]
    sets = [(d, channels * dpc) for d in usable for dpc in (1, 2) if channels * dpc <= slots]
    if not sets:
        return None
    good = [(d, n) for d, n in sets if d.capacity_bytes * n >= need]
    if not good:
        return max(sets, key=lambda s: s[0].capacity_bytes * s[1])

    def key(
        s: tuple[Dimm, int],
    ) -> tuple:  # a priced set first (a build with a total), the least memory that holds the need, full speed
        d, n = s
        return (
            d.price_usd is None,
            d.capacity_bytes * n,
            n,
            d.speed_mt_s < cpu.memory_mt_s(n // channels),
            _priced_first(d.price_usd),
            d.speed_mt_s,
        )

    return min(good, key=key)


def pick_drive(drives: Iterable[Drive], need: float, max_count: int) -> tuple[Drive, int] | None:
    """Priced drives first (a build with a total), then the fewest, then smallest (identical, up to the free bays)
    holding `need`; then the cheapest."""
    best = None
    for d in drives:
        count = max(1, math.ceil(need / d.capacity_bytes))
        if count > max_count:
            continue
        key = (d.price_usd is None, count, d.capacity_bytes, _priced_first(d.price_usd))
        if best is None or key < best[0]:
            best = (key, d, count)
    return (best[1], best[2]) if best else None


class PsuSets(NamedTuple):
    """A chassis' PSU models at one input voltage (`kind`, in catalog order) and every (model, units installed,
    active capacity) set of them in preference order: a priced model first (a build with a total), then the least
    capacity, then the fewest units, ATX 3 first, then the cheapest."""

    kind: tuple[Psu, ...]
    sets: tuple[tuple[Psu, int, float], ...]
    volts: float


def psu_sets(psus: Iterable[Psu], chassis: Chassis, volts: float) -> PsuSets:
    """The PSU sets `pick_psu` chooses from, ranked once per chassis and voltage (the load only filters them)."""
    largest = module_w(chassis)
    kind = tuple(p for p in psus if p.form == chassis.psu_form and (largest is None or p.watts <= largest))
    units = [installed_psus(chassis, a) for a in range(1, active_psus(chassis, chassis.psu_bays) + 1)]
    sets = [(p, n, psu_capacity_w(p, chassis, volts, n)) for p in kind for n in units]
    sets.sort(key=lambda s: (s[0].price_usd is None, s[2], s[1], s[0].atx3 is False, _priced_first(s[0].price_usd)))
    return PsuSets(kind=kind, sets=tuple(sets), volts=volts)


def pick_psu(
    options: PsuSets, chassis: Chassis, gpu: Gpu, n_gpus: int, load: float, on_wall: WallCheck | None = None
) -> tuple[Psu, int]:
    """The PSU model and the fewest units of it (with the chassis' redundancy on top) whose active capacity at this
    voltage covers the headroom rule (and, for ATX, has the GPUs' connectors): the first such set in the
    preference order of `psu_sets` whose wall draw the circuit carries (`on_wall`: a more efficient unit can make
    the difference), else the first such set; else every bay with the largest. Returns (psu, units installed)."""
    need = load * psu_headroom(chassis.psu_form)
    first: tuple[Psu, int] | None = None

    def connectors_ok(p: Psu, n: int) -> bool:  # the plugs of every unit that carries load (rules.psu_connectors)
        return rules.gpu_plugs_served(p, gpu, chassis.cpu_sockets, active_psus(chassis, n)) >= n_gpus

    for psu, n, capacity in options.sets:
        if capacity >= need and connectors_ok(psu, n):
            if on_wall is None or on_wall(psu, n):
                return psu, n
            first = first or (psu, n)
    if first:
        return first
    bays = chassis.psu_bays
    return max(
        options.kind, key=lambda p: (psu_capacity_w(p, chassis, options.volts, bays), connectors_ok(p, bays))
    ), bays


def pick_storage(
    parts: PartsProvider, chassis: Chassis, need: Requirements
) -> tuple[Drive | None, tuple[Drive, int] | None]:
    """The system NVMe (M.2 where the board has slots, else U.2) and the data drives: 3.5" enterprise HDDs where
    the chassis has 3.5" bays (cold data), else SSDs in the free 2.5" bays."""
    nvme = system_drive_interface(chassis)
    pool = [d for d in parts.drives.values() if d.interface == nvme]
    system = pick_drive(pool, need.system_drive_bytes, 1)
    system_drive = system[0] if system else max(pool, key=lambda d: d.capacity_bytes, default=None)
    if chassis.drive_bays_3_5:
        data_pool = [d for d in parts.drives.values() if d.media == "hdd" and d.interface == "sata"]
    else:
        data_pool = [d for d in parts.drives.values() if d.interface in ("nvme-u2", "sata") and d.media == "ssd"]
    bays = data_bays(chassis)
    return system_drive, (pick_drive(data_pool, need.data_drive_bytes, bays) if bays else None)


def pick_network(parts: PartsProvider, n_nodes: int) -> tuple[NetworkPart | None, NetworkPart | None]:
    """A NIC of at least 200 Gb/s per node for pipeline traffic and weight loading, and beyond two nodes the
    cheapest switch with a port per node at the NIC's speed and protocol."""
    if n_nodes == 1:
        return None, None
    nics = [x for x in parts.network.values() if x.kind == "nic" and x.bytes_s >= DEFAULT_NODE_LINK_BYTES_S]
    nic = min(nics, key=lambda x: (_priced_first(x.price_usd), x.bytes_s)) if nics else None
    if n_nodes <= 2 or nic is None:
        return nic, None
    switches = [
        x
        for x in parts.network.values()
        if x.kind == "switch"
        and x.ports >= n_nodes
        and x.bytes_s >= nic.bytes_s
        and nic.protocol in (x.protocol, "both")
    ]
    return nic, min(switches, key=lambda x: (_priced_first(x.price_usd), x.bytes_s)) if switches else None


class Composer:
    """`derive` for one problem: the same picks, each kept per its inputs for the problem's search (a search composes
    every shape in every chassis, and most picks repeat: the drives per chassis, the CPU per socket, lanes and
    cores, the ranked PSU sets per chassis), and the whole builds and estimates, which the relaxations' searches of
    the same problem ask for again (`serves`). Parts are keyed by id: within one catalog an id names one part."""

    def __init__(self, problem: Problem):
        self.problem = problem
        c = problem.constraints
        self.cpus = [x for x in problem.parts.cpus.values() if not c.cpus or x.id in c.cpus]
        self._memo: dict[tuple, Any] = {}

    def serves(self, problem: Problem) -> bool:
        """Whether what this Composer keeps holds for `problem`: the same parts, model and constraints but for the
        budget, which no pick reads (a relaxation that changes the execution changes the requirements and
        executions the builds and estimates are kept by)."""
        mine, theirs = self.problem.constraints, problem.constraints
        return (
            problem.parts is self.problem.parts
            and problem.model == self.problem.model
            and mine.model_copy(update={"budget_usd": None}) == theirs.model_copy(update={"budget_usd": None})
        )

    def built(
        self, need: Requirements, gpu: Gpu, n: int, n_nodes: int, chassis: Chassis
    ) -> tuple[Build, Bill, PowerDraw] | Finding:
        """derive, its bill of materials and its power draw, once per shape, requirements and chassis."""

        def make() -> tuple[Build, Bill, PowerDraw] | Finding:
            build = self.derive(need, gpu, n, n_nodes, chassis)
            return build if isinstance(build, Finding) else (build, self.bill(build), power(build))

        return self.once(("built", gpu.id, n, n_nodes, chassis.id, need), make)

    def estimates(self, execution: Execution, gpu: Gpu, n: int, n_nodes: int) -> dict[System, Estimate]:
        """The estimates of `execution` on n x gpu (per node) kept per System: one dict per execution and shape."""
        return self.once(("estimates", execution, gpu.id, n, n_nodes), dict)

    def efficiency(self, engine: str, gpu_class: str) -> Efficiency:
        """The catalog's factors and error bands for the engine on the GPU class, once per pair (every shape of one
        GPU class asks again, and each answer filters the catalog's bands)."""
        return self.once(("efficiency", engine, gpu_class), lambda: self.problem.parts.efficiency(engine, gpu_class))

    def accessory(self, kind: str, keys: tuple[str, ...]) -> Accessory | None:
        """cheapest_fit over the catalog's accessories, once per kind and fit (the same cooler, board and rails fit
        every build of a socket or chassis)."""
        pool = self.problem.parts.accessories.values()
        return self.once(("accessory", kind, keys), lambda: cheapest_fit(pool, kind, keys))

    def once(self, key: tuple, make: Callable[[], T]) -> T:
        """make(), computed once per key (one dict lookup where it is kept: a search asks ~35,000 times)."""
        memo = self._memo
        found = memo.get(key, memo)  # the dict itself is never a value: it marks a key not kept yet
        if found is memo:
            found = memo[key] = make()
        return found

    def line(self, kind: str, part: Part, quantity: int) -> Line:
        return self.once(
            ("line", kind, part.id, quantity), lambda: line_of(kind, part, quantity, self.problem.constraints)
        )

    def bill(self, b: Build) -> Bill:
        """bill_of_materials(b, constraints), each distinct line made once."""
        return bill_with(b, self.line)

    def cpu(self, chassis: Chassis, n_cpus: int, lanes: tuple[int, int], cores: int) -> tuple[Cpu, int, bool] | None:
        """pick_cpu among the allowed CPUs, once per socket type, count, lanes and cores."""
        key = ("cpu", chassis.cpu_socket_type, n_cpus, lanes, cores)
        return self.once(key, lambda: pick_cpu(self.cpus, chassis, n_cpus, lanes, cores))

    def derive(self, need: Requirements, gpu: Gpu, n: int, n_nodes: int, chassis: Chassis) -> Build | Finding:
        """See `derive`."""
        parts, c = self.problem.parts, self.problem.constraints
        circuit = self.once(
            ("circuit", chassis.form_factor), lambda: parts.circuit(c.circuit or DEFAULT_CIRCUIT[chassis.form_factor])
        )
        nic, switch = self.once(("network", n_nodes), lambda: pick_network(parts, n_nodes))
        system, data = self.once(
            ("storage", chassis.id, need.system_drive_bytes, need.data_drive_bytes),
            lambda: pick_storage(parts, chassis, need),
        )
        if system is None:
            return Finding(rule=CATALOG_GAP, ok=False, message="no NVMe drive in drives.csv for the system disk")
        n_boot = boot_drives(chassis)
        drives = ((system, n_boot),) + ((data,) if data else ())
        frontend = self.once(("frontend",), lambda: pick_frontend_nic(parts)) if chassis.form_factor == "rack" else None
        io = io_lanes(drives, nic) + ((frontend.pcie_lanes or NIC_LANES) if frontend else 0)
        full = 16 if n == 1 else min(16, chassis.gpu_lanes_each)  # a lone card gets the whole x16 slot
        lanes = (gpu_lanes(gpu, n, chassis, full) + io, gpu_lanes(gpu, n, chassis, 8) + io)
        tried = [(k, self.cpu(chassis, k, lanes, need.cores)) for k in socket_counts(chassis, n)]
        n_cpus, picked = next(((k, p) for k, p in tried if p and p[2]), tried[-1])
        if picked is None:
            allowed = f" among {', '.join(c.cpus)}" if c.cpus else " in cpus.csv"
            return Finding(
                rule=CATALOG_GAP,
                ok=False,
                need=chassis.cpu_socket_type,
                have=None,
                message=f"no CPU{allowed} fits {chassis.name} (socket {chassis.cpu_socket_type})",
            )
        cpu, lanes_each, _ = picked
        slots = chassis.dimm_slots * n_cpus // chassis.cpu_sockets  # the populated sockets' DIMM slots
        dimms = self.once(
            ("dimms", cpu.id, n_cpus, slots, need.ram_bytes),
            lambda: pick_dimms(parts.dimms.values(), cpu, n_cpus, slots, need.ram_bytes),
        )
        if dimms is None:
            return Finding(
                rule=CATALOG_GAP,
                ok=False,
                need=f"DDR{cpu.ddr_gen}",
                have=None,
                message=f"no DDR{cpu.ddr_gen} {'RDIMM' if cpu.ecc_rdimm else 'UDIMM'} in memory.csv fits "
                f"{slots} slots for {cpu.name}",
            )
        dimm, n_dimms = dimms
        node: tuple[tuple[Part, int], ...] = ((gpu, n), (chassis, 1), (cpu, n_cpus), (dimm, n_dimms), *drives)
        load = load_w(node + (((nic, 1),) if nic else ()) + (((frontend, 1),) if frontend else ()))
        sets = self.once(
            ("psus", chassis.id, circuit.volts), lambda: psu_sets(parts.psus.values(), chassis, circuit.volts)
        )

        def on_wall(p: Psu, units: int) -> bool:  # rules.wall_circuit's verdict for this PSU set
            eff = psu_efficiency(p.efficiency_tier, circuit.volts)
            allowed = allowed_circuits(feeds(chassis, units), c)
            if load / eff <= circuit.continuous_w * allowed:
                return True
            return allowed == 1 and power_cap_w(load, gpu, n, circuit, eff) is not None

        psu, n_psus = pick_psu(sets, chassis, gpu, n, load, on_wall)
        one_circuit = allowed_circuits(feeds(chassis, n_psus), c) == 1
        eff = psu_efficiency(psu.efficiency_tier, circuit.volts)
        wall_limit = power_cap_w(load, gpu, n, circuit, eff) if one_circuit else None
        psu_limit = (
            None
            if fault_tolerant(chassis, psu, circuit.volts, n_psus, load)
            else psu_power_cap_w(
                load, gpu, n, psu_capacity_w(psu, chassis, circuit.volts, n_psus), psu_headroom(chassis.psu_form)
            )
        )
        limit = min((w for w in (wall_limit, psu_limit) if w is not None), default=None)
        build = Build(
            gpu=gpu,
            n_gpus=n,
            n_nodes=n_nodes,
            chassis=chassis,
            cpu=cpu,
            n_cpus=n_cpus,
            dimm=dimm,
            n_dimms=n_dimms,
            system_drive=system,
            n_system_drives=n_boot,
            data_drive=data[0] if data else None,
            n_data_drives=data[1] if data else 0,
            psu=psu,
            n_psus=n_psus,
            nic=nic,
            switch=switch,
            frontend_nic=frontend,
            accessories=self.once(
                ("accessories", chassis.id, cpu.id, n_cpus, gpu.id, n),
                lambda: pick_accessories(self.accessory, chassis, cpu, n_cpus, gpu, n),
            ),
            circuit=circuit,
            gpu_lanes_each=min(lanes_each, full),
            gpu_power_limit_w=limit,
        )
        return oversized(build, need, load) or build


def derive(problem: Problem, need: Requirements, gpu: Gpu, n: int, n_nodes: int, chassis: Chassis) -> Build | Finding:
    """Compose one build around `n` x `gpu` (per node) in `chassis`: drives and network, then CPU, DIMMs, PSU and,
    where one circuit cannot carry the machine at full power, a GPU power cap; or say what part the catalog
    lacks. (A search composes through one `Composer`, which keeps the picks that repeat.)"""
    return Composer(problem).derive(need, gpu, n, n_nodes, chassis)
