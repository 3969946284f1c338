"""Rules on power: PSU capacity and connectors, the wall circuit."""

from __future__ import annotations

from sizing.estimate.power import SERVER_PSU_FORMS, active_psus, allowed_circuits, fault_tolerant, psu_headroom
from sizing.specs import Candidate, Finding, Gpu, Psu, said
from sizing.units import fmt_watts

from .memo import judged_once

BOARD_POWERED = 10**6  # "plugs" a server power board offers: it feeds every GPU


def gpu_plugs_served(psu: Psu, gpu: Gpu, n_cpus: int, n_psus: int = 1) -> int:
    """How many of these GPUs `n_psus` such PSUs' outputs can feed: a 16-pin card takes a native 16-pin output or an
    adapter from three (450 W) or four (600 W) 8-pin PCIe outputs; an 8-pin EPS card (RTX A6000, A40, A100 PCIe)
    takes a spare EPS output or the two-PCIe-to-EPS adapter NVIDIA ships with it; PCIe 8-pin cards take their plug
    count (PCIe CEM 5.0 / ATX 3.0 ratings: 16-pin 600 W, 8-pin 150 W). Several ATX PSUs in one machine (a
    two-PSU workstation) are cabled apart: each card draws all its plugs from one unit, so each unit's count adds;
    the CPUs' EPS plugs come from the unit that powers the board."""
    conn = gpu.power_connector or "board"
    if psu.form in SERVER_PSU_FORMS or conn == "board":
        return BOARD_POWERED  # server chassis feed GPUs from their power board
    if conn in ("12vhpwr", "12v-2x6"):
        return n_psus * (psu.n_12vhpwr + psu.n_pcie_8pin // (4 if gpu.tdp_w > 450 else 3))
    if "eps" in conn:
        spare = psu.n_eps_8pin + psu.n_pcie_8pin // 2  # a unit that feeds no CPU
        return max(0, psu.n_eps_8pin - n_cpus) + psu.n_pcie_8pin // 2 + (n_psus - 1) * spare
    plugs = 3 if conn.startswith("3x") else 2 if conn.startswith("2x") else 1
    return n_psus * (psu.n_pcie_8pin // plugs)


def psu_capacity(c: Candidate) -> Finding:
    """PSU continuous rating at the input voltage >= 1.25 x sustained DC load (ATX); 1.15 for redundant CRPS sets,
    counting only the PSUs that carry the load (N+N or N+1). Sources: hardware.md §3.2 [S48][S49][S52]. An N+N set
    whose active half carries the sustained load but not the 1.15 passes as fault-tolerant redundancy (the whole set
    gives twice it; estimate.power.fault_tolerant: how Dell and Supermicro ship 8-GPU systems)."""
    b, p = c.build, c.power
    headroom = psu_headroom(b.psu.form)
    load = p.capped_w  # the sustained load under the build's GPU power cap (power.psu_power_cap_w)
    need = load * headroom
    tolerant = p.psu_capacity_w < need and fault_tolerant(b.chassis, b.psu, b.circuit.volts, b.n_psus, load)
    ok = (p.psu_capacity_w >= need or tolerant) and load <= b.chassis.max_psu_w
    psu = f"{b.n_psus} x {b.psu.name}" if b.n_psus > 1 else b.psu.name
    capped = p.capped_for_psu
    msg = (
        f"needs {fmt_watts(need)} ({fmt_watts(load)} sustained x {headroom}), {psu} gives "
        f"{fmt_watts(p.psu_capacity_w)} at {b.circuit.volts:.0f} V"
    )
    if capped:
        msg += (
            f"; with the GPUs capped at {b.gpu_power_limit_w:.0f} W (nvidia-smi -pl {b.gpu_power_limit_w:.0f}), as "
            f"integrators ship such boxes: at full power they need {fmt_watts(p.sustained_w * headroom)}"
        )
    if tolerant:
        msg += (
            f"; passes as fault-tolerant redundancy: that half carries the sustained load and all {b.n_psus} give "
            f"{fmt_watts(b.n_psus * b.psu.watts_at(b.circuit.volts))}, so on a lost feed the GPUs are braked "
            "(power-capped) instead of the system shutting down, as vendors ship 8-GPU systems"
        )
    if load > b.chassis.max_psu_w:
        msg += f"; the chassis supplies at most {fmt_watts(b.chassis.max_psu_w)}"
    words = said(
        "finding.psu_capacity",
        *(("finding.psu_capacity.capped",) if capped else ()),
        *(("finding.psu_capacity.tolerant",) if tolerant else ()),
        *(("finding.psu_capacity.chassis",) if load > b.chassis.max_psu_w else ()),
        n_psus=b.n_psus,
        all_w=fmt_watts(b.n_psus * b.psu.watts_at(b.circuit.volts)),
        need=fmt_watts(need),
        full=fmt_watts(p.sustained_w * headroom),
        limit=f"{b.gpu_power_limit_w or 0:.0f}",
        sustained=fmt_watts(load),
        headroom=headroom,
        psu=psu,
        have=fmt_watts(p.psu_capacity_w),
        volts=f"{b.circuit.volts:.0f}",
        chassis_w=fmt_watts(b.chassis.max_psu_w),
    )
    return Finding(rule="psu_capacity", ok=ok, need=round(need), have=round(p.psu_capacity_w), message=msg, **words)


def psu_connectors(c: Candidate) -> Finding:
    """Each GPU gets its own power cables from a PSU (see gpu_plugs_served), counting every PSU that carries load
    where the chassis takes several (a redundant unit's cables would break the redundancy); server chassis power
    the GPUs from their power board."""
    b = c.build
    return _psu_connectors(b.psu, active_psus(b.chassis, b.n_psus), b.gpu, b.n_gpus, b.n_cpus)


@judged_once
def _psu_connectors(psu: Psu, n_psus: int, gpu: Gpu, n_gpus: int, n_cpus: int) -> Finding:
    have = gpu_plugs_served(psu, gpu, n_cpus, n_psus)
    if have >= BOARD_POWERED:
        return Finding(
            rule="psu_connectors",
            ok=True,
            message="GPUs are powered from the chassis power board",
            **said("finding.psu_connectors.board"),
        )
    units = f"{n_psus} x {psu.name} (each " if n_psus > 1 else f"{psu.name} ("
    return Finding(
        rule="psu_connectors",
        ok=have >= n_gpus,
        need=n_gpus,
        have=have,
        message=f"{n_gpus} GPU(s) with {gpu.power_connector} plugs; {units}"
        f"{psu.n_12vhpwr} x 16-pin, {psu.n_pcie_8pin} x PCIe 8-pin, {psu.n_eps_8pin} x EPS) "
        f"feed{'' if n_psus > 1 else 's'} {have}",
        **said(
            "finding.psu_connectors.many" if n_psus > 1 else "finding.psu_connectors",
            n_gpus=n_gpus,
            plug=gpu.power_connector,
            n_psus=n_psus,
            psu=psu.name,
            n_16pin=psu.n_12vhpwr,
            n_pcie=psu.n_pcie_8pin,
            n_eps=psu.n_eps_8pin,
            have=have,
        ),
    )


def wall_circuit(c: Candidate) -> Finding:
    """The wall draw (DC load / 80 PLUS efficiency at 50% load) stays within the circuit's continuous rating
    (NEC 80% rule: 120 V/15 A carries 1,440 W; hardware.md §3.1 [S46], Lambda recommends against workstations above
    1,440 W [S47]). A rack server spreads its active PSUs over separate feeds, one circuit each (DGX H100: 10.2 kW
    on 200-240 V feeds [S57]). Over it, a one-PSU machine gets its GPUs capped if >= 70% of TDP suffices
    (Puget [S53]); otherwise it needs a second circuit or a higher-voltage one. A named --circuit is one circuit
    unless --circuits says more."""
    b, p = c.build, c.power
    allowed = allowed_circuits(p.n_feeds, c.constraints)
    capacity = b.circuit.continuous_w * allowed
    ok = p.wall_w <= capacity
    msg = (
        f"draws {fmt_watts(p.full_wall_w)} at the wall at full power; a {b.circuit.label} circuit carries "
        f"{fmt_watts(b.circuit.continuous_w)} continuously"
    )
    if p.n_circuits > 1:
        msg += f": needs {p.n_circuits} such circuits (PSUs on separate feeds), {allowed} allowed"
    wall_capped = b.gpu_power_limit_w is not None and ok and p.full_wall_w > capacity
    if wall_capped:
        msg += (
            f": fits with GPUs capped at {b.gpu_power_limit_w:.0f} W (nvidia-smi -pl {b.gpu_power_limit_w:.0f}; "
            f"{fmt_watts(p.wall_w)}): decode is memory-bound and barely slows, compute-bound prefill and "
            "training lose a few percent (Puget: >95% at 80% power)"
        )
    elif not ok:
        msg += f"; use a second circuit (--circuits {allowed + 1}), a 230 V or 208 V circuit, or fewer GPUs"
    keys = ["finding.wall_circuit"]
    if p.n_circuits > 1:
        keys.append("finding.wall_circuit.feeds")
    if wall_capped:
        keys.append("finding.wall_circuit.capped")
    elif not ok:
        keys.append("finding.wall_circuit.fix")
    words = said(
        *keys,
        full=fmt_watts(p.full_wall_w),
        circuit=b.circuit.label,
        continuous=fmt_watts(b.circuit.continuous_w),
        n_circuits=p.n_circuits,
        allowed=allowed,
        limit=f"{b.gpu_power_limit_w or 0:.0f}",
        wall=fmt_watts(p.wall_w),
        more=allowed + 1,
    )
    return Finding(rule="wall_circuit", ok=ok, need=round(p.wall_w), have=round(capacity), message=msg, **words)
