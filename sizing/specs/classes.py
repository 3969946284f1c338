"""Build classes beside the GPU servers: CPU-only servers, one-GPU hybrid machines (`Option`s like any GPU build),
and small edge machines sold as one box (`EdgeSystem`, data/systems.csv). results.ClassOption is a CPU-only or edge
build as the recommender proposes it."""

from __future__ import annotations

from typing import ClassVar, Literal

from sizing.units import GIB, TERA

from .base import (
    Col,
    GpuVendor,
    NonNegFloat,
    Part,
    PosFloat,
    PosInt,
    SoftwareStack,
    price_columns,
)
from .hardware import Gpu

# gpu: the GPU servers (recommend's search); cpu: CPU-only servers; hybrid: one or two GPUs with the weights they
# cannot hold in RAM; edge: data/systems.csv boxes (embedded modules, mini-PCs, unified-memory machines)
BuildClass = Literal["gpu", "cpu", "hybrid", "edge"]
BUILD_CLASSES: tuple[str, ...] = ("gpu", "cpu", "hybrid", "edge")
EdgeKind = Literal["embedded", "mini-pc", "unified"]


class EdgeSystem(Part):
    """A whole machine sold as one box (data/systems.csv): its memory pool (unified: CPU and GPU share it; else the
    discrete GPU's), the bus that feeds it, the GPU's peaks, power, noise and the engines documented to run on it.

    The memory the model may use is `memory_gib - os_reserve_gib` (unified: the OS and apps live in the same pool);
    bandwidth is the bus: `mem_bus_bits / 8 x mem_mt_s` (LPDDR5X 256-bit at 8000 MT/s = 256 GB/s)."""

    COLUMNS: ClassVar[dict[str, Col]] = price_columns(
        kind=Col("kind"),
        vendor=Col("vendor"),
        software_stack=Col("software_stack"),
        arch=Col("arch"),
        unified=Col("unified", "bool"),
        memory_gib=Col("memory_bytes", "float", GIB),
        os_reserve_gib=Col("os_reserve_bytes", "float", GIB),
        mem_bus_bits=Col("mem_bus_bits", "int"),
        mem_mt_s=Col("mem_mt_s", "int"),
        fp16_dense_tflops=Col("fp16_flops", "float", TERA),
        int8_dense_tops=Col("int8_ops_s", "float", TERA, required=False),
        cpu_cores=Col("cpu_cores", "int"),
        power_w=Col("power_w", "float"),
        idle_w=Col("idle_w", "float", required=False),
        noise_dba=Col("noise_dba", "float", required=False),
        engines=Col("engines", "list"),
        engine_note=Col("engine_note", required=False),
    )

    kind: EdgeKind
    vendor: GpuVendor
    software_stack: SoftwareStack
    arch: str
    unified: bool
    memory_bytes: PosFloat
    os_reserve_bytes: NonNegFloat
    mem_bus_bits: PosInt
    mem_mt_s: PosInt
    fp16_flops: PosFloat
    int8_ops_s: PosFloat | None = None
    cpu_cores: PosInt
    power_w: PosFloat
    idle_w: PosFloat | None = None
    noise_dba: PosFloat | None = None
    engines: tuple[str, ...]
    engine_note: str | None = None

    @property
    def mem_bw_bytes_s(self) -> float:
        """Bus width in bytes x transfers per second (LPDDR5X / GDDR6 datasheet arithmetic)."""
        return self.mem_bus_bits / 8 * self.mem_mt_s * 1e6

    @property
    def usable_bytes(self) -> float:
        """What weights, KV cache and activations may take: the pool less what the OS keeps."""
        return self.memory_bytes - self.os_reserve_bytes

    def device(self) -> Gpu:
        """The box's accelerator as the estimator sees a GPU: the usable pool as its memory, the bus bandwidth,
        the fp16 peak (bf16 the same), soldered to the board (no PCIe slot, no peer link)."""
        return Gpu(
            id=self.id,
            name=self.name,
            vendor=self.vendor,
            software_stack=self.software_stack,
            arch=self.arch,
            gpu_class="workstation",
            memory_bytes=self.usable_bytes,
            mem_bw_bytes_s=self.mem_bw_bytes_s,
            bf16_flops=self.fp16_flops,
            fp16_flops=self.fp16_flops,
            int8_ops_s=self.int8_ops_s,
            tdp_w=self.power_w,
            form_factor="module",
            cooling="passive",
            pcie_gen=4,
            pcie_lanes=4,
            nvlink="none",
            p2p=False,
            ecc=False,
            price_usd=None,
            source=self.source,
        )
