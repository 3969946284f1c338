"""The CPU and its memory as an inference device: the DRAM bandwidth actually populated, what a run that spans
sockets reaches of it, the prefill peak of the vector or AMX units, and the link to the GPU.

Physics first: a DDR channel moves 8 bytes per transfer, so a socket's peak is populated channels x MT/s x 8 B; a
core does FMA pipes x lanes x 2 FLOPs per cycle. The engine's fitted factors (data/cpu_efficiency.csv) turn these
peaks into what a run reaches.
"""

from __future__ import annotations

import math

from sizing.specs import CpuEfficiency, Engine, Gpu, Host, Precision
from sizing.specs.system import PCIE_FALLBACK_BYTES_S, PCIE_X16_BYTES_S

# A DDR4 or DDR5 DIMM channel is 64 data bits wide (DDR5: two 32-bit subchannels), so it moves 8 bytes per transfer
# (JEDEC JESD79-4 / JESD79-5); data/README.md units table: peak bandwidth per socket = channels x MT/s x 8 B.
DDR_BYTES_PER_TRANSFER = 8
# AMX tile multiply (TMUL) per core and cycle: 1024 BF16 or 2048 INT8 operations on 4th Gen Xeon and later
# (Intel Architecture Instruction Set Extensions, as cited in Wikipedia "Advanced Matrix Extensions").
AMX_OPS_PER_CYCLE = {"bf16": 1024.0, "int8": 2048.0}
# A CPU row without fp32_flops_per_cycle (hybrid P+E desktop parts): AVX2 with two 256-bit FMA pipes = 2 x 8 x 2
# (Haswell and later, Zen 2 and later), an upper bound for their E-cores.
DEFAULT_FP32_FLOPS_PER_CYCLE = 32.0
# Host RAM a run may plan to use: the OS, the engine process and the page cache keep the rest (DERIVED assumption,
# like the 5% a GPU keeps free in estimate/engines.py; no integrator source gives a figure, hardware.md §3.5).
HOST_RAM_USABLE = 0.9
# One small host<->GPU copy (a hidden state per MoE layer): cudaMemcpy latency of the order of 10 us (DERIVED order
# of magnitude, as the link latencies in specs/system.py).
PCIE_COPY_LATENCY_S = 10e-6


def dimms_per_socket(host: Host) -> int:
    """DIMMs on each socket: the host's DIMMs spread evenly (the resolver refuses an uneven count)."""
    return max(1, host.n_dimms // host.n_sockets)


def memory_mt_s(host: Host) -> int:
    """The speed the DIMMs run at: the slower of the module's rating and the CPU's limit at this many DIMMs per
    channel (data/README.md: effective speed = min(DIMM, CPU); cpus.csv max_memory_mt_s_2dpc at 2 per channel)."""
    per_channel = math.ceil(dimms_per_socket(host) / host.cpu.memory_channels)
    cpu_limit = host.cpu.memory_mt_s(per_channel)
    return min(host.dimm.speed_mt_s, cpu_limit) if host.dimm else cpu_limit


def socket_bandwidth(host: Host) -> float:
    """One socket's populated peak in B/s: channels with a DIMM x MT/s x 8 B. DIMMs fill one per channel before a
    second goes in (the vendors' population order), so fewer DIMMs than channels leave channels idle: 4 of 8
    channels halve it (hardware.md §2 notes). 8 x DDR4-2666 = 170.6 GB/s (a Xeon Silver 4314, which runs DDR4-3200
    modules at 2666)."""
    channels = min(dimms_per_socket(host), host.cpu.memory_channels)
    return channels * memory_mt_s(host) * 1e6 * DDR_BYTES_PER_TRANSFER


def weight_copies(host: Host, engine: Engine) -> int:
    """Copies of the host weights in RAM: one per socket for an engine that replicates them on every NUMA node
    (ktransformers USE_NUMA=1: 'Dual socket: 1T DRAM' vs 'Single socket: 382G', its DeepSeek tutorial; issue #1147:
    memory times the NUMA node count), else one."""
    return host.n_sockets if engine.numa_replicate else 1


def host_bandwidth(host: Host, engine: Engine, cpu_eff: CpuEfficiency) -> float:
    """The DRAM bandwidth a run reads its host weights at (peak; bw_eff applies on top). One socket, or a run that
    spans sockets without per-node copies: one socket's bandwidth, the upper end of what such runs see (a dual Xeon
    5218 decoded at half the speed of one pinned socket, mozilla-ai/llamafile #765; dual Xeon 6980P slower than one
    with llama.cpp and vLLM, kvcache-ai/ktransformers #812). An engine with a copy per node reads each socket's own
    memory and gains numa_eff of every further socket (fitted: ~1.3x for two sockets is typical, ik_llama.cpp #2396)."""
    one = socket_bandwidth(host)
    if host.n_sockets == 1 or not engine.numa_replicate:
        return one
    return one * (1 + cpu_eff.numa_eff * (host.n_sockets - 1))


def cpu_peak(host: Host, engine: Engine, precision: Precision) -> tuple[float, str]:
    """(FLOP/s, kernel) of the host's matmuls: the cores the engine's threads use (every core of every socket unless
    it is told fewer; SMT siblings share a core's FMA pipes) at base clock (the all-core clock a vendor guarantees
    at TDP; wide-vector loads run near it) times FLOPs per cycle: AMX tiles where the engine has
    AMX kernels, the CPU has AMX and the weights compute in 8 or 16 bits (ktransformers V0.3), else the vector units
    (cpus.csv fp32_flops_per_cycle: FMA pipes x lanes x 2)."""
    cpu = host.cpu
    cycles = host.compute_cores * cpu.base_ghz * 1e9
    if engine.cpu_amx and "amx" in cpu.isa and precision.compute_dtype in AMX_OPS_PER_CYCLE:
        return cycles * AMX_OPS_PER_CYCLE[precision.compute_dtype], "amx"
    per_cycle = cpu.fp32_flops_per_cycle or DEFAULT_FP32_FLOPS_PER_CYCLE
    return cycles * per_cycle, "avx512" if "avx512" in cpu.isa else "avx2"


def pcie_bandwidth(gpu: Gpu, host: Host) -> float:
    """Host<->GPU payload per direction: the GPU's lanes at the lower of its and the CPU's PCIe generation
    (hardware.md §3.4 x16 rates, as specs/system.py)."""
    gen = min(gpu.pcie_gen, host.cpu.pcie_gen)
    return PCIE_X16_BYTES_S.get(gen, PCIE_FALLBACK_BYTES_S) * gpu.pcie_lanes / 16
