"""Rules on the platform around the GPUs: chassis, cooling, lanes, cores, memory, drives (the budget: price.py)."""

from __future__ import annotations

from sizing.estimate.requirements import CORES_PER_GPU, MIN_CORES, data_bays, lanes_used
from sizing.specs import Candidate, Chassis, Cpu, Dimm, Drive, Finding, Gpu, said
from sizing.units import fmt_bytes, fmt_decimal_bytes

from .memo import judged_once


def chassis_fit(c: Candidate) -> Finding:
    """GPU count, form factor, card width and length within the chassis (hardware.md §3.3: ATX boards have 7 slots,
    so at most two 3-slot cards sit directly on the board; 4U servers are built for 2-slot cards [S22])."""
    b = c.build
    return _chassis_fit(b.gpu, b.n_gpus, b.chassis)


@judged_once
def _chassis_fit(g: Gpu, n_gpus: int, box: Chassis) -> Finding:
    problems, keys = [], []
    if n_gpus > box.max_gpus:
        problems.append(f"holds {box.max_gpus} GPUs, not {n_gpus}")
        keys.append("finding.chassis_fit.count")
    if g.form_factor != box.gpu_form_factor:
        problems.append(f"takes {box.gpu_form_factor.upper()} GPUs, the {g.name} is {g.form_factor.upper()}")
        keys.append("finding.chassis_fit.form")
    if g.slot_width and box.max_gpu_slot_width and g.slot_width > box.max_gpu_slot_width:
        problems.append(f"fits {box.max_gpu_slot_width:g}-slot cards, the {g.name} is {g.slot_width:g} slots wide")
        keys.append("finding.chassis_fit.width")
    if g.length_mm and box.max_gpu_length_mm and g.length_mm > box.max_gpu_length_mm:
        problems.append(f"fits cards up to {box.max_gpu_length_mm:.0f} mm, the {g.name} is {g.length_mm:.0f} mm")
        keys.append("finding.chassis_fit.length")
    if not box.takes(g.arch, n_gpus):
        problems.append(
            f"its baseboard is sold with {'/'.join(map(str, box.gpu_counts)) or 'any count of'} "
            f"{'/'.join(box.gpu_archs) or 'any'} GPUs, not {n_gpus} {g.arch}"
        )
        keys.append("finding.chassis_fit.baseboard")
    msg = f"{box.name}: " + ("; ".join(problems) if problems else f"{n_gpus} x {g.name} fit")
    parts = [k for i, key in enumerate(keys) for k in (("finding.sep",) if i else ()) + (key,)]
    words = said(
        "finding.chassis_fit",
        *(parts or ["finding.chassis_fit.ok"]),
        chassis=box.name,
        gpu=g.name,
        n_gpus=n_gpus,
        max_gpus=box.max_gpus,
        box_form=box.gpu_form_factor.upper(),
        gpu_form=g.form_factor.upper(),
        max_width=f"{box.max_gpu_slot_width or 0:g}",
        width=f"{g.slot_width or 0:g}",
        max_length=f"{box.max_gpu_length_mm or 0:.0f}",
        length=f"{g.length_mm or 0:.0f}",
        counts="/".join(map(str, box.gpu_counts)) or "@word.any_count",
        archs="/".join(box.gpu_archs) or "@word.any",
        arch=g.arch,
    )
    return Finding(rule="chassis_fit", ok=not problems, need=n_gpus, have=box.max_gpus, message=msg, **words)


def cooling(c: Candidate) -> Finding:
    """Open-air consumer cards only where the chassis can exhaust them (its open_air_ok: towers, which hold at most two
    such cards, and riser chassis); dense server ducts need blower or passive cards; passive datacenter cards need
    ducted server airflow (chassis.csv passive_ok), not a tower or an open riser frame (hardware.md §3.3 [S61];
    NVIDIA product briefs [S10][S29])."""
    b = c.build
    return _cooling_problem(b.gpu, b.n_gpus, b.chassis) or _cooled(b.gpu.cooling, b.chassis.name)


@judged_once
def _cooling_problem(g: Gpu, n_gpus: int, box: Chassis) -> Finding | None:
    """The failing cooling finding, else None."""
    if g.cooling == "open-air" and not box.open_air_ok:
        return Finding(
            rule="cooling",
            ok=False,
            need="open-air exhaust",
            have=box.form_factor,
            message=f"{g.name} is an open-air card: {n_gpus} of them in {box.name} recirculate heat; use "
            "blower cards (e.g. rtx-4090-blower) or a riser chassis",
            **said("finding.cooling.open_air", gpu=g.name, n_gpus=n_gpus, chassis=box.name),
        )
    if g.cooling == "passive" and not box.cools_passive_cards:
        return Finding(
            rule="cooling",
            ok=False,
            need="server airflow",
            have=box.form_factor,
            message=f"{g.name} is passively cooled and needs a ducted rack server's airflow, not {box.name}",
            **said("finding.cooling.passive", gpu=g.name, chassis=box.name),
        )
    return None


@judged_once
def _cooled(cooling: str, chassis: str) -> Finding:
    """The passing cooling finding: it names only the cooling kind and the chassis (one per pair, not per build)."""
    words = said("finding.cooling.ok", cooling=cooling, chassis=chassis)
    return Finding(rule="cooling", ok=True, message=f"{cooling} cards suit {chassis}", **words)


def pcie_lanes(c: Candidate) -> Finding:
    """Lanes for every GPU (x16, or x8 with a stated penalty; PCIe switches fan one x16 uplink out to several GPUs),
    each NVMe drive (x4; SATA/SAS drives take none) and each NIC (x16), within the CPUs' lanes (hardware.md §3.4
    [S62][S63])."""
    b = c.build
    cpus = f"{b.n_cpus} x {b.cpu.name}"
    narrow = b.gpu_lanes_each < 16 and b.gpu.form_factor == "pcie"
    return _pcie_lanes(lanes_used(b), b.cpu_lanes, cpus, b.gpu_lanes_each if narrow else 0, b.chassis.pcie_switch)


@judged_once
def _pcie_lanes(need: int, have: int, cpus: str, narrow_lanes: int, switch: bool) -> Finding:
    msg = f"needs {need} lanes, {cpus} give {have}"
    if narrow_lanes:
        msg += (
            f"; GPUs run at x{narrow_lanes}: half the host link for loading weights and CPU offload, "
            "little effect on inference once loaded"
        )
    if switch:
        msg += "; GPUs hang off PCIe switches"
    keys = (
        "finding.pcie_lanes",
        *(("finding.pcie_lanes.narrow",) if narrow_lanes else ()),
        *(("finding.pcie_lanes.switch",) if switch else ()),
    )
    words = said(*keys, need=need, cpus=cpus, have=have, lanes=narrow_lanes)
    return Finding(rule="pcie_lanes", ok=need <= have, need=need, have=have, message=msg, **words)


def cpu_cores(c: Candidate) -> Finding:
    """At least 4 cores per GPU and 8 in all: serving processes, tokenization and data loading (integrator rule of
    thumb; UNCONFIRMED in stored sources)."""
    b = c.build
    return _cpu_cores(c.requirements.cores, b.cpu.cores * b.n_cpus)


@judged_once
def _cpu_cores(need: int, have: int) -> Finding:
    return Finding(
        rule="cpu_cores",
        ok=have >= need,
        need=need,
        have=have,
        message=f"needs {need} cores ({CORES_PER_GPU} per GPU, {MIN_CORES} at least), has {have}",
        **said("finding.cpu_cores", need=need, per_gpu=CORES_PER_GPU, least=MIN_CORES, have=have),
    )


def system_ram(c: Candidate) -> Finding:
    """RAM >= the larger of 1.5 x the weights (loaders stage the file in RAM) and the GPUs' total memory (pinned
    staging buffers, page cache), plus 32 GiB for the OS (hardware.md §3.5 [S66][S67]; ratios UNCONFIRMED), and
    no more than the CPUs address (their max memory per socket)."""
    b = c.build
    return _system_ram(c.requirements.ram_bytes, b.ram_bytes, b.cpu, b.n_cpus, b.dimm, b.n_dimms)


@judged_once
def _system_ram(need: float, ram: float, cpu: Cpu, n_cpus: int, dimm: Dimm, n_dimms: int) -> Finding:
    ceiling = (cpu.max_memory_bytes_per_socket or float("inf")) * n_cpus
    ok = need <= ram <= ceiling
    msg = (
        f"needs {fmt_bytes(need)} of RAM per node, has {n_dimms} x {fmt_bytes(dimm.capacity_bytes)} = {fmt_bytes(ram)}"
    )
    if ram > ceiling:
        msg += f"; {n_cpus} x {cpu.name} address at most {fmt_bytes(ceiling)}"
    words = said(
        "finding.system_ram",
        *(("finding.system_ram.ceiling",) if ram > ceiling else ()),
        need=fmt_bytes(need),
        n_dimms=n_dimms,
        dimm=fmt_bytes(dimm.capacity_bytes),
        ram=fmt_bytes(ram),
        n_cpus=n_cpus,
        cpu=cpu.name,
        ceiling=fmt_bytes(ceiling) if ram > ceiling else "",
    )
    return Finding(rule="system_ram", ok=ok, need=round(need), have=round(ram), message=msg, **words)


def memory_channels(c: Candidate) -> Finding:
    """Every memory channel of every CPU holds the same number of identical DIMMs: bandwidth is channels x MT/s,
    so half-filled channels halve it (hardware.md §2 notes)."""
    b = c.build
    return _memory_channels(b.cpu.memory_channels * b.n_cpus, b.dimm.name, b.n_dimms, b.dimm_slots)


@judged_once
def _memory_channels(channels: int, dimm: str, n_dimms: int, slots: int) -> Finding:
    ok = n_dimms % channels == 0 and n_dimms <= slots
    return Finding(
        rule="memory_channels",
        ok=ok,
        need=channels,
        have=n_dimms,
        message=f"{n_dimms} identical {dimm} in {channels} channels "
        f"({n_dimms // channels if ok else '?'} per channel, {slots} slots)",
        **said(
            "finding.memory_channels",
            n_dimms=n_dimms,
            dimm=dimm,
            channels=channels,
            per_channel=n_dimms // channels if ok else "?",
            slots=slots,
        ),
    )


def memory_type(c: Candidate) -> Finding:
    """DIMM generation matches the CPU; server and workstation CPUs take ECC RDIMMs, desktop CPUs UDIMMs."""
    return _memory_type(c.build.cpu, c.build.dimm)


@judged_once
def _memory_type(cpu: Cpu, dimm: Dimm) -> Finding:
    ok = dimm.ddr_gen == cpu.ddr_gen and (dimm.module_type == "rdimm") == cpu.ecc_rdimm
    return Finding(
        rule="memory_type",
        ok=ok,
        need=f"DDR{cpu.ddr_gen} {'RDIMM' if cpu.ecc_rdimm else 'UDIMM'}",
        have=dimm.name,
        message=f"{cpu.name} takes DDR{cpu.ddr_gen} "
        f"{'ECC RDIMMs' if cpu.ecc_rdimm else 'UDIMMs'}; {dimm.name} {'matches' if ok else 'does not'}",
        **said(
            "finding.memory_type.ok" if ok else "finding.memory_type",
            cpu=cpu.name,
            ddr=cpu.ddr_gen,
            modules="ECC RDIMMs" if cpu.ecc_rdimm else "UDIMMs",
            dimm=dimm.name,
        ),
    )


def ecc_memory(c: Candidate) -> Finding:
    """ECC GPUs (workstation and data-centre cards) and rack servers run on ECC system memory: the article and every
    integrator specify ECC RDIMMs for servers, and a card bought for its ECC loses the point on a host that flips
    bits unnoticed in the weights it stages (integrator practice; UNCONFIRMED as a published requirement)."""
    b = c.build
    return _ecc_memory(b.gpu.ecc, b.chassis.form_factor == "rack", b.dimm)


@judged_once
def _ecc_memory(ecc_gpu: bool, rack: bool, dimm: Dimm) -> Finding:
    wanted = ecc_gpu or rack
    ok = dimm.ecc or not wanted
    why = "an ECC GPU" if ecc_gpu else "a rack server"
    msg = (f"{dimm.name} is ECC memory" if dimm.ecc else f"{dimm.name} is not ECC memory") + (
        "" if ok else f"; {why} wants ECC RDIMMs: a workstation platform (Threadripper PRO, Xeon W) or a server"
    )
    words = said(
        "finding.ecc_memory.ecc" if dimm.ecc else "finding.ecc_memory.non_ecc",
        *(() if ok else ("finding.ecc_memory.fix",)),
        dimm=dimm.name,
        why="@word.ecc_gpu" if ecc_gpu else "@word.rack_server",
    )
    return Finding(
        rule="ecc_memory",
        ok=ok,
        need="ECC" if wanted else None,
        have="ECC" if dimm.ecc else "non-ECC",
        message=msg,
        **words,
    )


def memory_speed(c: Candidate) -> Finding:
    """DIMMs run at the CPU's maximum memory speed for their population when faster: a Xeon Silver 4314 runs
    DDR4-3200 at 2666 MT/s (Intel ARK via hardware.md §2 [S20]); two DIMMs per channel run at the CPU's 2DPC speed
    (cpus.csv max_memory_mt_s_2dpc, the vendor's figure: Xeon 6700P DDR5-6400 at 1DPC, 5200 at 2DPC, Intel ARK),
    and where the row gives none the finding says so and the 1DPC speed stands (an upper bound)."""
    b = c.build
    return _memory_speed(b.cpu, b.n_cpus, b.dimm, b.memory_speed_mt_s, b.dimms_per_channel)


@judged_once
def _memory_speed(cpu: Cpu, n_cpus: int, dimm: Dimm, run: int, per_channel: int) -> Finding:
    bw = run * 8 * cpu.memory_channels * n_cpus / 1e3
    msg = f"{dimm.name} run at {run} MT/s on {cpu.name} ({bw:,.0f} GB/s over all channels)"
    two = per_channel >= 2
    if run < dimm.speed_mt_s:
        msg += (
            f": the CPU runs 2 DIMMs per channel at {run} MT/s (1 per channel: {cpu.max_memory_mt_s}), not "
            f"{dimm.speed_mt_s}"
            if two and cpu.max_memory_mt_s_2dpc is not None
            else f": the CPU caps memory at {cpu.max_memory_mt_s} MT/s, not {dimm.speed_mt_s}"
        )
    if two and cpu.max_memory_mt_s_2dpc is None:
        msg += (
            f"; 2 DIMMs per channel: the CPU's 2DPC speed is unconfirmed (cpus.csv gives none), so its 1DPC "
            f"{cpu.max_memory_mt_s} MT/s is assumed and may be too high"
        )
    keys = ["finding.memory_speed"]
    if run < dimm.speed_mt_s:
        keys.append(
            "finding.memory_speed.2dpc" if two and cpu.max_memory_mt_s_2dpc is not None else "finding.memory_speed.cap"
        )
    if two and cpu.max_memory_mt_s_2dpc is None:
        keys.append("finding.memory_speed.2dpc_unconfirmed")
    words = said(
        *keys,
        dimm=dimm.name,
        run=run,
        cpu=cpu.name,
        bw=f"{bw:,.0f}",
        one_dpc=cpu.max_memory_mt_s,
        speed=dimm.speed_mt_s,
    )
    return Finding(rule="memory_speed", ok=True, need=dimm.speed_mt_s, have=run, message=msg, **words)


def system_drive(c: Candidate) -> Finding:
    """The system NVMe holds the OS, CUDA and containers (256 GB) plus two copies of the weights (the hub cache
    and one converted or quantized copy) (hardware.md §3.6: a 500 GB system SSD fills fast)."""
    return _system_drive(c.requirements.system_drive_bytes, c.build.system_drive)


@judged_once
def _system_drive(need: float, drive: Drive) -> Finding:
    have = drive.capacity_bytes
    return Finding(
        rule="system_drive",
        ok=have >= need,
        need=round(need),
        have=round(have),
        message=f"needs {fmt_decimal_bytes(need)} for OS and model cache, {drive.name} holds {fmt_decimal_bytes(have)}",
        **said("finding.system_drive", need=fmt_decimal_bytes(need), drive=drive.name, have=fmt_decimal_bytes(have)),
    )


def data_drive(c: Candidate) -> Finding:
    """Data drives hold datasets, logs and model versions; HDDs only for cold data (hardware.md §3.6:
    NVMe for the working set, HDD for archive)."""
    b = c.build
    return _data_drive(c.requirements.data_drive_bytes, b.data_drive, b.n_data_drives, data_bays(b.chassis))


@judged_once
def _data_drive(need: float, drive: Drive | None, n_drives: int, bays: int) -> Finding:
    if drive is None:
        if not bays:
            return Finding(
                rule="data_drive",
                ok=True,
                need=0,
                have=0,
                message="no free bay: data stays on the NVMe",
                **said("finding.data_drive.no_bay"),
            )
        return Finding(
            rule="data_drive",
            ok=False,
            need=round(need),
            have=0,
            message=f"no drive in drives.csv fits the free bays for {fmt_decimal_bytes(need)} of data",
            **said("finding.data_drive.none", need=fmt_decimal_bytes(need)),
        )
    have = drive.capacity_bytes * n_drives
    return Finding(
        rule="data_drive",
        ok=have >= need,
        need=round(need),
        have=round(have),
        message=f"needs {fmt_decimal_bytes(need)} for datasets and "
        f"model versions, {n_drives} x {drive.name} hold {fmt_decimal_bytes(have)}",
        **said(
            "finding.data_drive",
            need=fmt_decimal_bytes(need),
            n_drives=n_drives,
            drive=drive.name,
            have=fmt_decimal_bytes(have),
        ),
    )
