"""The published envelope of real builds, and the check that a platform is not far larger than the GPUs it holds.

Published builds (DGX, MLPerf systems, Lambda/Bizon/Puget workstations, tinybox; issue 7) stay within RAM/VRAM
0.5-5.3, CPU cores per GPU 2-16 and PSU capacity / sustained load 1.0-2.6. The PSU ratio counts the modules that
carry the load, not the redundant set behind them: the DGX A100 installs 6 x 3 kW in 3+3 for 6.5 kW at most
(hardware.md §3.2 [S56]), 2.8x installed but 1.4x active, so installed capacity would put NVIDIA's own server outside
the envelope it defines, and every N+N server below ~1.6 kW with it. A build outside it is a platform sized
for more GPUs than it carries: one GPU in an 8-GPU server gets both sockets' cores, every memory channel filled and
a redundant set of 2,000 W modules. Derivation already picks the smallest CPU, DIMM set and PSU set that pass; when
even those break the envelope on a rack server at most half populated, the platform is the wrong size.
"""

from __future__ import annotations

from sizing.estimate.power import active_psus
from sizing.specs import Build, Finding, Requirements, said
from sizing.units import fmt_watts

PLATFORM_SIZE = "platform_size"  # a Finding's rule: the platform's smallest parts are far larger than the work needs
ENVELOPE = {"ram_per_vram": (0.5, 5.3), "cores_per_gpu": (2.0, 16.0), "psu_per_load": (1.0, 2.6)}


def ratios(b: Build, sustained_w: float) -> dict[str, float]:
    """The build's envelope ratios, per node; the PSU ratio over the active modules (N of the chassis' N+N or N+1)."""
    return {
        "ram_per_vram": b.ram_bytes / (b.gpu.memory_bytes * b.n_gpus),
        "cores_per_gpu": b.cpu.cores * b.n_cpus / b.n_gpus,
        "psu_per_load": b.psu.watts * active_psus(b.chassis, b.n_psus) / sustained_w,
    }


def oversized(b: Build, need: Requirements, sustained_w: float) -> Finding | None:
    """The Finding that a rack server at most half populated breaks the envelope with its smallest parts, where the
    work itself needs less; else None. Towers and workstations are exempt: they are the smallest platforms there
    are, and integrators sell 4-GPU workstations with one card to grow into (Lambda Vector, Puget). Work that needs
    many cores or much RAM (CPU offload, training state) is never judged oversized for it."""
    c = b.chassis
    if c.form_factor != "rack" or 2 * b.n_gpus > c.max_gpus:
        return None
    r, vram = ratios(b, sustained_w), b.gpu.memory_bytes * b.n_gpus
    too_big, keys = [], []
    if r["cores_per_gpu"] > ENVELOPE["cores_per_gpu"][1] and need.cores <= ENVELOPE["cores_per_gpu"][1] * b.n_gpus:
        too_big.append(f"{b.cpu.cores * b.n_cpus} CPU cores ({r['cores_per_gpu']:.0f} per GPU, published builds <= 16)")
        keys.append("finding.platform_size.cores")
    if r["ram_per_vram"] > ENVELOPE["ram_per_vram"][1] and need.ram_bytes <= ENVELOPE["ram_per_vram"][1] * vram:
        too_big.append(f"RAM {r['ram_per_vram']:.1f}x the VRAM (published builds <= 5.3x)")
        keys.append("finding.platform_size.ram")
    n_active = active_psus(b.chassis, b.n_psus)
    if r["psu_per_load"] > ENVELOPE["psu_per_load"][1]:
        keys.append("finding.platform_size.psu")
        too_big.append(
            f"{n_active} active of {b.n_psus} x {fmt_watts(b.psu.watts)} PSUs for {fmt_watts(sustained_w)} "
            f"({r['psu_per_load']:.1f}x, published builds <= 2.6x)"
        )
    if not too_big:
        return None
    return Finding(
        rule=PLATFORM_SIZE,
        ok=False,
        need=f"{b.n_gpus} GPUs",
        have=f"{c.max_gpus}-GPU platform",
        message=f"{c.name} is built for {c.max_gpus} GPUs: its smallest parts give {b.n_gpus} x {b.gpu.name} "
        f"{'; '.join(too_big)}; a smaller platform (or more GPUs) fits the work",
        **said(
            "finding.platform_size",
            *[k for i, key in enumerate(keys) for k in (("finding.sep",) if i else ()) + (key,)],
            "finding.platform_size.fix",
            chassis=c.name,
            max_gpus=c.max_gpus,
            n_gpus=b.n_gpus,
            gpu=b.gpu.name,
            cores=b.cpu.cores * b.n_cpus,
            cores_per_gpu=f"{r['cores_per_gpu']:.0f}",
            ram_ratio=f"{r['ram_per_vram']:.1f}",
            n_psus=b.n_psus,
            n_active=n_active,
            psu_w=fmt_watts(b.psu.watts),
            sustained=fmt_watts(sustained_w),
            psu_ratio=f"{r['psu_per_load']:.1f}",
        ),
    )
