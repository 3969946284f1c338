"""The hardware (on what): GPUs and the other server parts, exchange rates and wall circuits."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from sizing.units import GB, GIB, MB, TB, TERA

from .base import (
    Base,
    Col,
    ComputeDtype,
    Cooling,
    CpuIsa,
    CpuVendor,
    GpuClass,
    GpuFormFactor,
    GpuVendor,
    NetProtocol,
    NonNegFloat,
    NonNegInt,
    NvLink,
    Part,
    PosFloat,
    PosInt,
    PowerConnector,
    PsuSet,
    SoftwareStack,
    derived,
    price_columns,
)


class Gpu(Part):
    COLUMNS: ClassVar[dict[str, Col]] = price_columns(
        aliases=Col("aliases", "list", required=False),
        vendor=Col("vendor"),
        software_stack=Col("software_stack"),
        stack_note=Col("stack_note", required=False),
        arch=Col("arch"),
        gpu_class=Col("gpu_class"),
        memory_gib=Col("memory_bytes", "float", GIB),
        mem_bw_gb_s=Col("mem_bw_bytes_s", "float", GB),
        bf16_dense_tflops=Col("bf16_flops", "float", TERA),
        fp16_dense_tflops=Col("fp16_flops", "float", TERA),
        fp8_dense_tflops=Col("fp8_flops", "float", TERA, required=False),
        int8_dense_tops=Col("int8_ops_s", "float", TERA, required=False),
        fp32_tflops=Col("fp32_flops", "float", TERA, required=False),
        tdp_w=Col("tdp_w", "float"),
        form_factor=Col("form_factor"),
        slot_width=Col("slot_width", "float", required=False),
        cooling=Col("cooling"),
        length_mm=Col("length_mm", "float", required=False),
        power_connector=Col("power_connector", required=False),
        pcie_gen=Col("pcie_gen", "int"),
        pcie_lanes=Col("pcie_lanes", "int"),
        nvlink=Col("nvlink"),
        nvlink_gb_s=Col("nvlink_bytes_s", "float", GB, required=False),
        p2p=Col("p2p", "bool"),
        ecc=Col("ecc", "bool"),
    )

    aliases: tuple[str, ...] = ()
    vendor: GpuVendor
    software_stack: SoftwareStack  # the runtime engines must build on (CUDA, ROCm, CANN, ...)
    stack_note: str | None = None  # what to run instead when an engine has no kernels for this GPU
    arch: str
    gpu_class: GpuClass
    memory_bytes: PosFloat
    mem_bw_bytes_s: PosFloat
    bf16_flops: PosFloat
    fp16_flops: PosFloat
    fp8_flops: PosFloat | None = None
    int8_ops_s: PosFloat | None = None
    fp32_flops: PosFloat | None = None
    tdp_w: PosFloat
    form_factor: GpuFormFactor
    slot_width: PosFloat | None = None
    cooling: Cooling
    length_mm: PosFloat | None = None
    power_connector: PowerConnector | None = None
    pcie_gen: PosInt
    pcie_lanes: PosInt
    nvlink: NvLink
    nvlink_bytes_s: PosFloat | None = None
    p2p: bool  # PCIe peer-to-peer enabled by the stock driver (GeForce: no)
    ecc: bool

    def peak_flops(self, compute_dtype: ComputeDtype) -> float:
        """Dense tensor peak in FLOP/s for the dtype the matmuls run in (hardware.md §1b: dense, FP32 accumulate).

        `bf16` and `f16` always have a figure. The fallbacks are these and no others:
        - `fp8` or `int8` on a GPU without that format (empty `fp8_dense_tflops` / `int8_dense_tops`: Ampere and
          older have no FP8, Ascend 910B has none, hardware.md §1b) runs at the **16-bit (bf16) peak**: the engine
          keeps 8-bit weights in memory and computes in 16 bits (weight-only W8A16; vLLM docs
          features/quantization/fp8: "FP8 models will run on compute capability >= 7.5 as weight-only W8A16,
          utilizing FP8 Marlin"), so only the memory side gains.
        - `f32` without an `fp32_tflops` figure (Ascend 910B) runs at the bf16 peak too: an upper bound, no
          source gives the figure (hardware.md §5).
        """
        peaks = {
            "bf16": self.bf16_flops,
            "f16": self.fp16_flops,
            "fp8": self.fp8_flops,
            "int8": self.int8_ops_s,
            "f32": self.fp32_flops,
        }
        if compute_dtype not in peaks:
            raise ValueError(f"unknown compute dtype '{compute_dtype}'; expected one of {', '.join(peaks)}")
        peak = peaks[compute_dtype]
        return self.bf16_flops if peak is None else peak

    @property
    def has_p2p(self) -> bool:
        return self.p2p


class Cpu(Part):
    COLUMNS: ClassVar[dict[str, Col]] = price_columns(
        vendor=Col("vendor"),
        family=Col("family"),
        socket=Col("socket"),
        cores=Col("cores", "int"),
        threads=Col("threads", "int"),
        base_ghz=Col("base_ghz", "float"),
        boost_ghz=Col("boost_ghz", "float"),
        tdp_w=Col("tdp_w", "float"),
        pcie_lanes=Col("pcie_lanes", "int"),
        pcie_gen=Col("pcie_gen", "int"),
        pcie_lanes_2s=Col("pcie_lanes_2s", "int", required=False),
        memory_channels=Col("memory_channels", "int"),
        ddr_gen=Col("ddr_gen", "int"),
        max_memory_mt_s=Col("max_memory_mt_s", "int"),
        max_memory_mt_s_2dpc=Col("max_memory_mt_s_2dpc", "int", required=False),
        max_sockets=Col("max_sockets", "int"),
        ecc_rdimm=Col("ecc_rdimm", "bool"),
        max_memory_gb_per_socket=Col("max_memory_bytes_per_socket", "float", GIB, required=False),
        isa=Col("isa", "list", required=False),
        fp32_flops_per_cycle=Col("fp32_flops_per_cycle", "float", required=False),
    )
    vendor: CpuVendor
    family: str
    socket: str
    cores: PosInt
    threads: PosInt
    base_ghz: PosFloat
    boost_ghz: PosFloat
    tdp_w: PosFloat
    pcie_lanes: PosInt
    pcie_gen: PosInt
    pcie_lanes_2s: PosInt | None = None  # device lanes of a 2-socket board, both CPUs together; None = 2 x pcie_lanes
    memory_channels: PosInt
    ddr_gen: PosInt
    max_memory_mt_s: PosInt
    max_memory_mt_s_2dpc: PosInt | None = None  # the vendor's speed at 2 DIMMs per channel; None: not published here
    max_sockets: PosInt
    ecc_rdimm: bool
    max_memory_bytes_per_socket: PosFloat | None = None
    isa: tuple[CpuIsa, ...] = ()  # vector and matrix extensions: avx2, avx512, amx (empty: not recorded)
    fp32_flops_per_cycle: PosFloat | None = None  # per core at the widest vector width: FMA pipes x lanes x 2

    def memory_mt_s(self, dimms_per_channel: int) -> int:
        """The CPU's highest DIMM speed at this population: cpus.csv `max_memory_mt_s` at 1 DIMM per channel,
        `max_memory_mt_s_2dpc` at 2 (vendor figures, e.g. Xeon 6700P DDR5-6400 / 5200); without a 2DPC figure the
        1DPC speed, an upper bound."""
        if dimms_per_channel >= 2 and self.max_memory_mt_s_2dpc is not None:
            return self.max_memory_mt_s_2dpc
        return self.max_memory_mt_s

    def usable_lanes(self, n_cpus: int) -> int:
        """PCIe lanes for devices on a board with `n_cpus` of these CPUs: cpus.csv `pcie_lanes_2s` for two sockets
        where the CPUs spend lanes on the socket link (2-socket EPYC: 128 in all, hardware.md §2 notes), else
        `pcie_lanes` per CPU."""
        if n_cpus == 2 and self.pcie_lanes_2s is not None:
            return self.pcie_lanes_2s
        return self.pcie_lanes * n_cpus


class Dimm(Part):
    COLUMNS: ClassVar[dict[str, Col]] = price_columns(
        ddr_gen=Col("ddr_gen", "int"),
        speed_mt_s=Col("speed_mt_s", "int"),
        capacity_gb=Col("capacity_bytes", "float", GIB),  # DRAM module "GB" are binary
        module_type=Col("module_type"),
        ecc=Col("ecc", "bool"),
    )
    ddr_gen: PosInt
    speed_mt_s: PosInt
    capacity_bytes: PosFloat
    module_type: Literal["rdimm", "udimm"]
    ecc: bool


class Drive(Part):
    COLUMNS: ClassVar[dict[str, Col]] = price_columns(
        interface=Col("interface"),
        media=Col("media"),
        capacity_tb=Col("capacity_bytes", "float", TB),
        seq_read_mb_s=Col("read_bytes_s", "float", MB),
        seq_write_mb_s=Col("write_bytes_s", "float", MB),
        form_factor=Col("form_factor"),
        enterprise=Col("enterprise", "bool"),
        role_hint=Col("role_hint", required=False),
    )
    interface: Literal["nvme-m2", "nvme-u2", "sata", "sas"]
    media: Literal["ssd", "hdd"]
    capacity_bytes: PosFloat
    read_bytes_s: PosFloat
    write_bytes_s: PosFloat
    form_factor: Literal["m.2-2280", "u.2", "2.5in", "3.5in"]
    enterprise: bool
    role_hint: Literal["system", "data", "both"] | None = None


class Psu(Part):
    COLUMNS: ClassVar[dict[str, Col]] = price_columns(
        form=Col("form"),
        atx3=Col("atx3", "bool"),
        watts_continuous=Col("watts", "float"),
        watts_at_115v=Col("watts_at_115v", "float"),
        min_input_v=Col("min_input_v", "float"),
        efficiency_tier=Col("efficiency_tier"),
        n_12vhpwr=Col("n_12vhpwr", "int"),
        n_pcie_8pin=Col("n_pcie_8pin", "int"),
        n_eps_8pin=Col("n_eps_8pin", "int"),
        redundant=Col("redundant", "bool"),
    )
    form: Literal["atx", "crps", "dell"]
    atx3: bool
    watts: PosFloat
    watts_at_115v: NonNegFloat
    min_input_v: PosFloat
    efficiency_tier: Literal["bronze", "gold", "platinum", "titanium"]
    n_12vhpwr: NonNegInt
    n_pcie_8pin: NonNegInt
    n_eps_8pin: NonNegInt
    redundant: bool

    def watts_at(self, volts: float) -> float:
        return self.watts if volts >= 200 else self.watts_at_115v


class Chassis(Part):
    COLUMNS: ClassVar[dict[str, Col]] = price_columns(
        form_factor=Col("form_factor"),
        rack_units=Col("rack_units", "int", required=False),
        max_gpus=Col("max_gpus", "int"),
        max_gpu_slot_width=Col("max_gpu_slot_width", "float", required=False),
        gpu_form_factor=Col("gpu_form_factor"),
        open_air_ok=Col("open_air_ok", "bool"),
        max_gpu_length_mm=Col("max_gpu_length_mm", "float", required=False),
        psu_bays=Col("psu_bays", "int"),
        psu_form=Col("psu_form"),
        max_psu_w=Col("max_psu_w", "float"),
        redundant_psu=Col("redundant_psu", "bool"),
        cpu_sockets=Col("cpu_sockets", "int"),
        cpu_socket_type=Col("cpu_socket_type"),
        dimm_slots=Col("dimm_slots", "int"),
        drive_bays_2_5=Col("drive_bays_2_5", "int"),
        drive_bays_3_5=Col("drive_bays_3_5", "int"),
        m2_slots=Col("m2_slots", "int"),
        pcie_switch=Col("pcie_switch", "bool"),
        gpu_lanes_each=Col("gpu_lanes_each", "int"),
        gpu_archs=Col("gpu_archs", "list", required=False),
        gpu_counts=Col("gpu_counts", "list", required=False),
        passive_ok=Col("passive_ok", "bool", required=False),
        psu_redundancy=Col("psu_redundancy", required=False),
    )
    form_factor: Literal["tower", "workstation", "rack"]
    rack_units: PosInt | None = None
    max_gpus: PosInt
    max_gpu_slot_width: PosFloat | None = None
    gpu_form_factor: Literal["pcie", "sxm", "oam", "module"]  # sxm: HGX; oam: OCP UBB; module: Ascend board
    open_air_ok: bool
    max_gpu_length_mm: PosFloat | None = None
    psu_bays: PosInt
    psu_form: Literal["atx", "crps", "dell"]
    max_psu_w: PosFloat
    redundant_psu: bool
    cpu_sockets: PosInt
    cpu_socket_type: str
    dimm_slots: PosInt
    drive_bays_2_5: NonNegInt
    drive_bays_3_5: NonNegInt
    m2_slots: NonNegInt
    pcie_switch: bool
    gpu_lanes_each: PosInt
    gpu_archs: tuple[str, ...] = ()  # GPU architectures its baseboard takes (HGX: one generation); empty: any
    gpu_counts: tuple[PosInt, ...] = ()  # GPU counts it is sold with (an HGX baseboard: 4 or 8); empty: 1..max_gpus
    passive_ok: bool | None = None  # ducted airflow for passively cooled cards; None: rack servers yes, others no
    psu_redundancy: PsuSet | None = None  # the vendor's set at full bays ("3+1", "2+2") or "none"; None: from psu_bays

    @property
    def cools_passive_cards(self) -> bool:
        return self.passive_ok if self.passive_ok is not None else self.form_factor == "rack"

    def takes(self, arch: str, n_gpus: int) -> bool:
        """Whether the platform is sold with n_gpus GPUs of this architecture."""
        return (not self.gpu_archs or arch in self.gpu_archs) and (not self.gpu_counts or n_gpus in self.gpu_counts)

    @derived  # parsed once per chassis: the PSU picks and rules read it ~19,000 times a search
    def psu_set(self) -> tuple[int, int] | None:
        """(active, spare) PSUs of the vendor's full set ("3+1" -> (3, 1)); None for "none" or an empty cell."""
        if self.psu_redundancy is None or self.psu_redundancy == "none":
            return None
        active, spare = self.psu_redundancy.split("+")
        return int(active), int(spare)


class NetworkPart(Part):
    COLUMNS: ClassVar[dict[str, Col]] = price_columns(
        kind=Col("kind"),
        protocol=Col("protocol"),
        speed_gbit_s=Col("bytes_s", "float", 1e9 / 8),
        ports=Col("ports", "int"),
        pcie_gen=Col("pcie_gen", "int", required=False),
        pcie_lanes=Col("pcie_lanes", "int", required=False),
        power_w=Col("power_w", "float", required=False),
    )
    kind: Literal["nic", "switch"]
    protocol: NetProtocol
    bytes_s: PosFloat
    ports: PosInt
    pcie_gen: PosInt | None = None
    pcie_lanes: PosInt | None = None
    power_w: PosFloat | None = None


AccessoryKind = Literal["cpu_cooler", "rails", "nvlink_bridge", "motherboard"]


class Accessory(Part):
    """A bill-of-materials line around the main parts (data/accessories.csv): a CPU cooler for a tower or
    workstation socket, a rail kit for a rack chassis, the NVLink bridges a pair of bridge-capable cards relies on, or
    a motherboard for a platform row whose price covers the case only. `fits` names what it goes with: CPU sockets
    (coolers), chassis ids or `rack` (rails, motherboards), GPU ids (bridges); `per` is the units per CPU, chassis or
    GPU pair."""

    COLUMNS: ClassVar[dict[str, Col]] = price_columns(
        kind=Col("kind"),
        fits=Col("fits", "list"),
        per=Col("per", "int", required=False),
    )
    kind: AccessoryKind
    fits: tuple[str, ...]
    per: PosInt = 1


class FxRate(Base):
    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "name": Col("name"),
        "from_currency": Col("from_currency"),
        "to_currency": Col("to_currency"),
        "rate": Col("rate", "float"),
        "rate_date": Col("rate_date"),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }
    id: str
    name: str
    from_currency: str
    to_currency: str
    rate: PosFloat
    rate_date: str
    source: str
    notes: str | None = None


class Circuit(Base):
    """A wall circuit and what it may carry continuously (3 h or more)."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "label": Col("label"),
        "volts": Col("volts", "float"),
        "amps": Col("amps", "float"),
        "continuous_fraction": Col("continuous_fraction", "float"),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }
    id: str
    label: str
    volts: PosFloat
    amps: PosFloat
    continuous_fraction: Annotated[float, Field(gt=0, le=1)]
    source: str
    notes: str | None = None

    @property
    def continuous_w(self) -> float:
        return self.volts * self.amps * self.continuous_fraction
