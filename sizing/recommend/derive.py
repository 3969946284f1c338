"""Deriving the parts of one build ("derive, then pick", DESIGN.md): the cheapest CPU for the chassis' socket with
enough lanes and cores, identical DIMMs in every channel sized to the work, drives that hold the working set, the
smallest PSU set that passes. Pure: takes the catalog object and the estimate, returns a Build (or the Finding
that says what part the catalog lacks) and its bill of materials.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sizing import estimate as est
from sizing import rules
from sizing.specs import (
    Build,
    Chassis,
    Constraints,
    Cpu,
    Dimm,
    Drive,
    Estimate,
    Finding,
    Gpu,
    Line,
    ModelSpec,
    Precision,
    Psu,
)
from sizing.units import GB, GIB, TB

# Power of the parts around the GPUs and CPUs (sustained DC): RDIMM 3-6 W, NVMe ~8 W, 3.5" HDD ~9 W active
# (vendor datasheets, UNCONFIRMED in stored sources); board, fans and BMC: ~75 W in a tower, ~100 W in a workstation,
# ~250 W in a GPU server whose fans move the GPUs' heat (hardware.md §3.2 [S48][S49]).
DIMM_W = 5.0
NVME_W = 8.0
HDD_W = 9.0
PLATFORM_W = {"tower": 75.0, "workstation": 100.0, "rack": 250.0}
OS_RAM_BYTES = 32 * GIB  # OS, page cache for the serving stack, dataloaders
LOAD_FACTOR = 1.5  # loaders stage weights in RAM at 1.5-2x the file (hardware.md §3.5 [S67], UNCONFIRMED)
OS_DISK_BYTES = 256 * GB  # OS, CUDA, containers, logs
DATA_BASE_BYTES = 1 * TB  # datasets, prompts and logs beside the model versions
MODEL_VERSIONS = 4  # model versions and quantizations kept on the data drive
UPLINK_GPUS = 4  # a PCIe switch fans one x16 uplink out to about four x16 GPU slots (Supermicro [S63])
NIC_MIN_BYTES_S = 25e9  # 200 Gb/s per node for pipeline traffic and weight loading
DEFAULT_CIRCUIT = {"tower": "120v-15a", "workstation": "120v-15a", "rack": "rack-208v-30a"}  # circuits.csv ids


# ---------------------------------------------------------------------------------------------- derivation
def _priced_first(price: float | None) -> tuple[bool, float]:
    """Sort key: parts with a dated price before unpriced ones, then cheaper first."""
    return (price is None, price or 0.0)


def model_file_bytes(model: ModelSpec, precision: Precision) -> float:
    return sum(est.weight_bytes(model, precision))


def gpu_lanes(gpu: Gpu, n: int, chassis: Chassis, lanes_each: int) -> int:
    if chassis.pcie_switch or gpu.form_factor != "pcie":
        return 16 * math.ceil(n / UPLINK_GPUS)
    return n * lanes_each


def pick_cpu(cpus: Iterable[Cpu], chassis: Chassis, lanes_x16: int, lanes_x8: int, cores: int) -> tuple[Cpu, int] | None:
    """The cheapest CPU for the chassis' socket with enough cores and lanes for x16 GPUs, else for x8 GPUs, else the
    one with the most lanes (the rules then say what is missing). Returns (cpu, lanes per GPU)."""
    fits = [c for c in cpus if c.socket == chassis.cpu_socket_type and c.max_sockets >= chassis.cpu_sockets]
    if not fits:
        return None

    def lanes(c: Cpu) -> int:
        return c.usable_lanes(chassis.cpu_sockets)

    for need, each in ((lanes_x16, 16), (lanes_x8, 8)):
        good = [c for c in fits if lanes(c) >= need and c.cores * chassis.cpu_sockets >= cores]
        if good:
            return min(good, key=lambda c: (_priced_first(c.price_usd), c.cores)), each
    return max(fits, key=lambda c: (lanes(c), c.cores)), 8


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

    def key(s: tuple[Dimm, int]) -> tuple:  # the least memory that holds the need, then full speed, then price
        d, n = s
        return (d.capacity_bytes * n, n, d.speed_mt_s < cpu.max_memory_mt_s, _priced_first(d.price_usd),
                d.speed_mt_s)

    return min(good, key=key)


def pick_drive(drives: Iterable[Drive], need: float, max_count: int) -> tuple[Drive, int] | None:
    """The fewest, then smallest, drives (identical, up to the free bays) holding `need`; then the cheapest."""
    best = None
    for d in drives:
        count = max(1, math.ceil(need / d.capacity_bytes))
        if count > max_count:
            continue
        key = (count, d.capacity_bytes, _priced_first(d.price_usd))
        if best is None or key < best[0]:
            best = (key, d, count)
    return (best[1], best[2]) if best else None


def active_psus(chassis: Chassis) -> int:
    """PSUs carrying the load: N+N for an even redundant set (A/B feeds), N+1 for an odd one (hardware.md §3.2:
    DGX A100 3+3, MiTAC G4520G6 3+1 [S56][S59])."""
    count = chassis.psu_bays
    if not chassis.redundant_psu or count == 1:
        return count
    return count - 1 if count % 2 else count // 2


def pick_psu(psus: Iterable[Psu], chassis: Chassis, gpu: Gpu, n_gpus: int, sustained_w: float,
             volts: float) -> tuple[Psu, int, float]:
    """The smallest PSU set of the chassis' kind whose capacity at this voltage covers the headroom rule (and, for
    ATX, has the GPUs' connectors); else the largest. Returns (psu, count, usable DC watts)."""
    kind = [p for p in psus if p.form == chassis.psu_form]
    count = chassis.psu_bays
    active = active_psus(chassis)
    headroom = rules.psu_headroom(chassis.psu_form)

    def capacity(p: Psu) -> float:
        return min(active * p.watts_at(volts), chassis.max_psu_w)

    def connectors_ok(p: Psu) -> bool:
        return rules.gpu_plugs_served(p, gpu, chassis.cpu_sockets) >= n_gpus

    good = [p for p in kind if capacity(p) >= sustained_w * headroom and connectors_ok(p)]
    if good:
        psu = min(good, key=lambda p: (capacity(p), p.atx3 is False, _priced_first(p.price_usd)))
    else:
        psu = max(kind, key=lambda p: (capacity(p), connectors_ok(p)))
    return psu, count, capacity(psu)


def pick_storage(catalog, chassis: Chassis, sys_need: float, data_need: float
                 ) -> tuple[Drive | None, tuple[Drive, int] | None, int]:
    """The system NVMe (M.2 where the board has slots, else U.2) and the data drives: 3.5" enterprise HDDs where
    the chassis has 3.5" bays (cold data), else SSDs in the free 2.5" bays. Returns (system, data, free data bays)."""
    nvme = "nvme-m2" if chassis.m2_slots else "nvme-u2"
    pool = [d for d in catalog.drives.values() if d.interface == nvme]
    system = pick_drive(pool, sys_need, 1)
    system_drive = system[0] if system else max(pool, key=lambda d: d.capacity_bytes, default=None)
    if chassis.drive_bays_3_5:
        data_pool = [d for d in catalog.drives.values() if d.media == "hdd" and d.interface == "sata"]
        bays = chassis.drive_bays_3_5
    else:
        data_pool = [d for d in catalog.drives.values() if d.interface in ("nvme-u2", "sata") and d.media == "ssd"]
        bays = max(0, chassis.drive_bays_2_5 - (0 if nvme == "nvme-m2" else 1))
    return system_drive, (pick_drive(data_pool, data_need, bays) if bays else None), bays


def derive(catalog, gpu: Gpu, n: int, n_nodes: int, chassis: Chassis, e: Estimate,
           c: Constraints) -> Build | Finding:
    """Compose one build around `n` x `gpu` in `chassis` (drives, then CPU, DIMMs, PSU), or say what part the
    catalog lacks."""
    file_bytes = model_file_bytes(e.model, e.precision)
    circuit = catalog.circuits[c.circuit or DEFAULT_CIRCUIT[chassis.form_factor]]
    nic = None
    if n_nodes > 1:
        nics = [x for x in catalog.network.values() if x.kind == "nic" and x.bytes_s >= NIC_MIN_BYTES_S]
        nic = min(nics, key=lambda x: (_priced_first(x.price_usd), x.bytes_s)) if nics else None
    sys_need = OS_DISK_BYTES + 2 * file_bytes
    data_need = DATA_BASE_BYTES + MODEL_VERSIONS * file_bytes
    system, data, bays = pick_storage(catalog, chassis, sys_need, data_need)
    if system is None:
        return Finding(rule="system_drive", ok=False, message="no NVMe drive in drives.csv for the system disk")
    n_nvme = (1 if system.interface.startswith("nvme") else 0) + (
        data[1] if data and data[0].interface.startswith("nvme") else 0)
    other_lanes = 4 * n_nvme + (nic.pcie_lanes or 16 if nic else 0)
    cores = max(rules.MIN_CORES, rules.CORES_PER_GPU * n)
    full = 16 if n == 1 else min(16, chassis.gpu_lanes_each)  # a lone card gets the whole x16 slot
    cpus = [x for x in catalog.cpus.values() if not c.cpus or x.id in c.cpus]
    picked = pick_cpu(cpus, chassis, gpu_lanes(gpu, n, chassis, full) + other_lanes,
                      gpu_lanes(gpu, n, chassis, 8) + other_lanes, cores)
    if picked is None:
        allowed = f" among {', '.join(c.cpus)}" if c.cpus else " in cpus.csv"
        return Finding(rule="cpu_socket", ok=False, need=chassis.cpu_socket_type, have=None,
                       message=f"no CPU{allowed} fits {chassis.name} (socket {chassis.cpu_socket_type})")
    cpu, lanes_each = picked
    lanes_each = min(lanes_each, full)
    n_cpus = chassis.cpu_sockets
    ram_need = max(LOAD_FACTOR * file_bytes / n_nodes, n * gpu.memory_bytes) + OS_RAM_BYTES
    dimms = pick_dimms(catalog.dimms.values(), cpu, n_cpus, chassis.dimm_slots, ram_need)
    if dimms is None:
        return Finding(rule="memory_type", ok=False, need=f"DDR{cpu.ddr_gen}", have=None,
                       message=f"no DDR{cpu.ddr_gen} {'RDIMM' if cpu.ecc_rdimm else 'UDIMM'} in memory.csv fits "
                               f"{chassis.dimm_slots} slots for {cpu.name}")
    dimm, n_dimms = dimms
    gpu_w = n * gpu.tdp_w
    drives_w = NVME_W + (data[1] * (HDD_W if data[0].media == "hdd" else NVME_W) if data else 0)
    sustained = (gpu_w + n_cpus * cpu.tdp_w + n_dimms * DIMM_W + drives_w + ((nic.power_w or 25) if nic else 0)
                 + PLATFORM_W[chassis.form_factor])
    psu, n_psus, capacity = pick_psu(catalog.psus.values(), chassis, gpu, n, sustained, circuit.volts)
    efficiency = rules.psu_efficiency(psu.efficiency_tier, circuit.volts)
    wall = sustained / efficiency
    limit = None
    feeds = active_psus(chassis) if chassis.psu_form == "crps" else 1
    if wall > circuit.continuous_w and feeds == 1:  # cap GPU power where a modest cap makes one circuit carry it
        cap = math.floor(((circuit.continuous_w * efficiency - (sustained - gpu_w)) / n) / 10) * 10
        if cap >= rules.MIN_POWER_FRACTION * gpu.tdp_w:
            limit = float(cap)
            wall = (sustained - gpu_w + n * cap) / efficiency
    switch = None
    if n_nodes > 2 and nic is not None:
        switches = [x for x in catalog.network.values() if x.kind == "switch" and x.ports >= n_nodes
                    and x.bytes_s >= nic.bytes_s and nic.protocol in (x.protocol, "both")]
        switch = min(switches, key=lambda x: (_priced_first(x.price_usd), x.bytes_s)) if switches else None
    return Build(gpu=gpu, n_gpus=n, n_nodes=n_nodes, chassis=chassis, cpu=cpu, n_cpus=n_cpus, dimm=dimm,
                 n_dimms=n_dimms, system_drive=system, data_drive=data[0] if data else None,
                 n_data_drives=data[1] if data else 0, psu=psu, n_psus=n_psus, nic=nic, switch=switch,
                 circuit=circuit, gpu_lanes_each=lanes_each, gpu_power_limit_w=limit, sustained_w=sustained,
                 wall_w=wall, n_circuits=min(feeds, math.ceil(wall / circuit.continuous_w)) if feeds > 1 else 1,
                 psu_capacity_w=capacity, ram_need_bytes=ram_need,
                 system_drive_need_bytes=sys_need, data_drive_need_bytes=data_need if bays else 0.0,
                 cores_need=cores, lanes_need=gpu_lanes(gpu, n, chassis, lanes_each) + other_lanes)


def bill_of_materials(b: Build) -> tuple[tuple[Line, ...], float, tuple[str, ...]]:
    """Lines for the whole order (all nodes), the sum of priced lines, and the unpriced part ids."""
    k = b.n_nodes
    parts: list[tuple[str, object, int]] = [
        ("gpu", b.gpu, b.n_gpus * k), ("chassis", b.chassis, k), ("cpu", b.cpu, b.n_cpus * k),
        ("memory", b.dimm, b.n_dimms * k), ("system_drive", b.system_drive, k),
    ]
    if b.data_drive:
        parts.append(("data_drive", b.data_drive, b.n_data_drives * k))
    parts.append(("psu", b.psu, b.n_psus * k))
    if b.nic:
        parts.append(("nic", b.nic, k))
    if b.switch:
        parts.append(("switch", b.switch, 1))
    lines = tuple(Line(kind=kind, id=p.id, name=p.name, quantity=q, unit_price_usd=p.price_usd,
                       price_date=p.price_date) for kind, p, q in parts)
    total = sum((ln.unit_price_usd or 0.0) * ln.quantity for ln in lines)
    unpriced = tuple(ln.id for ln in lines if ln.unit_price_usd is None)
    return lines, total, unpriced


