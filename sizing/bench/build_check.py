"""`sizing validate --build FILE`: what a saved `sizing recommend --json` or `sizing report` JSON promised, and the
machine against it: the parts (GPU model, count and memory, CPU model and cores, RAM, DIMMs and their speed, power
limit and PCIe width where NVML shows them) and each promised figure within its band (the report's acceptance
checks; for a bare recommendation the same bands, the estimator's accuracy targets)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sizing.specs import Base, SizingError

if TYPE_CHECKING:
    from sizing.catalog import Catalog

# The estimator's accuracy targets (median absolute error against public measurements, benchmarks/accuracy.py
# TARGETS), the bands `sizing report` prints in its acceptance test; a bare recommendation is judged by the same.
BANDS = {"decode_tokens_per_s": 0.12, "prefill_tokens_per_s": 0.20, "peak_memory": 0.08}
REPORT_BANDS = {
    "bench_decode": "decode_tokens_per_s",
    "bench_prefill": "prefill_tokens_per_s",
    "bench_memory": "peak_memory",
}
GPU_MEMORY_SHARE = 0.95  # the driver keeps a little of the card (A100 40GB: 40,536 of 40,960 MiB in nvidia-smi)
RAM_SHARE = 0.95  # the OS reports a little less than the DIMMs installed
TRIAD_SHARE = 0.60  # of channels x MT/s x 8 bytes: STREAM triad reaches ~60-80% of the theoretical peak on servers
SPEED_SHARE = 0.99  # a DIMM's configured MT/s against the slower of the DIMM and the CPU's rated speed


class Check(Base):
    name: str
    measured: float | str
    estimated: float | str | None = None
    unit: str = ""
    ratio: float | None = None  # measured / estimated
    ok: bool | None = None  # None: informational (nothing promised, or nothing to measure it with)
    basis: str = ""


class Promise(Base):
    """A saved build and what it promised: its parts (the first option), its workload, the acceptance checks
    (metric, expected, band, unit) and, from a report, the model the bench should run."""

    build: dict[str, Any]
    workload: dict[str, Any] = {}
    checks: tuple[dict[str, Any], ...] = ()
    bench_model: str | None = None
    kind: str  # "recommend" or "report"


def share(name: str, measured: float, promised: float, least: float, unit: str, basis: str) -> Check:
    """measured / promised, passing at `least` or more."""
    ratio = measured / promised if promised else None
    ok = None if ratio is None else ratio >= least
    return Check(name=name, measured=measured, estimated=promised, unit=unit, ratio=ratio, ok=ok, basis=basis)


def load_promise(path: str | Path) -> Promise:
    """A saved `sizing recommend --json` (options[0] is the build) or `sizing report` JSON (its source holds the
    recommendation, its acceptance the checks)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SizingError(f"cannot read {path} ({exc.__class__.__name__}); check the path") from None
    except ValueError:
        data = None
    try:
        if "acceptance" in data and "source" in data:
            acc = data["acceptance"]
            return Promise(
                build=data["source"]["options"][0],
                workload=data["source"].get("workload") or {},
                checks=tuple(acc.get("checks") or ()),
                bench_model=acc.get("bench_model"),
                kind="report",
            )
        return Promise(build=data["options"][0], workload=data.get("workload") or {}, kind="recommend")
    except (KeyError, IndexError, TypeError):
        raise SizingError(
            f"{path} is not a saved `sizing recommend --json` or `sizing report --out FILE.json`; save one and retry"
        ) from None


def expected(promise: Promise, catalog: Catalog) -> dict[str, tuple[float, float | None]]:
    """metric -> (expected, band) of the parts' inventory; a report's own figures, else the build's."""
    if promise.checks:
        return {c["metric"]: (c["expected"], c.get("band")) for c in promise.checks if c.get("expected") is not None}
    b = promise.build
    gpu = catalog.gpus.get(b.get("gpu", ""))
    out: dict[str, tuple[float, float | None]] = {"gpu_count": (b.get("n_gpus_per_node") or b.get("n_gpus") or 0, None)}
    if gpu is not None:
        out["gpu_memory"] = (round(gpu.memory_bytes / 2**20), None)
        out["power_limit"] = ((b.get("power") or {}).get("gpu_power_limit_w") or gpu.tdp_w, None)
    speed = b.get("speed") or {}
    if speed.get("decode_tokens_per_s_total"):
        out["serve_decode"] = (speed["decode_tokens_per_s_total"], BANDS["decode_tokens_per_s"])
    return out


def _norm(text: str) -> list[str]:
    return re.sub(r"\((r|tm)\)|cpu @.*$|processor", " ", text.lower()).replace("-", " ").split()


def cpu_matches(catalog_name: str, device_name: str) -> bool:
    """'Intel Xeon Gold 6430' is '... Intel(R) Xeon(R) Gold 6430' and 'AMD EPYC 9654' is 'AMD EPYC 9654 96-Core
    Processor': every token of the catalog name with a digit in it (the model number) appears in the device's."""
    want = [t for t in _norm(catalog_name) if any(ch.isdigit() for ch in t)]
    have = set(_norm(device_name))
    return bool(want) and all(t in have for t in want)


def _parts(build: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["kind"]: p for p in build.get("parts", [])}


def part_checks(promise: Promise, device: dict[str, Any], catalog: Catalog) -> list[Check]:
    """The parts the build lists against what the machine shows (torch, NVML, /proc, lscpu, dmidecode)."""
    b, want = promise.build, expected(promise, catalog)
    nodes = b.get("n_nodes", 1) or 1
    have_gpu, gpus = device.get("gpu_id"), device.get("gpus", [])
    n_want = want.get("gpu_count", (0, None))[0]
    out = [
        Check(
            name="gpu_model",
            measured=str(have_gpu),
            estimated=str(b.get("gpu")),
            ok=have_gpu == b.get("gpu"),
            basis="saved build",
        ),
        Check(
            name="gpu_count",
            measured=float(len(gpus)),
            estimated=float(n_want),
            unit="GPUs",
            ok=len(gpus) >= n_want,
            basis="saved build",
        ),
    ]
    if "gpu_memory" in want:
        mem = device.get("gpu_memory_bytes")
        if mem:
            out.append(
                share("gpu_memory", mem, want["gpu_memory"][0] * 2**20, GPU_MEMORY_SHARE, "B", "saved build, per GPU")
            )
        else:
            out.append(
                Check(
                    name="gpu_memory",
                    measured="no GPU",
                    estimated=want["gpu_memory"][0] * 2**20,
                    unit="B",
                    ok=False,
                    basis="saved build",
                )
            )
    nvml = device.get("nvml") or {}
    for metric, key, unit in (("power_limit", "power_limit_w", "W"), ("pcie_width", "pcie_width_max", "lanes")):
        if metric not in want:
            continue
        values = [g.get(key) for g in nvml.get("gpus", []) if g.get(key)]
        if values:
            out.append(
                share(metric, float(min(values)), float(want[metric][0]), 1.0, unit, "saved build, NVML (least GPU)")
            )
        else:
            reason = nvml.get("reason") or "NVML shows no GPU"
            out.append(
                Check(name=metric, measured=reason, estimated=float(want[metric][0]), unit=unit, basis="saved build")
            )
    out += _cpu_and_ram(b, nodes, device, catalog)
    return out


def _cpu_and_ram(b: dict[str, Any], nodes: int, device: dict[str, Any], catalog: Catalog) -> list[Check]:
    parts, out = _parts(b), []
    cpu_part = parts.get("cpu")
    cpu = catalog.cpus.get(cpu_part["id"]) if cpu_part else None
    if cpu is not None and cpu_part is not None:
        name = str(device.get("cpu_model") or device.get("cpu") or "")
        out.append(
            Check(
                name="cpu_model", measured=name, estimated=cpu.name, ok=cpu_matches(cpu.name, name), basis="saved build"
            )
        )
        sockets = cpu_part["quantity"] / nodes
        if device.get("cores"):
            out.append(
                share("cpu_cores", float(device["cores"]), sockets * cpu.cores, 1.0, "cores", f"{sockets:g} x {cpu.id}")
            )
    ram = (b.get("totals") or {}).get("ram_bytes")
    if ram and device.get("host_memory_bytes"):
        out.append(share("host_memory", device["host_memory_bytes"], ram / nodes, RAM_SHARE, "B", "saved build RAM"))
    dimm_part = parts.get("memory")
    if dimm_part and device.get("n_dimms"):
        n = dimm_part["quantity"] / nodes
        out.append(
            share("memory_dimms", float(device["n_dimms"]), n, 1.0, "DIMMs", f"{n:g} x {dimm_part['id']} (dmidecode)")
        )
        dimm = catalog.dimms.get(dimm_part["id"])
        if dimm and cpu and device.get("memory_configured_mt_s"):
            rated = min(dimm.speed_mt_s, cpu.max_memory_mt_s)
            out.append(
                share(
                    "memory_speed",
                    float(device["memory_configured_mt_s"]),
                    rated,
                    SPEED_SHARE,
                    "MT/s",
                    "slower of DIMM and CPU",
                )
            )
    return out


def banded(checks: list[Check], promise: Promise | None, default: float) -> list[Check]:
    """The decoder's figures judged within the build's band (a report's, else BANDS), else within `default`."""
    bands = dict(BANDS) if promise is not None else {}
    if promise is not None and promise.checks:
        bands |= {
            REPORT_BANDS[c["metric"]]: c["band"]
            for c in promise.checks
            if c["metric"] in REPORT_BANDS and c.get("band")
        }
    out = []
    for c in checks:
        band = bands.get(c.name, default)
        if c.ratio is None:  # nothing to judge against (no catalog GPU)
            out.append(c)
            continue
        ok = abs(c.ratio - 1) <= band
        out.append(c.model_copy(update={"ok": ok, "basis": f"{c.basis}, within {band:.0%}"}))
    return out


def triad_check(measured: float, build: dict[str, Any] | None, catalog: Catalog) -> Check:
    """Host RAM bandwidth against the build's populated channels (sockets x min(DIMMs per socket, channels) x MT/s x
    8 bytes) when a saved build names its CPU and DIMMs; informational otherwise."""
    if build is None:
        return Check(name="host_memory_bandwidth", measured=measured, unit="B/s", basis="STREAM triad (no build)")
    parts = _parts(build)
    cpu_part, dimm_part = parts.get("cpu"), parts.get("memory")
    if not cpu_part or not dimm_part or cpu_part["id"] not in catalog.cpus:
        return Check(name="host_memory_bandwidth", measured=measured, unit="B/s", basis="the build lists no CPU/RAM")
    cpu = catalog.cpus[cpu_part["id"]]
    sockets = cpu_part["quantity"] / build.get("n_nodes", 1)
    per_socket = dimm_part["quantity"] / build.get("n_nodes", 1) / sockets
    dimm = catalog.dimms.get(dimm_part["id"])
    mts = min(cpu.max_memory_mt_s, dimm.speed_mt_s if dimm else cpu.max_memory_mt_s)
    peak = sockets * min(per_socket, cpu.memory_channels) * mts * 1e6 * 8
    return share("host_memory_bandwidth", measured, peak, TRIAD_SHARE, "B/s", f"{cpu.id} populated channels")


def serve_check(
    promise: Promise, measured: float | None, engine: str | None, catalog: Catalog, why: str = ""
) -> Check | None:
    """The workload's own throughput (all users' decode tokens/s) against the build's promise, when a real engine
    ran it (--engine); informational otherwise."""
    want = expected(promise, catalog).get("serve_decode")
    if want is None:
        return None
    value, band = want
    band = band or BANDS["decode_tokens_per_s"]
    if measured is None:
        how = why or f"run with --engine {promise.workload.get('engine') or 'vllm'}"
        return Check(
            name="serve_decode", measured=f"not measured ({how})", estimated=value, unit="tok/s", basis="saved build"
        )
    ratio = measured / value
    # a promise is kept when the machine is no slower than the band allows; faster is fine
    return Check(
        name="serve_decode",
        measured=measured,
        estimated=value,
        unit="tok/s",
        ratio=ratio,
        ok=ratio >= 1 - band,
        basis=f"saved build, {engine}, at least {1 - band:.0%} of it",
    )
