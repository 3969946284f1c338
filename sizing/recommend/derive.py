"""Deriving the parts of one build ("derive, then pick", DESIGN.md): the cheapest CPU for the chassis' socket with
enough lanes and cores, identical DIMMs in every channel sized to the requirements, drives that hold the working
set, the smallest PSU set that passes. Pure: takes the parts provider and the requirements, returns a Build (or the
Finding that says what part the catalog lacks) and its bill of materials.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from sizing import rules
from sizing.estimate.power import (
    active_psus,
    allowed_circuits,
    feeds,
    installed_psus,
    load_w,
    power_cap_w,
    psu_capacity_w,
    psu_efficiency,
    psu_headroom,
)
from sizing.estimate.requirements import data_bays, gpu_lanes, io_lanes, system_drive_interface
from sizing.specs import (
    CATALOG_GAP,
    Build,
    Chassis,
    Constraints,
    Cpu,
    Dimm,
    Drive,
    Finding,
    Gpu,
    Line,
    NetworkPart,
    Part,
    Psu,
    Requirements,
)
from sizing.specs.system import DEFAULT_NODE_LINK_BYTES_S

from .provider import PartsProvider, Problem

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
    slowest speed the CPU still runs at full rate; else the largest set that fits the slots."""
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
            d.speed_mt_s < cpu.max_memory_mt_s,
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


def pick_psu(
    psus: Iterable[Psu], chassis: Chassis, gpu: Gpu, n_gpus: int, load: float, volts: float
) -> tuple[Psu, int]:
    """The PSU model and the fewest units of it (with the chassis' redundancy on top) whose active capacity at this
    voltage covers the headroom rule (and, for ATX, has the GPUs' connectors): a priced model first (a build with a
    total), then the least capacity, then the fewest units; else every bay with the largest. Returns (psu, units
    installed)."""
    kind = [p for p in psus if p.form == chassis.psu_form]
    headroom = psu_headroom(chassis.psu_form)
    most = active_psus(chassis, chassis.psu_bays)

    def connectors_ok(p: Psu) -> bool:
        return rules.gpu_plugs_served(p, gpu, chassis.cpu_sockets) >= n_gpus

    sets = [(p, installed_psus(chassis, a)) for p in kind for a in range(1, most + 1)]
    good = [(p, n) for p, n in sets if psu_capacity_w(p, chassis, volts, n) >= load * headroom and connectors_ok(p)]
    if good:
        return min(
            good,
            key=lambda s: (
                s[0].price_usd is None,
                psu_capacity_w(s[0], chassis, volts, s[1]),
                s[1],
                s[0].atx3 is False,
                _priced_first(s[0].price_usd),
            ),
        )
    return max(
        kind, key=lambda p: (psu_capacity_w(p, chassis, volts, chassis.psu_bays), connectors_ok(p))
    ), chassis.psu_bays


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


def derive(problem: Problem, need: Requirements, gpu: Gpu, n: int, n_nodes: int, chassis: Chassis) -> Build | Finding:
    """Compose one build around `n` x `gpu` (per node) in `chassis`: drives and network, then CPU, DIMMs, PSU and,
    where one circuit cannot carry the machine at full power, a GPU power cap; or say what part the catalog
    lacks."""
    parts, c = problem.parts, problem.constraints
    circuit = parts.circuit(c.circuit or DEFAULT_CIRCUIT[chassis.form_factor])
    nic, switch = pick_network(parts, n_nodes)
    system, data = pick_storage(parts, chassis, need)
    if system is None:
        return Finding(rule=CATALOG_GAP, ok=False, message="no NVMe drive in drives.csv for the system disk")
    drives = ((system, 1),) + ((data,) if data else ())
    io = io_lanes(drives, nic)
    full = 16 if n == 1 else min(16, chassis.gpu_lanes_each)  # a lone card gets the whole x16 slot
    cpus = [x for x in parts.cpus.values() if not c.cpus or x.id in c.cpus]
    lanes = (gpu_lanes(gpu, n, chassis, full) + io, gpu_lanes(gpu, n, chassis, 8) + io)
    tried = [(k, pick_cpu(cpus, chassis, k, lanes, need.cores)) for k in socket_counts(chassis, n)]
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
    dimms = pick_dimms(parts.dimms.values(), cpu, n_cpus, slots, need.ram_bytes)
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
    load = load_w(node + (((nic, 1),) if nic else ()))
    psu, n_psus = pick_psu(parts.psus.values(), chassis, gpu, n, load, circuit.volts)
    one_circuit = allowed_circuits(feeds(chassis, n_psus), c) == 1
    limit = (
        power_cap_w(load, gpu, n, circuit, psu_efficiency(psu.efficiency_tier, circuit.volts)) if one_circuit else None
    )
    return Build(
        gpu=gpu,
        n_gpus=n,
        n_nodes=n_nodes,
        chassis=chassis,
        cpu=cpu,
        n_cpus=n_cpus,
        dimm=dimm,
        n_dimms=n_dimms,
        system_drive=system,
        data_drive=data[0] if data else None,
        n_data_drives=data[1] if data else 0,
        psu=psu,
        n_psus=n_psus,
        nic=nic,
        switch=switch,
        circuit=circuit,
        gpu_lanes_each=min(lanes_each, full),
        gpu_power_limit_w=limit,
    )


STALE_MONTHS = 18  # a price older than this is stale (issue 7: prices moved within single quarters in 2025-26)
PRICE_DATE = re.compile(r"(\d{4})(?:-(Q[1-4]|\d{2})(?:-\d{2})?)?")


def price_month(date: str | None) -> int | None:
    """The last month a price date can mean, counted from year 0: 2025 -> 2025-12, 2025-Q2 -> 2025-06."""
    match = PRICE_DATE.fullmatch((date or "").strip())
    if not match:
        return None
    part = match[2]
    month = 12 if part is None else 3 * int(part[1]) if part.startswith("Q") else int(part)
    return int(match[1]) * 12 + month


def is_stale(date: str | None, as_of: str | None) -> bool:
    """More than 18 months between the price's date (its latest possible month) and the request's date."""
    then, now = price_month(date), price_month((as_of or "")[:7])
    return then is not None and now is not None and now - then > STALE_MONTHS


def line_of(kind: str, part: Part, quantity: int, c: Constraints) -> Line:
    """One line of the order: a used-market price counts only when the request allows used parts."""
    price, note = part.price_usd, None
    if price is not None and part.price_kind == "used" and not c.allow_used:
        price, note = None, "only a used-market price is known; --used allows it"
    return Line(
        kind=kind,
        id=part.id,
        name=part.name,
        quantity=quantity,
        unit_price_usd=price,
        price_date=part.price_date,
        price_kind=part.price_kind,
        stale=price is not None and is_stale(part.price_date, c.as_of),
        note=note,
    )


def bill_of_materials(b: Build, c: Constraints) -> tuple[tuple[Line, ...], float, tuple[str, ...]]:
    """Lines for the whole order (all nodes, and the cluster switch), the sum of the priced lines, and the ids of
    the parts without a price this request may use (then the build has no total)."""
    parts = [(kind, p, q * b.n_nodes) for kind, p, q in b.node_parts()]
    if b.switch:
        parts.append(("switch", b.switch, 1))
    lines = tuple(line_of(kind, p, q, c) for kind, p, q in parts)
    subtotal = sum(ln.line_total_usd or 0.0 for ln in lines)
    return lines, subtotal, tuple(ln.id for ln in lines if ln.unit_price_usd is None)
