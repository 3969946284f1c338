"""The host side of an inference run: the CPU and its memory as a device (`Host`), where the weights live
(`HybridSetup`: CPU only, llama.cpp layer offload, routed experts in RAM), the engine's fitted CPU factors
(`CpuEfficiency`, data/cpu_efficiency.csv) and what the estimate says about the host (`HostEstimate`)."""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

from .base import Base, Col, FactorStatus, NonNegFloat, NonNegInt, PosFloat, PosInt, Provenanced
from .hardware import Cpu, Dimm

# Where the weights live. none: every weight on the GPUs; layers: llama.cpp `-ngl N` (the last N layers and their KV
# cache on the GPUs, the rest in RAM); experts: routed experts in RAM, attention, shared experts, dense layers and the
# KV cache on the GPU (llama.cpp `-ot exps=CPU` / `--n-cpu-moe`, ktransformers); cpu: no GPU at all.
HostOffload = Literal["none", "layers", "experts", "cpu"]
HOST_OFFLOADS: tuple[str, ...] = get_args(HostOffload)
# What bounds a step: DRAM bandwidth, GPU memory bandwidth, the PCIe link, or FLOPs (GPU or CPU).
HostBound = Literal["host_memory", "gpu_memory", "pcie", "compute"]
CpuFactor = Literal["bw_eff", "mm_eff", "amx_eff", "numa_eff", "pcie_eff"]


class CpuEfficiency(Provenanced):
    """Fitted CPU-side factors of one engine (data/cpu_efficiency.csv, benchmarks/calibrate_hybrid.py).

    bw_eff: share of the populated DRAM peak that decode reaches reading weights and cache; mm_eff: share of the
    CPU's vector FP32 peak (cores x clock x FLOPs per cycle) that prefill matmuls reach, above 1 where the kernels
    multiply int8 (llama.cpp's quantized dot products); amx_eff: the same for AMX tile kernels against the AMX peak;
    numa_eff: share of each further socket's bandwidth that an engine replicating weights per NUMA node gains;
    pcie_eff: share of the PCIe x16 payload rate reached streaming host weights to the GPU for prefill."""

    FACTORS: ClassVar[tuple[str, ...]] = get_args(CpuFactor)
    COLUMNS: ClassVar[dict[str, Col]] = {
        "engine": Col("engine"),
        "bw_eff": Col("bw_eff", "float"),
        "mm_eff": Col("mm_eff", "float"),
        "amx_eff": Col("amx_eff", "float"),
        "numa_eff": Col("numa_eff", "float"),
        "pcie_eff": Col("pcie_eff", "float"),
        "n_rows": Col("n_rows", "int", required=False),
        "copied_from": Col("copied_from", required=False),
        "provenance": Col("provenance", "list", required=False),
        "source": Col("source"),
    }

    engine: str
    bw_eff: PosFloat
    mm_eff: PosFloat
    amx_eff: PosFloat
    numa_eff: NonNegFloat  # 0: a second socket adds nothing
    pcie_eff: PosFloat
    n_rows: NonNegInt | None = None
    copied_from: str | None = None  # engines id whose factors these are (no measurements of this engine)
    provenance: tuple[tuple[CpuFactor, FactorStatus], ...] = ()
    source: str


class Host(Base):
    """The host machine as a device: `n_sockets` CPUs, `n_dimms` DIMMs over all sockets, of `dimm` (None: not named;
    DIMMs at the CPU's top speed, capacity unknown); `threads`: the cores the engine computes on (None: all)."""

    cpu: Cpu
    n_sockets: PosInt = 1
    dimm: Dimm | None = None
    n_dimms: PosInt
    threads: PosInt | None = None

    @property
    def compute_cores(self) -> int:
        """Cores doing the matmuls: the engine's threads (one per physical core at most), else every core."""
        cores = self.cpu.cores * self.n_sockets
        return min(self.threads, cores) if self.threads else cores

    @property
    def ram_bytes(self) -> float | None:
        return self.dimm.capacity_bytes * self.n_dimms if self.dimm else None


class HybridSetup(Base):
    """Where one run keeps its weights and the engine's CPU factors. `gpu_layers`: layers on the GPUs (layers
    offload; every layer otherwise, none for cpu)."""

    offload: HostOffload
    gpu_layers: NonNegInt
    cpu_eff: CpuEfficiency


class HostEstimate(Base):
    """The host side of an estimate: RAM needed and installed, the bandwidths, and each step's parts in seconds."""

    offload: HostOffload
    n_gpus: NonNegInt  # 0: CPU only
    gpu_layers: NonNegInt
    host_bytes: NonNegFloat  # RAM the run needs (weights kept in RAM, per NUMA copy, their KV cache, buffers)
    gpu_bytes: NonNegFloat  # weights + cache + activations the GPUs hold (all of them)
    ram_bytes: NonNegFloat | None  # installed: n_dimms x module size (None: --memory not given)
    fits_host: bool
    socket_bw_bytes_s: PosFloat  # one socket's populated peak: channels x MT/s x 8 B
    host_bw_bytes_s: PosFloat  # what the run reaches for: one socket, or more with per-node copies
    cpu_flops: PosFloat  # the prefill peak on the host: vector or AMX
    cpu_kernel: Literal["avx2", "avx512", "amx"]
    pcie_bytes_s: PosFloat  # the GPU's host link, payload per direction
    decode_bound: HostBound
    prefill_bound: HostBound
    decode_parts_s: dict[str, NonNegFloat]  # mean decode step: gpu, host, pcie, overhead
    prefill_parts_s: dict[str, NonNegFloat]  # whole prefill: gpu, host, pcie, overhead
    notes: tuple[str, ...] = ()
