"""What a build draws and what its supplies give: DC load per part, PSU capacity at the input voltage, wall draw
through the PSU's efficiency, and the GPU power cap that lets one circuit carry it."""

from __future__ import annotations

import math

from sizing.specs import Build, Chassis, Circuit, Constraints, Cpu, Dimm, Drive, Gpu, NetworkPart, Part, PowerDraw, Psu

# Power of the parts around the GPUs and CPUs (sustained DC): RDIMM 3-6 W, NVMe ~8 W, 3.5" HDD ~9 W active
# (vendor datasheets, UNCONFIRMED in stored sources); board, fans and BMC: ~75 W in a tower, ~100 W in a workstation,
# ~250 W in a GPU server whose fans move the GPUs' heat (hardware.md §3.2 [S48][S49]).
DIMM_W = 5.0
NVME_W = 8.0
HDD_W = 9.0
NIC_W = 25.0  # a NIC whose row gives no power
PLATFORM_W = {"tower": 75.0, "workstation": 100.0, "rack": 250.0}
ATX_HEADROOM = 1.25  # PSU continuous >= 1.25 x sustained DC load (integrator practice: 50-80% load, hardware.md §3.2
# [S49]; ATX 3.x rides 200% excursions for 100 us [S52], so headroom is for efficiency and ageing, not spikes)
CRPS_HEADROOM = (
    1.15  # redundant server supplies: +10-20% over the summed load (STH power formula, hardware.md §3.2 [S48])
)
SERVER_PSU_FORMS = frozenset({"crps", "dell"})  # hot-plug redundant modules on a server power board: CRPS, and Dell
# PowerEdge's own 86 mm modules (their own form, so a Dell module is never picked for another vendor's chassis)
MIN_POWER_FRACTION = 0.7  # caps below 70% of TDP cost real speed (Puget: 280 W of 350 W kept >95% [S53])
# 80 PLUS efficiency at 50% load (hardware.md §3.2 [S55]): 115 V internal, 230 V internal redundant
EFFICIENCY = {
    "bronze": (0.85, 0.88),
    "gold": (0.90, 0.92),
    "platinum": (0.92, 0.94),
    "titanium": (0.94, 0.96),
}


def psu_efficiency(tier: str, volts: float) -> float:
    low, high = EFFICIENCY[tier]
    return high if volts >= 200 else low


def psu_headroom(psu_form: str) -> float:
    return CRPS_HEADROOM if psu_form in SERVER_PSU_FORMS else ATX_HEADROOM


def part_w(part: Part) -> float:
    """Sustained DC draw of one part at full power."""
    if isinstance(part, (Gpu, Cpu)):
        return part.tdp_w
    if isinstance(part, Dimm):
        return DIMM_W
    if isinstance(part, Drive):
        return HDD_W if part.media == "hdd" else NVME_W
    if isinstance(part, NetworkPart):
        return part.power_w or NIC_W
    if isinstance(part, Chassis):
        return PLATFORM_W[part.form_factor]  # board, fans and BMC of this kind of machine
    return 0.0  # PSUs deliver the load


def load_w(parts: tuple[tuple[Part, int], ...]) -> float:
    """DC load of one node's parts (part, count) at full GPU power."""
    return sum(part_w(p) * n for p, n in parts)


def redundancy(chassis: Chassis) -> str:
    """The chassis' PSU redundancy as its vendor states it (chassis.csv psu_redundancy): a set of a+a is N+N (A/B
    feeds, e.g. 3+3 on HGX H100), a+1 is N+1 (e.g. 3+1 on a 4-bay PCIe GPU server: hardware.md §3.2, MiTAC G4520G6
    3+1 [S59]), "none" none. A data folder without the column: N+N for an even redundant set of bays, N+1 for an odd
    one, none otherwise (hardware.md §3.2: DGX A100 3+3 [S56])."""
    if chassis.psu_redundancy is not None:
        scheme = chassis.psu_set
        if scheme is None:
            return "none"
        return "N+N" if scheme[1] == scheme[0] else "N+1"
    if not chassis.redundant_psu or chassis.psu_bays == 1:
        return "none"
    return "N+1" if chassis.psu_bays % 2 else "N+N"


def active_psus(chassis: Chassis, n_psus: int) -> int:
    """Of `n_psus` installed, the PSUs that carry the load; the rest are the redundancy."""
    scheme = redundancy(chassis)
    if scheme == "N+N":
        return max(1, n_psus // 2)
    return max(1, n_psus - 1) if scheme == "N+1" else n_psus


def installed_psus(chassis: Chassis, n_active: int) -> int:
    """PSUs to install so that `n_active` carry the load with the chassis' redundancy."""
    scheme = redundancy(chassis)
    return 2 * n_active if scheme == "N+N" else n_active + 1 if scheme == "N+1" else n_active


def module_w(chassis: Chassis) -> float | None:
    """The largest PSU module a redundant server chassis takes: its usable watts over the active units of the
    vendor's full set (max_psu_w / a of psu_redundancy a+b: 8,100 W in 3+1 -> 2,700 W modules); a 5,250 W HGX module
    does not fit a 2,200 W bay. None where any module fits (ATX cases, non-redundant or unstated sets)."""
    if chassis.psu_form not in SERVER_PSU_FORMS or chassis.psu_set is None:
        return None
    return chassis.max_psu_w / chassis.psu_set[0]


def psu_capacity_w(psu: Psu, chassis: Chassis, volts: float, n_psus: int) -> float:
    """Continuous DC the active PSUs give at this input voltage, within what the chassis' power board carries."""
    return min(active_psus(chassis, n_psus) * psu.watts_at(volts), chassis.max_psu_w)


def fault_tolerant(chassis: Chassis, psu: Psu, volts: float, n_psus: int, sustained_w: float) -> bool:
    """Whether an N+N set short of the headroom rule on its active half still passes as fault-tolerant redundancy:
    that half carries the sustained load itself (then the whole set, twice it, has far more than the CRPS
    headroom). Vendors ship 8-GPU systems so: Dell's XE9680 runs eight GPUs on six 3.2 kW PSUs in "3+3
    fault-tolerant redundancy" (19.2 kW in all) and on a failed feed brakes the GPUs instead of shutting down
    (StorageReview, cited in chassis.csv); Supermicro's AS-4126GS-NMR-LCC carries eight 1,400 W MI355X on
    2+2 x 6.6 kW (chassis.csv), about 1.1 x their sustained load per half. N+1 sets have no second feed to fall
    back on, so they keep the plain rule."""
    return redundancy(chassis) == "N+N" and psu_capacity_w(psu, chassis, volts, n_psus) >= sustained_w


def feeds(chassis: Chassis, n_psus: int) -> int:
    """Separate wall feeds a server can spread its active PSUs over (one for ATX machines)."""
    return active_psus(chassis, n_psus) if chassis.psu_form in SERVER_PSU_FORMS else 1


def allowed_circuits(n_feeds: int, c: Constraints) -> int:
    """Circuits of the build's kind a node may use: --circuits N; else one when the user named a --circuit (an
    office or lab outlet); else the separate feeds a rack server spreads its active PSUs over (A/B rack power)."""
    if c.circuits:
        return c.circuits
    return 1 if c.circuit else n_feeds


def power_cap_w(load: float, gpu: Gpu, n_gpus: int, circuit: Circuit, efficiency: float) -> float | None:
    """The GPU power cap (a multiple of 10 W) that keeps the wall draw within the circuit, if >= 70% of TDP
    suffices (Puget [S53]); None when no cap is needed or a cap that deep would cost real speed."""
    if load / efficiency <= circuit.continuous_w:
        return None
    return _cap_within(load, gpu, n_gpus, circuit.continuous_w * efficiency)


def psu_power_cap_w(load: float, gpu: Gpu, n_gpus: int, capacity_w: float, headroom: float) -> float | None:
    """The GPU power cap (a multiple of 10 W) under which the PSU set's capacity covers the headroom rule, for a
    chassis whose PSUs cannot carry the GPUs at full power (four 300 W cards in a one-PSU 1,600 W workstation):
    integrators ship such boxes power-limited (Puget capped 4 x RTX 3090 from 350 W to 280 W on one PSU and kept
    >95% of training throughput [S53]). None when no cap is needed or one below 70% of TDP would be (Puget called
    4 x 3090 at 300 W on one 1,600 W unit, 1,717 W at the wall, "not something we would recommend" [S54])."""
    if load * headroom <= capacity_w:
        return None
    return _cap_within(load, gpu, n_gpus, capacity_w / headroom)


def _cap_within(load: float, gpu: Gpu, n_gpus: int, allowed_dc_w: float) -> float | None:
    """The highest GPU cap (a multiple of 10 W) under which the DC load, the other parts at full power, stays within
    `allowed_dc_w`; None below 70% of TDP (a cap that deep costs real speed, Puget [S53])."""
    others = load - n_gpus * gpu.tdp_w
    cap = math.floor(((allowed_dc_w - others) / n_gpus) / 10) * 10
    return float(cap) if cap >= MIN_POWER_FRACTION * gpu.tdp_w else None


def power(b: Build) -> PowerDraw:
    """One node's draw: the DC load at full power and with the build's GPU cap, the wall draw through the PSU's
    80 PLUS efficiency at this voltage, the PSU capacity and redundancy, the circuits it needs and the feeds its
    PSUs can spread over."""
    parts = tuple((p, n) for _, p, n in b.node_parts())
    sustained = load_w(parts)
    capped = sustained - b.n_gpus * (b.gpu.tdp_w - b.gpu_power_limit_w) if b.gpu_power_limit_w else sustained
    efficiency = psu_efficiency(b.psu.efficiency_tier, b.circuit.volts)
    wall = capped / efficiency
    capacity = psu_capacity_w(b.psu, b.chassis, b.circuit.volts, b.n_psus)
    return PowerDraw(
        sustained_w=sustained,
        capped_w=capped,
        wall_w=wall,
        full_wall_w=sustained / efficiency,
        psu_capacity_w=capacity,
        psu_efficiency=efficiency,
        psu_redundancy=redundancy(b.chassis),
        n_circuits=math.ceil(wall / b.circuit.continuous_w),
        n_feeds=feeds(b.chassis, b.n_psus),
        capped_for_psu=b.gpu_power_limit_w is not None and sustained * psu_headroom(b.psu.form) > capacity,
    )
