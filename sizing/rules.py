"""Build rules: one small pure function per rule, each returning a Finding (infeasibility is a value).

Each rule takes a Candidate: the composed build, what the work needs of it (sizing.estimate.requirements), what it
draws (sizing.estimate.power) and the estimate on its own links, so the rules check what the recommender derived
against numbers it did not derive. `check(candidate)` runs every rule in RULES. Each docstring states the rule and
its source.
"""

from __future__ import annotations

from collections.abc import Callable

from .estimate.parallel import tensor_ways, tp_problem
from .estimate.power import psu_headroom
from .estimate.requirements import CORES_PER_GPU, MIN_CORES, data_bays, lanes_used
from .specs import Candidate, Engine, Finding, Gpu, Psu
from .units import fmt_bytes, fmt_decimal_bytes, fmt_money, fmt_rate, fmt_watts

BOARD_POWERED = 10**6  # "plugs" a server power board offers: it feeds every GPU


# ------------------------------------------------------------------------------------------------------- rules
def gpu_memory(c: Candidate) -> Finding:
    """The busiest GPU's need fits what the engine may use of it: its gpu_memory_utilization fraction, else 95% of
    the card (driver and allocator growth). Source: the estimator (sizing.estimate.memory)."""
    b, m = c.build, c.estimate.memory
    where = f"{b.n_gpus * b.n_nodes} x {b.gpu.name}"
    msg = (f"needs {fmt_bytes(m.need_per_gpu_bytes)} per GPU on {where}, {fmt_bytes(m.usable_per_gpu_bytes)} usable "
           f"of {fmt_bytes(m.gpu_memory_bytes)}")
    if not m.fits:
        msg += "; use more or larger GPUs, a smaller quantization, fewer users or a shorter context"
    return Finding(rule="gpu_memory", ok=m.fits, need=round(m.need_per_gpu_bytes), have=round(m.usable_per_gpu_bytes),
                   message=msg)


def engine_support(c: Candidate) -> Finding:
    """The engine has kernels for this GPU's vendor (vLLM/TensorRT-LLM build on CUDA; Huawei Ascend needs the CANN
    stack: MindIE or vllm-ascend, hardware.md §5; what to run instead is the GPU's stack_note in gpus.csv)."""
    return engine_runs_on(c.estimate.execution.engine, c.build.gpu)


def engine_runs_on(engine: Engine, gpu: Gpu) -> Finding:
    ok = gpu.vendor in engine.gpu_vendors
    msg = (f"{engine.name} runs on {gpu.vendor} GPUs" if ok else
           f"{engine.name} has no kernels for {gpu.vendor} GPUs ({', '.join(engine.gpu_vendors)} only)"
           + (f"; {gpu.stack_note}" if gpu.stack_note else ""))
    return Finding(rule="engine_support", ok=ok, need=gpu.vendor, have=";".join(engine.gpu_vendors), message=msg)


def tensor_parallel(c: Candidate) -> Finding:
    """Tensor parallel splits attention heads evenly: the GPU count per node must divide the query heads, and the KV
    heads must divide among the GPUs or be replicated to them (vLLM/Megatron-LM check both at start-up)."""
    b, e = c.build, c.estimate
    problem = tp_problem(e.model, tensor_ways(e.execution))
    if problem is None:
        return Finding(rule="tensor_parallel", ok=True, message=f"{b.n_gpus} GPU(s) per node split the model evenly")
    return Finding(rule="tensor_parallel", ok=False, need=e.model.n_heads, have=b.n_gpus, message=problem)


def gpu_plugs_served(psu: Psu, gpu: Gpu, n_cpus: int) -> int:
    """How many of these GPUs the PSU's outputs can feed: a 16-pin card takes a native 16-pin output or an adapter
    from three (450 W) or four (600 W) 8-pin PCIe outputs; an 8-pin EPS card (RTX A6000, A40, A100 PCIe) takes a
    spare EPS output or the two-PCIe-to-EPS adapter NVIDIA ships with it; PCIe 8-pin cards take their plug count
    (PCIe CEM 5.0 / ATX 3.0 ratings: 16-pin 600 W, 8-pin 150 W)."""
    conn = gpu.power_connector or "board"
    if psu.form == "crps" or conn == "board":
        return BOARD_POWERED  # server chassis feed GPUs from their power board
    if conn in ("12vhpwr", "12v-2x6"):
        return psu.n_12vhpwr + psu.n_pcie_8pin // (4 if gpu.tdp_w > 450 else 3)
    if "eps" in conn:
        return max(0, psu.n_eps_8pin - n_cpus) + psu.n_pcie_8pin // 2
    plugs = 3 if conn.startswith("3x") else 2 if conn.startswith("2x") else 1
    return psu.n_pcie_8pin // plugs


def psu_capacity(c: Candidate) -> Finding:
    """PSU continuous rating at the input voltage >= 1.25 x sustained DC load (ATX); 1.15 for redundant CRPS sets,
    counting only the PSUs that carry the load (N+N or N+1). Sources: hardware.md §3.2 [S48][S49][S52]."""
    b, p = c.build, c.power
    headroom = psu_headroom(b.psu.form)
    need = p.sustained_w * headroom
    ok = p.psu_capacity_w >= need and p.sustained_w <= b.chassis.max_psu_w
    psu = f"{b.n_psus} x {b.psu.name}" if b.n_psus > 1 else b.psu.name
    msg = (f"needs {fmt_watts(need)} ({fmt_watts(p.sustained_w)} sustained x {headroom}), {psu} gives "
           f"{fmt_watts(p.psu_capacity_w)} at {b.circuit.volts:.0f} V")
    if p.sustained_w > b.chassis.max_psu_w:
        msg += f"; the chassis supplies at most {fmt_watts(b.chassis.max_psu_w)}"
    return Finding(rule="psu_capacity", ok=ok, need=round(need), have=round(p.psu_capacity_w), message=msg)


def psu_connectors(c: Candidate) -> Finding:
    """Each GPU gets its own power cables from the PSU (see gpu_plugs_served); server chassis power the GPUs from
    their power board."""
    b = c.build
    have = gpu_plugs_served(b.psu, b.gpu, b.n_cpus)
    if have >= BOARD_POWERED:
        return Finding(rule="psu_connectors", ok=True, message="GPUs are powered from the chassis power board")
    return Finding(rule="psu_connectors", ok=have >= b.n_gpus, need=b.n_gpus, have=have,
                   message=f"{b.n_gpus} GPU(s) with {b.gpu.power_connector} plugs; {b.psu.name} "
                           f"({b.psu.n_12vhpwr} x 16-pin, {b.psu.n_pcie_8pin} x PCIe 8-pin, {b.psu.n_eps_8pin} x EPS) "
                           f"feeds {have}")


def wall_circuit(c: Candidate) -> Finding:
    """The wall draw (DC load / 80 PLUS efficiency at 50% load) stays within the circuit's continuous rating
    (NEC 80% rule: 120 V/15 A carries 1,440 W; hardware.md §3.1 [S46], Lambda recommends against workstations above
    1,440 W [S47]). A rack server spreads its active PSUs over separate feeds, one circuit each (DGX H100: 10.2 kW
    on 200-240 V feeds [S57]). Over it, a one-PSU machine gets its GPUs capped if >= 70% of TDP suffices
    (Puget [S53]); otherwise it needs a second circuit or a higher-voltage one."""
    b, p = c.build, c.power
    capacity = b.circuit.continuous_w * p.n_circuits
    ok = p.wall_w <= capacity
    msg = (f"draws {fmt_watts(p.full_wall_w)} at the wall at full power; a {b.circuit.label} circuit carries "
           f"{fmt_watts(b.circuit.continuous_w)} continuously")
    if p.n_circuits > 1:
        msg += f": needs {p.n_circuits} such circuits (PSUs on separate feeds)"
    if b.gpu_power_limit_w and ok:
        msg += (f": fits with GPUs capped at {b.gpu_power_limit_w:.0f} W (nvidia-smi -pl {b.gpu_power_limit_w:.0f}; "
                f"{fmt_watts(p.wall_w)}): decode is memory-bound and barely slows, compute-bound prefill and "
                "training lose a few percent (Puget: >95% at 80% power)")
    elif not ok:
        msg += "; use a second circuit, a 230 V or 208 V circuit, or fewer GPUs"
    return Finding(rule="wall_circuit", ok=ok, need=round(p.wall_w), have=round(capacity), message=msg)


def chassis_fit(c: Candidate) -> Finding:
    """GPU count, form factor, card width and length within the chassis (hardware.md §3.3: ATX boards have 7 slots,
    so at most two 3-slot cards sit directly on the board; 4U servers are built for 2-slot cards [S22])."""
    b = c.build
    box, g = b.chassis, b.gpu
    problems = []
    if b.n_gpus > box.max_gpus:
        problems.append(f"holds {box.max_gpus} GPUs, not {b.n_gpus}")
    if g.form_factor != box.gpu_form_factor:
        problems.append(f"takes {box.gpu_form_factor.upper()} GPUs, the {g.name} is {g.form_factor.upper()}")
    if g.slot_width and box.max_gpu_slot_width and g.slot_width > box.max_gpu_slot_width:
        problems.append(f"fits {box.max_gpu_slot_width:g}-slot cards, the {g.name} is {g.slot_width:g} slots wide")
    if g.length_mm and box.max_gpu_length_mm and g.length_mm > box.max_gpu_length_mm:
        problems.append(f"fits cards up to {box.max_gpu_length_mm:.0f} mm, the {g.name} is {g.length_mm:.0f} mm")
    msg = f"{box.name}: " + ("; ".join(problems) if problems else f"{b.n_gpus} x {g.name} fit")
    return Finding(rule="chassis_fit", ok=not problems, need=b.n_gpus, have=box.max_gpus, message=msg)


def cooling(c: Candidate) -> Finding:
    """Open-air consumer cards only where the chassis can exhaust them (its open_air_ok: towers, which hold at most two
    such cards, and riser chassis); dense server ducts need blower or passive cards; passive datacenter cards need
    server airflow, not a tower (hardware.md §3.3 [S61]; NVIDIA product briefs [S10][S29])."""
    b = c.build
    g, box = b.gpu, b.chassis
    if g.cooling == "open-air" and not box.open_air_ok:
        return Finding(rule="cooling", ok=False, need="open-air exhaust", have=box.form_factor,
                       message=f"{g.name} is an open-air card: {b.n_gpus} of them in {box.name} recirculate heat; use "
                               "blower cards (e.g. rtx-4090-blower) or a riser chassis")
    if g.cooling == "passive" and box.form_factor != "rack":
        return Finding(rule="cooling", ok=False, need="server airflow", have=box.form_factor,
                       message=f"{g.name} is passively cooled and needs a rack server's airflow, not a {box.form_factor}")
    return Finding(rule="cooling", ok=True, message=f"{g.cooling} cards suit {box.name}")


def pcie_lanes(c: Candidate) -> Finding:
    """Lanes for every GPU (x16, or x8 with a stated penalty; PCIe switches fan one x16 uplink out to several GPUs),
    each NVMe drive (x4; SATA/SAS drives take none) and each NIC (x16), within the CPUs' lanes (hardware.md §3.4
    [S62][S63])."""
    b = c.build
    have, need = b.cpu_lanes, lanes_used(b)
    msg = f"needs {need} lanes, {b.n_cpus} x {b.cpu.name} give {have}"
    if b.gpu_lanes_each < 16 and b.gpu.form_factor == "pcie":
        msg += (f"; GPUs run at x{b.gpu_lanes_each}: half the host link for loading weights and CPU offload, "
                "little effect on inference once loaded")
    if b.chassis.pcie_switch:
        msg += "; GPUs hang off PCIe switches"
    return Finding(rule="pcie_lanes", ok=need <= have, need=need, have=have, message=msg)


def cpu_cores(c: Candidate) -> Finding:
    """At least 4 cores per GPU and 8 in all: serving processes, tokenization and data loading (integrator rule of
    thumb; UNCONFIRMED in stored sources)."""
    b, need = c.build, c.requirements.cores
    have = b.cpu.cores * b.n_cpus
    return Finding(rule="cpu_cores", ok=have >= need, need=need, have=have,
                   message=f"needs {need} cores ({CORES_PER_GPU} per GPU, {MIN_CORES} at least), has {have}")


def system_ram(c: Candidate) -> Finding:
    """RAM >= the larger of 1.5 x the weights (loaders stage the file in RAM) and the GPUs' total memory (pinned
    staging buffers, page cache), plus 32 GiB for the OS (hardware.md §3.5 [S66][S67]; ratios UNCONFIRMED), and
    no more than the CPUs address (their max memory per socket)."""
    b, need = c.build, c.requirements.ram_bytes
    ceiling = (b.cpu.max_memory_bytes_per_socket or float("inf")) * b.n_cpus
    ok = need <= b.ram_bytes <= ceiling
    msg = (f"needs {fmt_bytes(need)} of RAM per node, has {b.n_dimms} x {fmt_bytes(b.dimm.capacity_bytes)}"
           f" = {fmt_bytes(b.ram_bytes)}")
    if b.ram_bytes > ceiling:
        msg += f"; {b.n_cpus} x {b.cpu.name} address at most {fmt_bytes(ceiling)}"
    return Finding(rule="system_ram", ok=ok, need=round(need), have=round(b.ram_bytes), message=msg)


def memory_channels(c: Candidate) -> Finding:
    """Every memory channel of every CPU holds the same number of identical DIMMs: bandwidth is channels x MT/s,
    so half-filled channels halve it (hardware.md §2 notes)."""
    b = c.build
    channels = b.cpu.memory_channels * b.n_cpus
    ok = b.n_dimms % channels == 0 and b.n_dimms <= b.chassis.dimm_slots
    return Finding(rule="memory_channels", ok=ok, need=channels, have=b.n_dimms,
                   message=f"{b.n_dimms} identical {b.dimm.name} in {channels} channels "
                           f"({b.n_dimms // channels if ok else '?'} per channel, {b.chassis.dimm_slots} slots)")


def memory_type(c: Candidate) -> Finding:
    """DIMM generation matches the CPU; server and workstation CPUs take ECC RDIMMs, desktop CPUs UDIMMs."""
    b = c.build
    ok = b.dimm.ddr_gen == b.cpu.ddr_gen and (b.dimm.module_type == "rdimm") == b.cpu.ecc_rdimm
    return Finding(rule="memory_type", ok=ok, need=f"DDR{b.cpu.ddr_gen} {'RDIMM' if b.cpu.ecc_rdimm else 'UDIMM'}",
                   have=b.dimm.name, message=f"{b.cpu.name} takes DDR{b.cpu.ddr_gen} "
                   f"{'ECC RDIMMs' if b.cpu.ecc_rdimm else 'UDIMMs'}; {b.dimm.name} {'matches' if ok else 'does not'}")


def memory_speed(c: Candidate) -> Finding:
    """DIMMs run at the CPU's maximum memory speed when faster: a Xeon Silver 4314 runs DDR4-3200 at 2666 MT/s
    (Intel ARK via hardware.md §2 [S20])."""
    b = c.build
    run = b.memory_speed_mt_s
    bw = run * 8 * b.cpu.memory_channels * b.n_cpus / 1e3
    msg = f"{b.dimm.name} run at {run} MT/s on {b.cpu.name} ({bw:,.0f} GB/s over all channels)"
    if run < b.dimm.speed_mt_s:
        msg += f": the CPU caps memory at {b.cpu.max_memory_mt_s} MT/s, not {b.dimm.speed_mt_s}"
    return Finding(rule="memory_speed", ok=True, need=b.dimm.speed_mt_s, have=run, message=msg)


def system_drive(c: Candidate) -> Finding:
    """The system NVMe holds the OS, CUDA and containers (256 GB) plus two copies of the weights (the hub cache
    and one converted or quantized copy) (hardware.md §3.6: a 500 GB system SSD fills fast)."""
    b, need = c.build, c.requirements.system_drive_bytes
    have = b.system_drive.capacity_bytes
    return Finding(rule="system_drive", ok=have >= need, need=round(need),
                   have=round(have), message=f"needs {fmt_decimal_bytes(need)} for OS and "
                   f"model cache, {b.system_drive.name} holds {fmt_decimal_bytes(have)}")


def data_drive(c: Candidate) -> Finding:
    """Data drives hold datasets, logs and model versions; HDDs only for cold data (hardware.md §3.6:
    NVMe for the working set, HDD for archive)."""
    b, need = c.build, c.requirements.data_drive_bytes
    if b.data_drive is None:
        if not data_bays(b.chassis):
            return Finding(rule="data_drive", ok=True, need=0, have=0, message="no free bay: data stays on the NVMe")
        return Finding(rule="data_drive", ok=False, need=round(need), have=0,
                       message=f"no drive in drives.csv fits the free bays for {fmt_decimal_bytes(need)} of data")
    have = b.data_drive.capacity_bytes * b.n_data_drives
    return Finding(rule="data_drive", ok=have >= need, need=round(need),
                   have=round(have), message=f"needs {fmt_decimal_bytes(need)} for datasets and "
                   f"model versions, {b.n_data_drives} x {b.data_drive.name} hold {fmt_decimal_bytes(have)}")


def gpu_communication(c: Candidate) -> Finding:
    """What multi-GPU traffic costs: tensor parallel all-reduces twice per layer; GeForce cards have no P2P or
    NVLink, so it crosses host memory (hardware.md §0, §3.4 [S15][S16]); layer split adds capacity, not speed."""
    b, e = c.build, c.estimate
    engine = e.execution.engine
    if b.n_gpus == 1 and b.n_nodes == 1:
        return Finding(rule="gpu_communication", ok=True, message="one GPU: no inter-GPU traffic")
    if engine.split == "layer":
        return Finding(rule="gpu_communication", ok=True, message=f"{engine.name} splits layers: activations hop "
                       "GPU to GPU once per token; more GPUs add memory, not decode speed")
    link = e.system.gpu_link.name
    per_token = e.decode_step.comm_s
    step = 1 / e.speed.decode_tokens_per_s if e.speed.decode_tokens_per_s else 0.0
    share = per_token / step if step else 0.0
    msg = (f"tensor parallel over {link}: all-reduces cost {per_token * 1e3:.2f} ms per decode step "
           f"({share:.0%} of it)")
    if b.n_nodes > 1:
        msg += f"; {b.n_nodes} nodes pipeline layers over {b.nic.name if b.nic else 'the network'}"
    return Finding(rule="gpu_communication", ok=True, need=None, have=link, message=msg)


def network(c: Candidate) -> Finding:
    """Multi-node builds need a NIC per node and, beyond two nodes, a switch with a port per node."""
    b = c.build
    if b.n_nodes == 1:
        return Finding(rule="network", ok=True, message="single node: no cluster network")
    ok = b.nic is not None and (b.n_nodes <= 2 or (b.switch is not None and b.switch.ports >= b.n_nodes))
    nic = b.nic.name if b.nic else "no NIC"
    sw = "back-to-back cable" if b.n_nodes <= 2 else (b.switch.name if b.switch else "no switch")
    return Finding(rule="network", ok=ok, need=b.n_nodes, have=sw, message=f"{b.n_nodes} nodes: {nic} per node, {sw}")


def budget(c: Candidate) -> Finding:
    """The build's priced parts (the whole order, every node) stay within --budget, converted to USD at fx.csv's rate."""
    limit, total = c.constraints.budget_usd, c.total_usd
    if limit is None:
        return Finding(rule="budget", ok=True, message="no budget given")
    return Finding(rule="budget", ok=total <= limit, need=round(total), have=limit,
                   message=f"costs {fmt_money(total)}, budget {fmt_money(limit)}")


def target_speed(c: Candidate) -> Finding:
    """Total decode throughput over all users meets --target-tokens-per-s."""
    have, target = c.estimate.speed.decode_tokens_per_s_total, c.constraints.target_tokens_per_s
    if target is None:
        return Finding(rule="target_speed", ok=True, have=round(have, 1), message=f"decode {fmt_rate(have)} in total")
    return Finding(rule="target_speed", ok=have >= target, need=target, have=round(have, 1),
                   message=f"decodes {fmt_rate(have)} in total, target {fmt_rate(target)}")


Rule = Callable[[Candidate], Finding]
RULES: tuple[Rule, ...] = (gpu_memory, engine_support, tensor_parallel, chassis_fit, cooling, pcie_lanes, cpu_cores,
                           system_ram, memory_channels, memory_type, memory_speed, system_drive, data_drive,
                           psu_capacity, psu_connectors, wall_circuit, gpu_communication, network, target_speed,
                           budget)


def check(c: Candidate) -> tuple[Finding, ...]:
    """Every rule on the composed build, budget last."""
    return tuple(rule(c) for rule in RULES)

