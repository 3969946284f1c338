"""The recommender: enumerate legal (GPU, count, chassis) candidates, derive the other parts, check every rule on
the composed build, rank, and keep every rejected candidate with the rules it failed.

"Derive, then pick" (DESIGN.md): the cheapest CPU with enough lanes and cores, DIMMs that fill every channel,
drives that hold the working set, the smallest PSU set that passes; then `rules.check` judges the whole build.
Pure: takes the catalog object and the resolved workload, returns a Recommendation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from . import estimate as est
from . import rules
from .specs import (
    Base,
    Build,
    Chassis,
    Cpu,
    Dimm,
    Drive,
    Engine,
    Estimate,
    Finding,
    Gpu,
    Line,
    ModelSpec,
    Option,
    PosFloat,
    PosInt,
    Precision,
    Psu,
    Recommendation,
    Rejection,
    Workload,
)
from .units import GB, GIB, TB, fmt_bytes, fmt_money, fmt_rate, fmt_seconds, fmt_watts

GPU_COUNTS = (1, 2, 4, 8)
NODE_COUNTS = (2, 4, 8)  # clusters of 8-GPU servers, only where one server cannot hold the work
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


class Constraints(Base):
    gpus: tuple[str, ...] = ()  # allow-list of GPU ids (empty: all)
    exclude: tuple[str, ...] = ()
    cpus: tuple[str, ...] = ()  # allow-list of CPU ids
    circuit: str | None = None  # None: 120 V/15 A for towers and workstations, rack 208 V/30 A for servers
    max_gpus: PosInt | None = None  # in total, over all nodes
    form_factor: Literal["tower", "rack"] | None = None  # tower includes workstations
    budget_usd: PosFloat | None = None
    target_tokens_per_s: PosFloat | None = None
    objective: Literal["cost", "speed", "cost-per-token"] = "cost"
    multi_node: bool = True


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
        return c.pcie_lanes if c.vendor == "amd" and chassis.cpu_sockets == 2 else c.pcie_lanes * chassis.cpu_sockets

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
    headroom = rules.CRPS_HEADROOM if chassis.psu_form == "crps" else rules.ATX_HEADROOM

    def capacity(p: Psu) -> float:
        return min(active * p.watts_at(volts), chassis.max_psu_w)

    def connectors_ok(p: Psu) -> bool:
        if p.form == "crps" or gpu.power_connector in (None, "board"):
            return True
        if gpu.power_connector in ("12vhpwr", "12v-2x6"):
            return p.n_12vhpwr + p.n_pcie_8pin // (4 if gpu.tdp_w > 450 else 3) >= n_gpus
        return p.n_pcie_8pin >= n_gpus * (2 if gpu.power_connector.startswith("2x") else 1)

    good = [p for p in kind if capacity(p) >= sustained_w * headroom and connectors_ok(p)]
    if good:
        psu = min(good, key=lambda p: (capacity(p), p.atx3 is False, _priced_first(p.price_usd)))
    else:
        psu = max(kind, key=lambda p: (capacity(p), connectors_ok(p)))
    return psu, count, capacity(psu)


def derive(catalog, gpu: Gpu, n: int, n_nodes: int, chassis: Chassis, e: Estimate,
           c: Constraints) -> Build | Finding:
    """Compose one build around `n` x `gpu` in `chassis`, or say what part the catalog lacks."""
    file_bytes = model_file_bytes(e.model, e.precision)
    circuit = rules.CIRCUITS[c.circuit or rules.DEFAULT_CIRCUIT[chassis.form_factor]]
    cpus = [x for x in catalog.cpus.values() if not c.cpus or x.id in c.cpus]
    nic = None
    if n_nodes > 1:
        nics = [x for x in catalog.network.values() if x.kind == "nic" and x.bytes_s >= NIC_MIN_BYTES_S]
        nic = min(nics, key=lambda x: (_priced_first(x.price_usd), x.bytes_s)) if nics else None
    sys_need = OS_DISK_BYTES + 2 * file_bytes
    data_need = DATA_BASE_BYTES + MODEL_VERSIONS * file_bytes
    nvme_lanes = 4 * (1 + (0 if chassis.drive_bays_3_5 else 1))
    other_lanes = nvme_lanes + (16 if nic else 0)
    cores = max(rules.MIN_CORES, rules.CORES_PER_GPU * n)
    full = 16 if n == 1 else min(16, chassis.gpu_lanes_each)  # a lone card gets the whole x16 slot
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
    nvme = "nvme-m2" if chassis.m2_slots else "nvme-u2"
    system = pick_drive([d for d in catalog.drives.values() if d.interface == nvme], sys_need, 1)
    system = system or (max((d for d in catalog.drives.values() if d.interface == nvme),
                            key=lambda d: d.capacity_bytes, default=None), 1)
    if system[0] is None:
        return Finding(rule="system_drive", ok=False, message=f"no {nvme} drive in drives.csv")
    if chassis.drive_bays_3_5:
        data_pool, bays = [d for d in catalog.drives.values() if d.media == "hdd" and d.interface == "sata"], \
            chassis.drive_bays_3_5
    else:
        data_pool = [d for d in catalog.drives.values() if d.interface in ("nvme-u2", "sata") and d.media == "ssd"]
        bays = max(0, chassis.drive_bays_2_5 - (0 if nvme == "nvme-m2" else 1))
    data = pick_drive(data_pool, data_need, bays) if bays else None
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
    if n_nodes > 2:
        switches = [x for x in catalog.network.values() if x.kind == "switch" and x.ports >= n_nodes
                    and nic is not None and x.bytes_s >= nic.bytes_s and nic.protocol in (x.protocol, "both")]
        switch = min(switches, key=lambda x: (_priced_first(x.price_usd), x.bytes_s)) if switches else None
    return Build(gpu=gpu, n_gpus=n, n_nodes=n_nodes, chassis=chassis, cpu=cpu, n_cpus=n_cpus, dimm=dimm,
                 n_dimms=n_dimms, system_drive=system[0], data_drive=data[0] if data else None,
                 n_data_drives=data[1] if data else 0, psu=psu, n_psus=n_psus, nic=nic, switch=switch,
                 circuit=circuit, gpu_lanes_each=lanes_each, gpu_power_limit_w=limit, sustained_w=sustained,
                 wall_w=wall, n_circuits=min(feeds, math.ceil(wall / circuit.continuous_w)) if feeds > 1 else 1,
                 max_circuits=feeds, psu_capacity_w=capacity, ram_need_bytes=ram_need, system_drive_need_bytes=sys_need,
                 data_drive_need_bytes=data_need if bays else 0.0, cores_need=cores,
                 lanes_need=gpu_lanes(gpu, n, chassis, lanes_each) + other_lanes)


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


# ------------------------------------------------------------------------------------------------- ranking
def rank_key(o: Option, objective: str) -> tuple:
    gpu_unpriced = o.build.gpu.price_usd is None
    rate = max(o.estimate.speed.decode_tokens_per_s_total, 1e-9)
    if objective == "speed":
        return (-rate, gpu_unpriced, o.total_price_usd)
    if objective == "cost-per-token":
        return (gpu_unpriced, o.total_price_usd / rate, -rate)
    return (gpu_unpriced, o.total_price_usd, -rate)


def reasons(o: Option, rank: int, n_options: int, objective: str) -> tuple[str, ...]:
    b, e = o.build, o.estimate
    m, s = e.memory, e.speed
    total_gpus = b.n_gpus * b.n_nodes
    out = [
        f"{'best' if rank == 0 else f'#{rank + 1}'} of {n_options} passing builds by {objective}",
        f"{total_gpus} x {b.gpu.name}: needs {fmt_bytes(m.need_per_gpu_bytes)} of {fmt_bytes(m.gpu_memory_bytes)} per GPU "
        f"({e.engine.name}, {e.precision.id} weights, {e.workload.batch} users x "
        f"{e.workload.prompt_tokens + e.workload.new_tokens} tokens)",
        f"decode {fmt_rate(s.decode_tokens_per_s)} per user, {fmt_rate(s.decode_tokens_per_s_total)} in total; "
        f"first token after {fmt_seconds(s.time_to_first_token_s)}",
        f"{b.psu.name} x {b.n_psus} for {fmt_watts(b.sustained_w)} sustained; {fmt_watts(b.wall_w)} at the wall on "
        f"{b.circuit.label}",
    ]
    price = fmt_money(o.total_price_usd)
    out.append(f"{price}{' + unpriced: ' + ', '.join(o.unpriced) if o.unpriced else ''} (dated public prices)")
    return tuple(out)


# ----------------------------------------------------------------------------------------------- the search
def candidates(catalog, c: Constraints) -> list[Gpu]:
    gpus = [g for g in catalog.gpus.values() if (not c.gpus or g.id in c.gpus) and g.id not in c.exclude]
    return sorted(gpus, key=lambda g: g.id)


def chassis_for(catalog, gpu: Gpu, n: int, c: Constraints) -> list[Chassis]:
    forms = {"tower": ("tower", "workstation"), "rack": ("rack",)}.get(c.form_factor or "", None)
    return [x for x in catalog.chassis.values() if x.max_gpus >= n and x.gpu_form_factor == gpu.form_factor
            and (forms is None or x.form_factor in forms)]


def evaluate(catalog, model: ModelSpec, engine: Engine, precision: Precision, kv: Precision, base: Workload,
             gpu: Gpu, n: int, n_nodes: int, c: Constraints, limits: rules.Limits,
             options: list[Option], rejected: list[Rejection]) -> bool:
    """Estimate n x gpu (x n_nodes), then build and check it in every chassis that can hold it. True if the model
    fits in GPU memory (whatever the other rules said)."""
    w = base.model_copy(update={"n_gpus": n, "n_nodes": n_nodes})
    e = est.estimate(model, gpu, engine, precision, kv, w, catalog.efficiency(engine.id, gpu.gpu_class))
    boxes = chassis_for(catalog, gpu, n, c)
    if not boxes:
        form = f"{c.form_factor} " if c.form_factor else ""
        rejected.append(Rejection(gpu=gpu.id, n_gpus=n, n_nodes=n_nodes, chassis="-", findings=(Finding(
            rule="chassis_fit", ok=False, need=n, have=None,
            message=f"no {form}chassis in chassis.csv holds {n} {gpu.form_factor.upper()} GPUs"),)))
        return True  # memory is not what stops it: no cluster would help
    memory_fits = True
    for chassis in boxes:
        build = derive(catalog, gpu, n, n_nodes, chassis, e, c)
        if isinstance(build, Finding):
            rejected.append(Rejection(gpu=gpu.id, n_gpus=n, n_nodes=n_nodes, chassis=chassis.id, findings=(build,)))
            continue
        lines, total, unpriced = bill_of_materials(build)
        findings = rules.check(build, e, limits, total)
        failed = tuple(f for f in findings if not f.ok)
        if failed:
            memory_fits = memory_fits and all(f.rule != "gpu_memory" for f in failed)
            rejected.append(Rejection(gpu=gpu.id, n_gpus=n, n_nodes=n_nodes, chassis=chassis.id, findings=failed))
            if any(f.rule == "gpu_memory" for f in failed):
                break  # every chassis fails the same way: one rejection says it
            continue
        options.append(Option(build=build, lines=lines, total_price_usd=total, unpriced=unpriced, estimate=e,
                              findings=findings))
    return memory_fits


def search(catalog, model: ModelSpec, engine: Engine, precision: Precision, kv: Precision, base: Workload,
           c: Constraints) -> tuple[list[Option], list[Rejection]]:
    limits = rules.Limits(budget_usd=c.budget_usd, target_tokens_per_s=c.target_tokens_per_s)
    options: list[Option] = []
    rejected: list[Rejection] = []
    max_gpus = c.max_gpus or 10**6
    for gpu in candidates(catalog, c):
        fits_somewhere = False
        for n in GPU_COUNTS:
            if n <= max_gpus:
                fits_somewhere |= evaluate(catalog, model, engine, precision, kv, base, gpu, n, 1, c, limits,
                                           options, rejected)
        if fits_somewhere or not c.multi_node or c.form_factor == "tower":
            continue
        for k in NODE_COUNTS:  # one server cannot hold it: clusters of 8-GPU servers
            if 8 * k <= max_gpus and evaluate(catalog, model, engine, precision, kv, base, gpu, 8, k, c, limits,
                                              options, rejected):
                break
    return options, rejected


FORM_ORDER = {"tower": 0, "workstation": 1, "rack": 2}


def chassis_key(o: Option, objective: str) -> tuple:
    """Within one (GPU, count, nodes) shape: the smallest chassis that holds the GPUs (an 8-GPU server for one GPU
    wastes money, power and rack space; chassis prices are mostly unconfirmed, so size decides), then the rank."""
    c = o.build.chassis
    return (c.max_gpus, FORM_ORDER[c.form_factor], rank_key(o, objective))


def best_per_shape(options: list[Option], objective: str) -> list[Option]:
    """The best chassis for each (GPU, count, nodes); the rest are the same machine in a bigger box."""
    best: dict[tuple[str, int, int], Option] = {}
    for o in options:
        key = (o.build.gpu.id, o.build.n_gpus, o.build.n_nodes)
        if key not in best or chassis_key(o, objective) < chassis_key(best[key], objective):
            best[key] = o
    return sorted(best.values(), key=lambda o: rank_key(o, objective))


def recommend(catalog, model: ModelSpec, engine: Engine, precision: Precision, kv: Precision, base: Workload,
              c: Constraints, request: dict | None = None) -> Recommendation:
    options, rejected = search(catalog, model, engine, precision, kv, base, c)
    ranked = best_per_shape(options, c.objective)
    ranked = [o.model_copy(update={"reasons": reasons(o, i, len(ranked), c.objective)}) for i, o in enumerate(ranked)]
    ways = () if ranked else ways_out(catalog, model, engine, precision, kv, base, c, rejected)
    return Recommendation(request=request or {}, workload=base, model=model, options=tuple(ranked),
                          rejected=tuple(rejected), ways_out=ways)


def ways_out(catalog, model: ModelSpec, engine: Engine, precision: Precision, kv: Precision, base: Workload,
             c: Constraints, rejected: list[Rejection]) -> tuple[str, ...]:
    """When nothing passes: the cheapest changes that would, each checked by a search."""
    out: list[str] = []
    failed = {f.rule for r in rejected for f in r.findings}
    if "budget" in failed and c.budget_usd:
        opts, _ = search(catalog, model, engine, precision, kv, base, c.model_copy(update={"budget_usd": None}))
        if opts:
            cheapest = min(opts, key=lambda o: o.total_price_usd)
            out.append(f"raise --budget to {fmt_money(cheapest.total_price_usd)} ({cheapest.build.n_gpus} x "
                       f"{cheapest.build.gpu.name}), the cheapest build that passes every other rule")
    if base.batch > 1:
        for users in (base.batch // 2, base.batch // 4, 1):
            if users >= 1 and search(catalog, model, engine, precision, kv,
                                     base.model_copy(update={"batch": users}), c)[0]:
                out.append(f"serve {users} concurrent users (--users {users}) instead of {base.batch}")
                break
    if base.prompt_tokens > 1024:
        shorter = base.model_copy(update={"prompt_tokens": max(256, base.prompt_tokens // 4)})
        if search(catalog, model, engine, precision, kv, shorter, c)[0]:
            out.append(f"a shorter context: --context {shorter.prompt_tokens + shorter.new_tokens}")
    smaller = {"llama.cpp": "q4_k_m"}.get(engine.id, "awq-int4")
    if precision.id != smaller and smaller in catalog.precisions and \
            catalog.precisions[smaller].family in engine.weight_families:
        p4 = catalog.precisions[smaller]
        if (p4.weight_bits or 16) < (precision.weight_bits or 16) and search(
                catalog, model, engine, p4, kv, base.model_copy(update={"precision": smaller}), c)[0]:
            out.append(f"a smaller quantization: --precision {smaller}")
    if c.gpus or c.exclude or c.max_gpus or c.form_factor:
        wider = c.model_copy(update={"gpus": (), "exclude": (), "max_gpus": None, "form_factor": None})
        opts, _ = search(catalog, model, engine, precision, kv, base, wider)
        if opts:
            best = min(opts, key=lambda o: rank_key(o, c.objective))
            out.append(f"another GPU or count: {best.build.n_gpus * best.build.n_nodes} x {best.build.gpu.id} "
                       f"({fmt_money(best.total_price_usd)}) passes without the GPU constraints")
    if not out:
        out.append("no change tried here makes a build pass; see the rejected list for each rule that failed")
    return tuple(out)
