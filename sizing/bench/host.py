"""What the operating system and the driver say about the machine: `lscpu` (CPU model, sockets, cores),
`dmidecode -t memory` (populated DIMMs, their size, type and configured speed) and NVML (`nvidia-ml-py`, imported as
pynvml: GPU name, memory, power limit, clocks, PCIe link, NVLink state, power draw). Each reader returns None or a
reason when its tool is absent, never an error; the parsers are pure functions over the tools' text."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

from sizing.specs import Base

NVML_MISSING = "NVML not available"
TOOL_TIMEOUT_S = 10


class DimmReading(Base):
    """One populated memory slot as dmidecode (SMBIOS type 17) lists it."""

    locator: str
    size_bytes: float
    kind: str | None = None  # DDR4, DDR5
    speed_mt_s: int | None = None  # the module's rated speed
    configured_mt_s: int | None = None  # what the board runs it at


def _fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


def parse_lscpu(text: str) -> dict[str, Any]:
    """`lscpu` output -> model, sockets, cores (physical, all sockets), threads; keys it lacks are left out."""
    f = _fields(text)
    out: dict[str, Any] = {}
    if f.get("Model name"):
        out["cpu_model"] = f["Model name"]
    ints = {k: int(v) for k, v in f.items() if v.isdigit()}
    if "Socket(s)" in ints:
        out["sockets"] = ints["Socket(s)"]
    if "Core(s) per socket" in ints and "Socket(s)" in ints:
        out["cores"] = ints["Core(s) per socket"] * ints["Socket(s)"]
    if "CPU(s)" in ints:
        out["threads"] = ints["CPU(s)"]
    return out


_SIZE = {"KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}  # dmidecode prints binary units with SI names


def _mts(value: str | None) -> int | None:
    m = re.match(r"(\d+)\s*(MT/s|MHz)", value or "")
    return int(m.group(1)) if m else None  # DDR 'MHz' in old dmidecode is the transfer rate too


def parse_dmidecode_memory(text: str) -> list[DimmReading]:
    """`dmidecode -t memory` output -> the populated slots (Memory Device blocks with a size)."""
    dimms = []
    for block in re.split(r"\n(?=Handle )", text):
        if "Memory Device" not in block:
            continue
        f = _fields(block)
        m = re.match(r"(\d+)\s*(KB|MB|GB|TB)", f.get("Size", ""))
        if not m:  # "No Module Installed"
            continue
        kind = f.get("Type")
        configured = f.get("Configured Memory Speed") or f.get("Configured Clock Speed")
        dimms.append(
            DimmReading(
                locator=f.get("Locator", "?"),
                size_bytes=float(int(m.group(1)) * _SIZE[m.group(2)]),
                kind=kind if kind and kind not in ("Unknown", "Other") else None,
                speed_mt_s=_mts(f.get("Speed")),
                configured_mt_s=_mts(configured),
            )
        )
    return dimms


def _run(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def read_host() -> dict[str, Any]:
    """lscpu and dmidecode where present (dmidecode needs root): the CPU and the populated DIMMs."""
    out: dict[str, Any] = {}
    text = _run(["lscpu"])
    if text:
        out |= parse_lscpu(text)
    mem = _run(["dmidecode", "-t", "memory"])
    dimms = parse_dmidecode_memory(mem) if mem else []
    if dimms:
        out["dimms"] = [d.model_dump() for d in dimms]
        out["n_dimms"] = len(dimms)
        speeds = [d.configured_mt_s for d in dimms if d.configured_mt_s]
        if speeds:
            out["memory_configured_mt_s"] = min(speeds)
    else:
        out["dimms_note"] = "dmidecode not available (or not root): DIMMs not read"
    return out


# ------------------------------------------------------------------------------------------------------- NVML
def _nvml() -> Any | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _nvlinks(nv: Any, handle: Any) -> int:
    """Active NVLink links of one GPU (0 on PCIe cards: the query raises NVMLError_NotSupported)."""
    active = 0
    for link in range(getattr(nv, "NVML_NVLINK_MAX_LINKS", 18)):
        try:
            active += int(nv.nvmlDeviceGetNvLinkState(handle, link) == 1)
        except nv.NVMLError:
            break
    return active


def _gpu(nv: Any, handle: Any) -> dict[str, Any]:
    def ask(fn: str, *args: Any) -> Any:
        try:
            return getattr(nv, fn)(handle, *args)
        except nv.NVMLError:
            return None

    name = ask("nvmlDeviceGetName")
    mem = ask("nvmlDeviceGetMemoryInfo")
    limit_mw, draw_mw = ask("nvmlDeviceGetEnforcedPowerLimit"), ask("nvmlDeviceGetPowerUsage")
    return {
        "name": name.decode() if isinstance(name, bytes) else name,
        "memory_bytes": float(mem.total) if mem is not None else None,
        "power_limit_w": limit_mw / 1e3 if limit_mw is not None else None,  # NVML reports milliwatts
        "power_draw_w": draw_mw / 1e3 if draw_mw is not None else None,
        "sm_clock_max_mhz": ask("nvmlDeviceGetMaxClockInfo", nv.NVML_CLOCK_SM),
        "mem_clock_max_mhz": ask("nvmlDeviceGetMaxClockInfo", nv.NVML_CLOCK_MEM),
        "pcie_gen": ask("nvmlDeviceGetCurrPcieLinkGeneration"),
        "pcie_width": ask("nvmlDeviceGetCurrPcieLinkWidth"),
        "pcie_gen_max": ask("nvmlDeviceGetMaxPcieLinkGeneration"),
        "pcie_width_max": ask("nvmlDeviceGetMaxPcieLinkWidth"),
        "nvlinks_active": _nvlinks(nv, handle),
    }


def read_nvml(nv: Any | None = None) -> dict[str, Any]:
    """Every GPU NVML sees, or {"available": False, "reason": NVML_MISSING} without nvidia-ml-py or a driver."""
    nv = nv if nv is not None else _nvml()
    if nv is None:
        return {"available": False, "reason": f"{NVML_MISSING} (pip install 'sizing[nvml]')"}
    try:
        nv.nvmlInit()
    except nv.NVMLError as exc:
        return {"available": False, "reason": f"{NVML_MISSING} ({exc})"}
    try:
        n = nv.nvmlDeviceGetCount()
        gpus = [_gpu(nv, nv.nvmlDeviceGetHandleByIndex(i)) for i in range(n)]
        driver = nv.nvmlSystemGetDriverVersion()
    finally:
        nv.nvmlShutdown()
    return {"available": True, "driver": driver.decode() if isinstance(driver, bytes) else driver, "gpus": gpus}


def power_under_load(work: Callable[[], object], seconds: float = 5.0, nv: Any | None = None) -> float | None:
    """The highest total GPU draw (W, every GPU NVML sees) sampled while `work` runs over and over for `seconds`
    (NVML's power reading is averaged over about a second on recent GPUs, so sample after each call); None
    without NVML."""
    nv = nv if nv is not None else _nvml()
    if nv is None:
        return None
    try:
        nv.nvmlInit()
    except nv.NVMLError:
        return None
    try:
        handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(nv.nvmlDeviceGetCount())]
        peak, end = 0.0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            work()
            peak = max(peak, sum(nv.nvmlDeviceGetPowerUsage(h) for h in handles) / 1e3)
        return peak
    except nv.NVMLError:
        return None
    finally:
        nv.nvmlShutdown()
