"""Build rules: one small pure function per rule, each returning a Finding (infeasibility is a value).

`check(build, estimate, limits)` runs every rule in RULES on a composed build, so the rules check what the
recommender derived. Each docstring states the rule and its source.
"""

from __future__ import annotations

from collections.abc import Callable

from .estimate import ACT_BYTES, allreduce_s, link_name, tp_problem
from .specs import Build, Constraints, Engine, Estimate, Finding, Gpu, Psu
from .units import fmt_bytes, fmt_decimal_bytes, fmt_money, fmt_rate, fmt_watts

ATX_HEADROOM = 1.25  # PSU continuous >= 1.25 x sustained DC load (integrator practice: 50-80% load, hardware.md §3.2
# [S49]; ATX 3.x rides 200% excursions for 100 us [S52], so headroom is for efficiency and ageing, not spikes)
CRPS_HEADROOM = 1.15  # redundant server supplies: +10-20% over the summed load (STH power formula, hardware.md §3.2 [S48])
CORES_PER_GPU = 4  # serving/data-loading threads per GPU, at least 8 cores in all: integrator rule of thumb (8 x RTX
MIN_CORES = 8  # 4090 rental servers run on one 32-core EPYC, hardware.md §3.3 [S22]); UNCONFIRMED as a rule
MIN_POWER_FRACTION = 0.7  # caps below 70% of TDP cost real speed (Puget: 280 W of 350 W kept >95% [S53])
# 80 PLUS efficiency at 50% load (hardware.md §3.2 [S55]): 115 V internal, 230 V internal redundant
EFFICIENCY = {"bronze": (0.85, 0.88), "gold": (0.90, 0.92), "platinum": (0.92, 0.94), "titanium": (0.94, 0.96)}


def psu_efficiency(tier: str, volts: float) -> float:
    low, high = EFFICIENCY.get(tier, EFFICIENCY["gold"])
    return high if volts >= 200 else low


# ------------------------------------------------------------------------------------------------------- rules
def gpu_memory(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """The busiest GPU's need fits what the engine may use of it: its gpu_memory_utilization fraction, else 95% of
    the card (driver and allocator growth). Source: the estimator (sizing.estimate.memory)."""
    m = e.memory
    where = f"{b.n_gpus * b.n_nodes} x {b.gpu.name}"
    msg = (f"needs {fmt_bytes(m.need_per_gpu_bytes)} per GPU on {where}, {fmt_bytes(m.usable_per_gpu_bytes)} usable "
           f"of {fmt_bytes(m.gpu_memory_bytes)}")
    if not m.fits:
        msg += "; use more or larger GPUs, a smaller quantization, fewer users or a shorter context"
    return Finding(rule="gpu_memory", ok=m.fits, need=round(m.need_per_gpu_bytes), have=round(m.usable_per_gpu_bytes),
                   message=msg)


def engine_support(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """The engine has kernels for this GPU's vendor (vLLM/TensorRT-LLM build on CUDA; Huawei Ascend needs the CANN
    stack: MindIE or vllm-ascend, hardware.md §5)."""
    return engine_runs_on(e.engine, b.gpu)


def engine_runs_on(engine: Engine, gpu: Gpu) -> Finding:
    ok = gpu.vendor in engine.gpu_vendors
    msg = (f"{engine.name} runs on {gpu.vendor} GPUs" if ok else
           f"{engine.name} has no kernels for {gpu.vendor} GPUs ({', '.join(engine.gpu_vendors)} only)"
           + ("; Ascend needs the CANN stack (MindIE, vllm-ascend)" if gpu.vendor == "huawei" else ""))
    return Finding(rule="engine_support", ok=ok, need=gpu.vendor, have=";".join(engine.gpu_vendors), message=msg)


def tensor_parallel(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """Tensor parallel splits attention heads evenly: the GPU count per node must divide the query heads, and the KV
    heads must divide among the GPUs or be replicated to them (vLLM/Megatron-LM check both at start-up)."""
    problem = tp_problem(e.model, b.n_gpus) if e.engine.split == "tensor" else None
    if problem is None:
        return Finding(rule="tensor_parallel", ok=True, message=f"{b.n_gpus} GPU(s) per node split the model evenly")
    return Finding(rule="tensor_parallel", ok=False, need=e.model.n_heads, have=b.n_gpus, message=problem)


def psu_headroom(psu_form: str) -> float:
    return CRPS_HEADROOM if psu_form == "crps" else ATX_HEADROOM


def gpu_plugs_served(psu: Psu, gpu: Gpu, n_cpus: int) -> int:
    """How many of these GPUs the PSU's outputs can feed: a 16-pin card takes a native 16-pin output or an adapter
    from three (450 W) or four (600 W) 8-pin PCIe outputs; an 8-pin EPS card (RTX A6000, A40, A100 PCIe) takes a
    spare EPS output or the two-PCIe-to-EPS adapter NVIDIA ships with it; PCIe 8-pin cards take their plug count
    (PCIe CEM 5.0 / ATX 3.0 ratings: 16-pin 600 W, 8-pin 150 W)."""
    conn = gpu.power_connector or "board"
    if psu.form == "crps" or conn == "board":
        return 10**6  # server chassis feed GPUs from their power board
    if conn in ("12vhpwr", "12v-2x6"):
        return psu.n_12vhpwr + psu.n_pcie_8pin // (4 if gpu.tdp_w > 450 else 3)
    if "eps" in conn:
        return max(0, psu.n_eps_8pin - n_cpus) + psu.n_pcie_8pin // 2
    plugs = 3 if conn.startswith("3x") else 2 if conn.startswith("2x") else 1
    return psu.n_pcie_8pin // plugs


def psu_capacity(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """PSU continuous rating at the input voltage >= 1.25 x sustained DC load (ATX); 1.15 for redundant CRPS sets,
    counting only the PSUs that carry the load (N+N or N+1). Sources: hardware.md §3.2 [S48][S49][S52]."""
    headroom = psu_headroom(b.psu.form)
    need = b.sustained_w * headroom
    ok = b.psu_capacity_w >= need and b.sustained_w <= b.chassis.max_psu_w
    psu = f"{b.n_psus} x {b.psu.name}" if b.n_psus > 1 else b.psu.name
    msg = (f"needs {fmt_watts(need)} ({fmt_watts(b.sustained_w)} sustained x {headroom}), {psu} gives "
           f"{fmt_watts(b.psu_capacity_w)} at {b.circuit.volts:.0f} V")
    if b.sustained_w > b.chassis.max_psu_w:
        msg += f"; the chassis supplies at most {fmt_watts(b.chassis.max_psu_w)}"
    return Finding(rule="psu_capacity", ok=ok, need=round(need), have=round(b.psu_capacity_w), message=msg)


def psu_connectors(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """Each GPU gets its own power cables from the PSU (see gpu_plugs_served); server chassis power the GPUs from
    their power board."""
    have = gpu_plugs_served(b.psu, b.gpu, b.n_cpus)
    if have >= 10**6:
        return Finding(rule="psu_connectors", ok=True, message="GPUs are powered from the chassis power board")
    return Finding(rule="psu_connectors", ok=have >= b.n_gpus, need=b.n_gpus, have=have,
                   message=f"{b.n_gpus} GPU(s) with {b.gpu.power_connector} plugs; {b.psu.name} "
                           f"({b.psu.n_12vhpwr} x 16-pin, {b.psu.n_pcie_8pin} x PCIe 8-pin, {b.psu.n_eps_8pin} x EPS) "
                           f"feeds {have}")


def wall_circuit(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """The wall draw (DC load / 80 PLUS efficiency at 50% load) stays within the circuit's continuous rating
    (NEC 80% rule: 120 V/15 A carries 1,440 W; hardware.md §3.1 [S46], Lambda recommends against workstations above
    1,440 W [S47]). A rack server spreads its active PSUs over separate feeds, one circuit each (DGX H100: 10.2 kW
    on 200-240 V feeds [S57]). Over it, a one-PSU machine gets its GPUs capped if >= 70% of TDP suffices
    (Puget [S53]); otherwise it needs a second circuit or a higher-voltage one."""
    full_wall = b.sustained_w / psu_efficiency(b.psu.efficiency_tier, b.circuit.volts)
    capacity = b.circuit.continuous_w * b.n_circuits
    ok = b.wall_w <= capacity
    msg = (f"draws {fmt_watts(full_wall)} at the wall at full power; a {b.circuit.label} circuit carries "
           f"{fmt_watts(b.circuit.continuous_w)} continuously")
    if b.n_circuits > 1:
        msg += f": needs {b.n_circuits} such circuits (PSUs on separate feeds)"
    if b.gpu_power_limit_w and ok:
        msg += (f": fits with GPUs capped at {b.gpu_power_limit_w:.0f} W (nvidia-smi -pl {b.gpu_power_limit_w:.0f}; "
                f"{fmt_watts(b.wall_w)}): decode is memory-bound and barely slows, compute-bound prefill and "
                "training lose a few percent (Puget: >95% at 80% power)")
    elif not ok:
        msg += "; use a second circuit, a 230 V or 208 V circuit, or fewer GPUs"
    return Finding(rule="wall_circuit", ok=ok, need=round(b.wall_w), have=round(capacity), message=msg)


def chassis_fit(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """GPU count, form factor, card width and length within the chassis (hardware.md §3.3: ATX boards have 7 slots,
    so at most two 3-slot cards sit directly on the board; 4U servers are built for 2-slot cards [S22])."""
    c, g = b.chassis, b.gpu
    problems = []
    if b.n_gpus > c.max_gpus:
        problems.append(f"holds {c.max_gpus} GPUs, not {b.n_gpus}")
    if g.form_factor != c.gpu_form_factor:
        problems.append(f"takes {c.gpu_form_factor.upper()} GPUs, the {g.name} is {g.form_factor.upper()}")
    if g.slot_width and c.max_gpu_slot_width and g.slot_width > c.max_gpu_slot_width:
        problems.append(f"fits {c.max_gpu_slot_width:g}-slot cards, the {g.name} is {g.slot_width:g} slots wide")
    if g.length_mm and c.max_gpu_length_mm and g.length_mm > c.max_gpu_length_mm:
        problems.append(f"fits cards up to {c.max_gpu_length_mm:.0f} mm, the {g.name} is {g.length_mm:.0f} mm")
    msg = f"{c.name}: " + ("; ".join(problems) if problems else f"{b.n_gpus} x {g.name} fit")
    return Finding(rule="chassis_fit", ok=not problems, need=b.n_gpus, have=c.max_gpus, message=msg)


def cooling(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """Open-air consumer cards only where the chassis can exhaust them (its open_air_ok: towers, which hold at most two
    such cards, and riser chassis); dense server ducts need blower or passive cards; passive datacenter cards need
    server airflow, not a tower (hardware.md §3.3 [S61]; NVIDIA product briefs [S10][S29])."""
    g, c = b.gpu, b.chassis
    if g.cooling == "open-air" and not c.open_air_ok:
        return Finding(rule="cooling", ok=False, need="open-air exhaust", have=c.form_factor,
                       message=f"{g.name} is an open-air card: {b.n_gpus} of them in {c.name} recirculate heat; use "
                               "blower cards (e.g. rtx-4090-blower) or a riser chassis")
    if g.cooling == "passive" and c.form_factor != "rack":
        return Finding(rule="cooling", ok=False, need="server airflow", have=c.form_factor,
                       message=f"{g.name} is passively cooled and needs a rack server's airflow, not a {c.form_factor}")
    return Finding(rule="cooling", ok=True, message=f"{g.cooling} cards suit {c.name}")


def pcie_lanes(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """Lanes for every GPU (x16, or x8 with a stated penalty; PCIe switches fan one x16 uplink out to several GPUs),
    each NVMe drive (x4; SATA/SAS drives take none) and each NIC (x16), within the CPUs' lanes (hardware.md §3.4
    [S62][S63])."""
    have = b.cpu_lanes
    msg = f"needs {b.lanes_need} lanes, {b.n_cpus} x {b.cpu.name} give {have}"
    if b.gpu_lanes_each < 16 and b.gpu.form_factor == "pcie":
        msg += (f"; GPUs run at x{b.gpu_lanes_each}: half the host link for loading weights and CPU offload, "
                "little effect on inference once loaded")
    if b.chassis.pcie_switch:
        msg += "; GPUs hang off PCIe switches"
    return Finding(rule="pcie_lanes", ok=b.lanes_need <= have, need=b.lanes_need, have=have, message=msg)


def cpu_cores(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """At least 4 cores per GPU and 8 in all: serving processes, tokenization and data loading (integrator rule of
    thumb; UNCONFIRMED in stored sources)."""
    have = b.cpu.cores * b.n_cpus
    return Finding(rule="cpu_cores", ok=have >= b.cores_need, need=b.cores_need, have=have,
                   message=f"needs {b.cores_need} cores ({CORES_PER_GPU} per GPU, {MIN_CORES} at least), has {have}")


def system_ram(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """RAM >= the larger of 1.5 x the weights (loaders stage the file in RAM) and the GPUs' total memory (pinned
    staging buffers, page cache), plus 32 GiB for the OS (hardware.md §3.5 [S66][S67]; ratios UNCONFIRMED), and
    no more than the CPUs address (their max memory per socket)."""
    ceiling = (b.cpu.max_memory_bytes_per_socket or float("inf")) * b.n_cpus
    ok = b.ram_need_bytes <= b.ram_bytes <= ceiling
    msg = (f"needs {fmt_bytes(b.ram_need_bytes)} of RAM per node, has {b.n_dimms} x {fmt_bytes(b.dimm.capacity_bytes)}"
           f" = {fmt_bytes(b.ram_bytes)}")
    if b.ram_bytes > ceiling:
        msg += f"; {b.n_cpus} x {b.cpu.name} address at most {fmt_bytes(ceiling)}"
    return Finding(rule="system_ram", ok=ok, need=round(b.ram_need_bytes), have=round(b.ram_bytes), message=msg)


def memory_channels(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """Every memory channel of every CPU holds the same number of identical DIMMs: bandwidth is channels x MT/s,
    so half-filled channels halve it (hardware.md §2 notes)."""
    channels = b.cpu.memory_channels * b.n_cpus
    ok = b.n_dimms % channels == 0 and b.n_dimms <= b.chassis.dimm_slots
    return Finding(rule="memory_channels", ok=ok, need=channels, have=b.n_dimms,
                   message=f"{b.n_dimms} identical {b.dimm.name} in {channels} channels "
                           f"({b.n_dimms // channels if ok else '?'} per channel, {b.chassis.dimm_slots} slots)")


def memory_type(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """DIMM generation matches the CPU; server and workstation CPUs take ECC RDIMMs, desktop CPUs UDIMMs."""
    ok = b.dimm.ddr_gen == b.cpu.ddr_gen and (b.dimm.module_type == "rdimm") == b.cpu.ecc_rdimm
    return Finding(rule="memory_type", ok=ok, need=f"DDR{b.cpu.ddr_gen} {'RDIMM' if b.cpu.ecc_rdimm else 'UDIMM'}",
                   have=b.dimm.name, message=f"{b.cpu.name} takes DDR{b.cpu.ddr_gen} "
                   f"{'ECC RDIMMs' if b.cpu.ecc_rdimm else 'UDIMMs'}; {b.dimm.name} {'matches' if ok else 'does not'}")


def memory_speed(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """DIMMs run at the CPU's maximum memory speed when faster: a Xeon Silver 4314 runs DDR4-3200 at 2666 MT/s
    (Intel ARK via hardware.md §2 [S20])."""
    run = b.memory_speed_mt_s
    bw = run * 8 * b.cpu.memory_channels * b.n_cpus / 1e3
    msg = f"{b.dimm.name} run at {run} MT/s on {b.cpu.name} ({bw:,.0f} GB/s over all channels)"
    if run < b.dimm.speed_mt_s:
        msg += f": the CPU caps memory at {b.cpu.max_memory_mt_s} MT/s, not {b.dimm.speed_mt_s}"
    return Finding(rule="memory_speed", ok=True, need=b.dimm.speed_mt_s, have=run, message=msg)


def system_drive(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """The system NVMe holds the OS, CUDA and containers (256 GB) plus two copies of the weights (the hub cache
    and one converted or quantized copy) (hardware.md §3.6: a 500 GB system SSD fills fast)."""
    have = b.system_drive.capacity_bytes
    return Finding(rule="system_drive", ok=have >= b.system_drive_need_bytes, need=round(b.system_drive_need_bytes),
                   have=round(have), message=f"needs {fmt_decimal_bytes(b.system_drive_need_bytes)} for OS and "
                   f"model cache, {b.system_drive.name} holds {fmt_decimal_bytes(have)}")


def data_drive(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """Data drives hold datasets, logs and model versions; HDDs only for cold data (hardware.md §3.6:
    NVMe for the working set, HDD for archive)."""
    if b.data_drive is None:
        if not b.data_drive_need_bytes:
            return Finding(rule="data_drive", ok=True, need=0, have=0, message="no free bay: data stays on the NVMe")
        return Finding(rule="data_drive", ok=False, need=round(b.data_drive_need_bytes), have=0,
                       message=f"no drive in drives.csv fits the free bays for "
                               f"{fmt_decimal_bytes(b.data_drive_need_bytes)} of data")
    have = b.data_drive.capacity_bytes * b.n_data_drives
    return Finding(rule="data_drive", ok=have >= b.data_drive_need_bytes, need=round(b.data_drive_need_bytes),
                   have=round(have), message=f"needs {fmt_decimal_bytes(b.data_drive_need_bytes)} for datasets and "
                   f"model versions, {b.n_data_drives} x {b.data_drive.name} hold {fmt_decimal_bytes(have)}")


def gpu_communication(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """What multi-GPU traffic costs: tensor parallel all-reduces twice per layer; GeForce cards have no P2P or
    NVLink, so it crosses host memory (hardware.md §0, §3.4 [S15][S16]); layer split adds capacity, not speed."""
    n = b.n_gpus
    if n == 1 and b.n_nodes == 1:
        return Finding(rule="gpu_communication", ok=True, message="one GPU: no inter-GPU traffic")
    if e.engine.split == "layer":
        return Finding(rule="gpu_communication", ok=True, message=f"{e.engine.name} splits layers: activations hop "
                       "GPU to GPU once per token; more GPUs add memory, not decode speed")
    link = link_name(b.gpu, n)
    per_token = 2 * e.model.n_layers * allreduce_s(b.gpu, n, e.workload.batch * e.model.hidden_size * ACT_BYTES)
    step = 1 / e.speed.decode_tokens_per_s if e.speed.decode_tokens_per_s else 0.0
    share = per_token / step if step else 0.0
    msg = (f"tensor parallel over {link}: all-reduces cost {per_token * 1e3:.2f} ms per decode step "
           f"({share:.0%} of it)")
    if b.n_nodes > 1:
        msg += f"; {b.n_nodes} nodes pipeline layers over {b.nic.name if b.nic else 'the network'}"
    return Finding(rule="gpu_communication", ok=True, need=None, have=link, message=msg)


def network(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """Multi-node builds need a NIC per node and, beyond two nodes, a switch with a port per node."""
    if b.n_nodes == 1:
        return Finding(rule="network", ok=True, message="single node: no cluster network")
    ok = b.nic is not None and (b.n_nodes <= 2 or (b.switch is not None and b.switch.ports >= b.n_nodes))
    nic = b.nic.name if b.nic else "no NIC"
    sw = "back-to-back cable" if b.n_nodes <= 2 else (b.switch.name if b.switch else "no switch")
    return Finding(rule="network", ok=ok, need=b.n_nodes, have=sw, message=f"{b.n_nodes} nodes: {nic} per node, {sw}")


def budget(b: Build, e: Estimate, limits: Constraints, total_usd: float = 0.0) -> Finding:
    """The build's priced parts stay within --budget."""
    if limits.budget_usd is None:
        return Finding(rule="budget", ok=True, message="no budget given")
    ok = total_usd <= limits.budget_usd
    return Finding(rule="budget", ok=ok, need=round(total_usd), have=limits.budget_usd,
                   message=f"costs {fmt_money(total_usd)}, budget {fmt_money(limits.budget_usd)}")


def target_speed(b: Build, e: Estimate, limits: Constraints) -> Finding:
    """Total decode throughput over all users meets --target-tokens-per-s."""
    have = e.speed.decode_tokens_per_s_total
    if limits.target_tokens_per_s is None:
        return Finding(rule="target_speed", ok=True, have=round(have, 1), message=f"decode {fmt_rate(have)} in total")
    ok = have >= limits.target_tokens_per_s
    return Finding(rule="target_speed", ok=ok, need=limits.target_tokens_per_s, have=round(have, 1),
                   message=f"decodes {fmt_rate(have)} in total, target {fmt_rate(limits.target_tokens_per_s)}")


Rule = Callable[[Build, Estimate, Constraints], Finding]
RULES: tuple[Rule, ...] = (gpu_memory, engine_support, tensor_parallel, chassis_fit, cooling, pcie_lanes, cpu_cores, system_ram, memory_channels,
                           memory_type, memory_speed, system_drive, data_drive, psu_capacity, psu_connectors,
                           wall_circuit, gpu_communication, network, target_speed)


def check(b: Build, e: Estimate, limits: Constraints, total_usd: float = 0.0) -> tuple[Finding, ...]:
    """Every rule on the composed build, budget last."""
    return tuple(rule(b, e, limits) for rule in RULES) + (budget(b, e, limits, total_usd),)

