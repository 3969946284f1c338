"""Rules on the platform around the GPUs: chassis, cooling, lanes, cores, memory, drives, budget."""

from __future__ import annotations

from sizing.estimate.requirements import CORES_PER_GPU, MIN_CORES, data_bays, lanes_used
from sizing.specs import Candidate, Finding
from sizing.units import fmt_bytes, fmt_decimal_bytes, fmt_money


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
    if not box.takes(g.arch, b.n_gpus):
        problems.append(
            f"its baseboard is sold with {'/'.join(map(str, box.gpu_counts)) or 'any count of'} "
            f"{'/'.join(box.gpu_archs) or 'any'} GPUs, not {b.n_gpus} {g.arch}"
        )
    msg = f"{box.name}: " + ("; ".join(problems) if problems else f"{b.n_gpus} x {g.name} fit")
    return Finding(rule="chassis_fit", ok=not problems, need=b.n_gpus, have=box.max_gpus, message=msg)


def cooling(c: Candidate) -> Finding:
    """Open-air consumer cards only where the chassis can exhaust them (its open_air_ok: towers, which hold at most two
    such cards, and riser chassis); dense server ducts need blower or passive cards; passive datacenter cards need
    ducted server airflow (chassis.csv passive_ok), not a tower or an open riser frame (hardware.md §3.3 [S61];
    NVIDIA product briefs [S10][S29])."""
    b = c.build
    g, box = b.gpu, b.chassis
    if g.cooling == "open-air" and not box.open_air_ok:
        return Finding(
            rule="cooling",
            ok=False,
            need="open-air exhaust",
            have=box.form_factor,
            message=f"{g.name} is an open-air card: {b.n_gpus} of them in {box.name} recirculate heat; use "
            "blower cards (e.g. rtx-4090-blower) or a riser chassis",
        )
    if g.cooling == "passive" and not box.cools_passive_cards:
        return Finding(
            rule="cooling",
            ok=False,
            need="server airflow",
            have=box.form_factor,
            message=f"{g.name} is passively cooled and needs a ducted rack server's airflow, not {box.name}",
        )
    return Finding(rule="cooling", ok=True, message=f"{g.cooling} cards suit {box.name}")


def pcie_lanes(c: Candidate) -> Finding:
    """Lanes for every GPU (x16, or x8 with a stated penalty; PCIe switches fan one x16 uplink out to several GPUs),
    each NVMe drive (x4; SATA/SAS drives take none) and each NIC (x16), within the CPUs' lanes (hardware.md §3.4
    [S62][S63])."""
    b = c.build
    have, need = b.cpu_lanes, lanes_used(b)
    msg = f"needs {need} lanes, {b.n_cpus} x {b.cpu.name} give {have}"
    if b.gpu_lanes_each < 16 and b.gpu.form_factor == "pcie":
        msg += (
            f"; GPUs run at x{b.gpu_lanes_each}: half the host link for loading weights and CPU offload, "
            "little effect on inference once loaded"
        )
    if b.chassis.pcie_switch:
        msg += "; GPUs hang off PCIe switches"
    return Finding(rule="pcie_lanes", ok=need <= have, need=need, have=have, message=msg)


def cpu_cores(c: Candidate) -> Finding:
    """At least 4 cores per GPU and 8 in all: serving processes, tokenization and data loading (integrator rule of
    thumb; UNCONFIRMED in stored sources)."""
    b, need = c.build, c.requirements.cores
    have = b.cpu.cores * b.n_cpus
    return Finding(
        rule="cpu_cores",
        ok=have >= need,
        need=need,
        have=have,
        message=f"needs {need} cores ({CORES_PER_GPU} per GPU, {MIN_CORES} at least), has {have}",
    )


def system_ram(c: Candidate) -> Finding:
    """RAM >= the larger of 1.5 x the weights (loaders stage the file in RAM) and the GPUs' total memory (pinned
    staging buffers, page cache), plus 32 GiB for the OS (hardware.md §3.5 [S66][S67]; ratios UNCONFIRMED), and
    no more than the CPUs address (their max memory per socket)."""
    b, need = c.build, c.requirements.ram_bytes
    ceiling = (b.cpu.max_memory_bytes_per_socket or float("inf")) * b.n_cpus
    ok = need <= b.ram_bytes <= ceiling
    msg = (
        f"needs {fmt_bytes(need)} of RAM per node, has {b.n_dimms} x {fmt_bytes(b.dimm.capacity_bytes)}"
        f" = {fmt_bytes(b.ram_bytes)}"
    )
    if b.ram_bytes > ceiling:
        msg += f"; {b.n_cpus} x {b.cpu.name} address at most {fmt_bytes(ceiling)}"
    return Finding(rule="system_ram", ok=ok, need=round(need), have=round(b.ram_bytes), message=msg)


def memory_channels(c: Candidate) -> Finding:
    """Every memory channel of every CPU holds the same number of identical DIMMs: bandwidth is channels x MT/s,
    so half-filled channels halve it (hardware.md §2 notes)."""
    b = c.build
    channels = b.cpu.memory_channels * b.n_cpus
    ok = b.n_dimms % channels == 0 and b.n_dimms <= b.dimm_slots
    return Finding(
        rule="memory_channels",
        ok=ok,
        need=channels,
        have=b.n_dimms,
        message=f"{b.n_dimms} identical {b.dimm.name} in {channels} channels "
        f"({b.n_dimms // channels if ok else '?'} per channel, {b.dimm_slots} slots)",
    )


def memory_type(c: Candidate) -> Finding:
    """DIMM generation matches the CPU; server and workstation CPUs take ECC RDIMMs, desktop CPUs UDIMMs."""
    b = c.build
    ok = b.dimm.ddr_gen == b.cpu.ddr_gen and (b.dimm.module_type == "rdimm") == b.cpu.ecc_rdimm
    return Finding(
        rule="memory_type",
        ok=ok,
        need=f"DDR{b.cpu.ddr_gen} {'RDIMM' if b.cpu.ecc_rdimm else 'UDIMM'}",
        have=b.dimm.name,
        message=f"{b.cpu.name} takes DDR{b.cpu.ddr_gen} "
        f"{'ECC RDIMMs' if b.cpu.ecc_rdimm else 'UDIMMs'}; {b.dimm.name} {'matches' if ok else 'does not'}",
    )


def ecc_memory(c: Candidate) -> Finding:
    """ECC GPUs (workstation and data-centre cards) and rack servers run on ECC system memory: the article and every
    integrator specify ECC RDIMMs for servers, and a card bought for its ECC loses the point on a host that flips
    bits unnoticed in the weights it stages (integrator practice; UNCONFIRMED as a published requirement)."""
    b = c.build
    wanted = b.gpu.ecc or b.chassis.form_factor == "rack"
    ok = b.dimm.ecc or not wanted
    why = "an ECC GPU" if b.gpu.ecc else "a rack server"
    msg = (f"{b.dimm.name} is ECC memory" if b.dimm.ecc else f"{b.dimm.name} is not ECC memory") + (
        "" if ok else f"; {why} wants ECC RDIMMs: a workstation platform (Threadripper PRO, Xeon W) or a server"
    )
    return Finding(
        rule="ecc_memory", ok=ok, need="ECC" if wanted else None, have="ECC" if b.dimm.ecc else "non-ECC", message=msg
    )


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
    return Finding(
        rule="system_drive",
        ok=have >= need,
        need=round(need),
        have=round(have),
        message=f"needs {fmt_decimal_bytes(need)} for OS and "
        f"model cache, {b.system_drive.name} holds {fmt_decimal_bytes(have)}",
    )


def data_drive(c: Candidate) -> Finding:
    """Data drives hold datasets, logs and model versions; HDDs only for cold data (hardware.md §3.6:
    NVMe for the working set, HDD for archive)."""
    b, need = c.build, c.requirements.data_drive_bytes
    if b.data_drive is None:
        if not data_bays(b.chassis):
            return Finding(rule="data_drive", ok=True, need=0, have=0, message="no free bay: data stays on the NVMe")
        return Finding(
            rule="data_drive",
            ok=False,
            need=round(need),
            have=0,
            message=f"no drive in drives.csv fits the free bays for {fmt_decimal_bytes(need)} of data",
        )
    have = b.data_drive.capacity_bytes * b.n_data_drives
    return Finding(
        rule="data_drive",
        ok=have >= need,
        need=round(need),
        have=round(have),
        message=f"needs {fmt_decimal_bytes(need)} for datasets and "
        f"model versions, {b.n_data_drives} x {b.data_drive.name} hold {fmt_decimal_bytes(have)}",
    )


def budget(c: Candidate) -> Finding:
    """The whole order (every node) costs no more than --budget, converted to USD at fx.csv's rate. A build with a
    part that has no usable price has no total, so it never passes a budget (issue 7: unknown prices are not $0)."""
    limit, total = c.constraints.budget_usd, c.total_usd
    if limit is None:
        return Finding(rule="budget", ok=True, message="no budget given")
    if total is None:
        return Finding(
            rule="budget",
            ok=False,
            need=round(c.subtotal_usd),
            have=limit,
            message=f"has parts without a usable price (the priced ones cost {fmt_money(c.subtotal_usd)}), so its "
            f"total cannot be held to a budget of {fmt_money(limit)}; price them in a --data copy",
        )
    return Finding(
        rule="budget",
        ok=total <= limit,
        need=round(total),
        have=limit,
        message=f"costs {fmt_money(total)}, budget {fmt_money(limit)}",
    )
