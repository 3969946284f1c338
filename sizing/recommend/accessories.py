"""The bill-of-materials lines around a build's main parts: a CPU cooler per CPU in towers and workstations, a
motherboard where the chassis row is a case only, rails for a rack chassis, the NVLink bridges a bridged pair relies
on (data/accessories.csv), a rack server's front-end NIC and its mirrored boot pair. Pure: picks from the provider's
parts."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sizing.specs import Accessory, Chassis, Cpu, Gpu, NetworkPart

from .provider import PartsProvider


def _priced_first(price: float | None) -> tuple[bool, float]:
    """Sort key: parts with a dated price before unpriced ones, then cheaper first."""
    return (price is None, price or 0.0)


FRONTEND_MAX_GBIT_S = 25  # a front-end (site network) NIC is a 10/25 GbE port, not the 100-400 Gb/s fabric
MIRRORED_BOOT = 2  # rack servers boot from a mirrored pair (RAID 1), so one failed drive does not stop the node


def pick_frontend_nic(parts: PartsProvider) -> NetworkPart | None:
    """A rack server's Ethernet NIC to the site network (data loading, SSH, serving traffic): the cheapest priced
    10/25 GbE NIC in network.csv (fabric NICs are picked separately, per node count); None if the catalog has none."""
    nics = [
        x
        for x in parts.network.values()
        if x.kind == "nic" and x.protocol in ("ethernet", "both") and x.bytes_s * 8 <= FRONTEND_MAX_GBIT_S * 1e9
    ]
    return min(nics, key=lambda x: (_priced_first(x.price_usd), -x.bytes_s)) if nics else None


def boot_drives(chassis: Chassis) -> int:
    """System drives: a mirrored pair on rack servers where the board has two M.2 slots (or the chassis two U.2
    bays for them), else one."""
    if chassis.form_factor != "rack":
        return 1
    slots = chassis.m2_slots if chassis.m2_slots else chassis.drive_bays_2_5
    return MIRRORED_BOOT if slots >= MIRRORED_BOOT else 1


Cheapest = Callable[[str, tuple[str, ...]], Accessory | None]


def cheapest_fit(accessories: Iterable[Accessory], kind: str, keys: tuple[str, ...]) -> Accessory | None:
    """The cheapest priced row of `kind` that fits the first of `keys` (the most specific fit first) any row fits."""
    pool = list(accessories)
    for key in keys:
        fits = [a for a in pool if a.kind == kind and key in a.fits]
        if fits:
            return min(fits, key=lambda a: _priced_first(a.price_usd))
    return None


def pick_accessories(
    cheapest: Cheapest, chassis: Chassis, cpu: Cpu, n_cpus: int, gpu: Gpu, n_gpus: int
) -> tuple[tuple[Accessory, int], ...]:
    """The lines around the main parts, each the cheapest priced row that fits (`cheapest`: cheapest_fit over the
    catalog's accessories, which a search keeps per kind and fit): a CPU cooler per CPU in towers and workstations
    (rack barebones ship with their passive heatsinks), a motherboard where the chassis row names one apart (its
    price covers the case only), rails for a rack chassis (its own kit, else a generic `rack` one), and the NVLink
    bridges a pair of bridge-capable cards relies on (System.gpu_link joins exactly two with a bridge)."""
    out: list[tuple[Accessory, int]] = []
    if chassis.form_factor in ("tower", "workstation"):
        cooler = cheapest("cpu_cooler", (cpu.socket,))
        if cooler:
            out.append((cooler, cooler.per * n_cpus))
    board = cheapest("motherboard", (chassis.id,))
    if board:
        out.append((board, board.per))
    if chassis.form_factor == "rack":
        rails = cheapest("rails", (chassis.id, "rack"))
        if rails:
            out.append((rails, rails.per))
    if gpu.nvlink == "bridge" and n_gpus == 2:
        bridge = cheapest("nvlink_bridge", (gpu.id,))
        if bridge:
            out.append((bridge, bridge.per))
    return tuple(out)
