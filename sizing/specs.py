"""Frozen pydantic models: the *what* (ModelSpec), the *how* (Workload, Engine, Precision), the *on what* (Gpu, ...)
and the answers (MemoryEstimate, SpeedEstimate, Estimate).

Every quantity is in base units and its name says which. Each catalog-backed model declares `COLUMNS`: the CSV
column, the field it fills, its type and the factor that converts the vendor unit to the base unit. `catalog` is the
only reader of files; this table is the only place where a vendor unit meets a base unit.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from .units import GB, GIB, MB, TB, TERA


class Base(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]


class Col(NamedTuple):
    """One CSV column: which field it fills, how to parse it, and the factor to base units."""

    field: str
    kind: Literal["str", "int", "float", "bool", "list"] = "str"
    scale: float = 1.0
    required: bool = True  # an empty cell is allowed when False


class SizingError(Exception):
    """A problem with the user's input or data: shown as one line, exit code 2."""


# --------------------------------------------------------------------------------------------------------- what
class ModelSpec(Base):
    """A transformer's shape, as its config.json states it. Parameter arithmetic lives here so the catalog can
    check a stated count against the shape (Kaplan et al. 2020 §2.1 per-layer counts, extended to GQA, gated MLPs,
    MoE and MLA as the Hugging Face modeling files define the projections)."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "name": Col("name"),
        "aliases": Col("aliases", "list", required=False),
        "family": Col("family"),
        "architecture": Col("architecture"),
        "hf_repo": Col("hf_repo", required=False),
        "params_b": Col("n_params", "float", 1e9),
        "active_params_b": Col("n_active_params", "float", 1e9, required=False),
        "n_layers": Col("n_layers", "int"),
        "hidden_size": Col("hidden_size", "int"),
        "n_heads": Col("n_heads", "int"),
        "n_kv_heads": Col("n_kv_heads", "int"),
        "head_dim": Col("head_dim", "int"),
        "ffn_size": Col("ffn_size", "int"),
        "gated_mlp": Col("gated_mlp", "bool"),
        "attn_bias": Col("attn_bias", "bool"),
        "mlp_bias": Col("mlp_bias", "bool"),
        "vocab_size": Col("vocab_size", "int"),
        "tied_embeddings": Col("tied_embeddings", "bool"),
        "max_context_tokens": Col("max_context_tokens", "int"),
        "n_learned_positions": Col("n_learned_positions", "int", required=False),
        "sliding_window_tokens": Col("sliding_window_tokens", "int", required=False),
        "n_sliding_layers": Col("n_sliding_layers", "int", required=False),
        "n_experts": Col("n_experts", "int", required=False),
        "n_active_experts": Col("n_active_experts", "int", required=False),
        "n_shared_experts": Col("n_shared_experts", "int", required=False),
        "expert_ffn_size": Col("expert_ffn_size", "int", required=False),
        "n_dense_layers": Col("n_dense_layers", "int", required=False),
        "kv_lora_rank": Col("kv_lora_rank", "int", required=False),
        "q_lora_rank": Col("q_lora_rank", "int", required=False),
        "qk_rope_head_dim": Col("qk_rope_head_dim", "int", required=False),
        "qk_nope_head_dim": Col("qk_nope_head_dim", "int", required=False),
        "v_head_dim": Col("v_head_dim", "int", required=False),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    family: str = "generic"
    architecture: str = "llama"
    hf_repo: str | None = None
    n_params: PosFloat
    n_active_params: PosFloat | None = None
    n_layers: PosInt
    hidden_size: PosInt
    n_heads: PosInt
    n_kv_heads: PosInt
    head_dim: PosInt
    ffn_size: PosInt
    gated_mlp: bool = True
    attn_bias: bool = False
    mlp_bias: bool = False
    vocab_size: PosInt
    tied_embeddings: bool = False
    max_context_tokens: PosInt
    n_learned_positions: NonNegInt | None = None
    sliding_window_tokens: PosInt | None = None
    n_sliding_layers: NonNegInt | None = None
    n_experts: NonNegInt | None = None
    n_active_experts: NonNegInt | None = None
    n_shared_experts: NonNegInt | None = None
    expert_ffn_size: NonNegInt | None = None
    n_dense_layers: NonNegInt | None = None
    kv_lora_rank: NonNegInt | None = None
    q_lora_rank: NonNegInt | None = None
    qk_rope_head_dim: NonNegInt | None = None
    qk_nope_head_dim: NonNegInt | None = None
    v_head_dim: NonNegInt | None = None
    source: str = ""
    notes: str | None = None
    assumed: str | None = None  # set when the shape is a generic stand-in, says what was assumed
    weight_bits_on_disk: float | None = None  # from safetensors headers, when read from a folder

    # -- shape arithmetic ------------------------------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return bool(self.n_experts)

    @property
    def is_mla(self) -> bool:
        return bool(self.kv_lora_rank)

    @property
    def n_moe_layers(self) -> int:
        return self.n_layers - (self.n_dense_layers or 0) if self.is_moe else 0

    @property
    def embed_params(self) -> int:
        return self.vocab_size * self.hidden_size + (self.n_learned_positions or 0) * self.hidden_size

    @property
    def lm_head_params(self) -> int:
        """Output projection; 0 when tied (it reuses the embedding matrix)."""
        return 0 if self.tied_embeddings else self.vocab_size * self.hidden_size

    @property
    def attn_params_per_layer(self) -> int:
        h, nh, nkv, hd = self.hidden_size, self.n_heads, self.n_kv_heads, self.head_dim
        if self.is_mla:  # DeepSeek-V2 paper §2.1.2, eq. 9-14: low-rank q and joint kv compression
            rope, nope, v = self.qk_rope_head_dim or 0, self.qk_nope_head_dim or 0, self.v_head_dim or 0
            r_kv, r_q = self.kv_lora_rank or 0, self.q_lora_rank or 0
            q = h * r_q + r_q * nh * (nope + rope) if r_q else h * nh * (nope + rope)
            kv = h * (r_kv + rope) + r_kv * nh * (nope + v)
            return q + kv + nh * v * h
        bias = (nh + 2 * nkv) * hd if self.attn_bias else 0
        return h * nh * hd + 2 * h * nkv * hd + nh * hd * h + bias

    @property
    def dense_mlp_params(self) -> int:
        n_mats = 3 if self.gated_mlp else 2
        bias = (self.ffn_size + self.hidden_size) if self.mlp_bias else 0
        return n_mats * self.hidden_size * self.ffn_size + bias

    @property
    def expert_params(self) -> int:
        """One routed expert: a gated MLP of expert_ffn_size (Mixtral, DeepSeekMoE, Qwen3-MoE)."""
        return 3 * self.hidden_size * (self.expert_ffn_size or 0)

    @property
    def norm_params_per_layer(self) -> int:
        return 2 * self.hidden_size

    def moe_layer_params(self, n_routed: int) -> int:
        """An MoE layer's MLP with `n_routed` routed experts present, plus shared experts and the router."""
        return (n_routed + (self.n_shared_experts or 0)) * self.expert_params + self.hidden_size * (self.n_experts or 0)

    @property
    def layer_params(self) -> int:
        """Average parameters of one transformer block (attention + MLP or MoE + norms)."""
        return round(self.linear_params / self.n_layers)

    @property
    def linear_params(self) -> int:
        """Everything a quantizer converts: all blocks, without embeddings and lm_head."""
        n_dense = self.n_layers - self.n_moe_layers
        per_block = self.attn_params_per_layer + self.norm_params_per_layer
        mlp = n_dense * self.dense_mlp_params + self.n_moe_layers * self.moe_layer_params(self.n_experts or 0)
        return self.n_layers * per_block + mlp

    @property
    def derived_params(self) -> int:
        return self.embed_params + self.lm_head_params + self.linear_params + self.hidden_size

    @property
    def derived_active_params(self) -> int:
        """Parameters touched per token: MoE layers count only the active routed experts."""
        if not self.is_moe:
            return self.derived_params
        unused = self.n_moe_layers * ((self.n_experts or 0) - (self.n_active_experts or 0)) * self.expert_params
        return self.derived_params - unused

    @property
    def n_kv_groups(self) -> int:
        return max(1, self.n_heads // self.n_kv_heads)


# --------------------------------------------------------------------------------------------------------- how
class Precision(Base):
    """A weight format and what it really costs: bits per weight including scales and zero points."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "name": Col("name"),
        "aliases": Col("aliases", "list", required=False),
        "family": Col("family"),
        "weight_bits": Col("weight_bits", "float", required=False),
        "embed_bits": Col("embed_bits", "float", required=False),
        "compute_dtype": Col("compute_dtype"),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    family: str
    weight_bits: PosFloat | None = None  # None only for templates such as exl2 (bits come from the id)
    embed_bits: PosFloat | None = None
    compute_dtype: str = "bf16"
    source: str = ""
    notes: str | None = None

    @property
    def is_quantized(self) -> bool:
        return self.family not in ("float",)


class Engine(Base):
    """A runtime profile: which formats it runs, how it splits a model, what memory it reserves."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "name": Col("name"),
        "aliases": Col("aliases", "list", required=False),
        "weight_families": Col("weight_families", "list"),
        "default_kv_precision": Col("default_kv_precision"),
        "split": Col("split"),
        "context_gib": Col("context_bytes", "float", GIB),
        "gpu_memory_utilization": Col("gpu_memory_utilization", "float", required=False),
        "prefill_chunk_tokens": Col("prefill_chunk_tokens", "int"),
        "pipeline_microbatches": Col("pipeline_microbatches", "int"),
        "act_hidden_tensors": Col("act_hidden_tensors", "float"),
        "act_ffn_tensors": Col("act_ffn_tensors", "float"),
        "all_prompt_logits": Col("all_prompt_logits", "bool"),
        "attn_scores_materialized": Col("attn_scores_materialized", "bool"),
        "mla_latent_cache": Col("mla_latent_cache", "bool"),
        "kv_gqa_expand": Col("kv_gqa_expand", "bool"),
        "fragmentation": Col("fragmentation", "float"),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    weight_families: tuple[str, ...]
    default_kv_precision: str
    split: Literal["layer", "tensor"]
    context_bytes: NonNegFloat
    gpu_memory_utilization: Fraction | None = None
    prefill_chunk_tokens: PosInt
    pipeline_microbatches: PosInt
    act_hidden_tensors: NonNegFloat
    act_ffn_tensors: NonNegFloat
    all_prompt_logits: bool
    attn_scores_materialized: bool
    mla_latent_cache: bool
    kv_gqa_expand: bool
    fragmentation: NonNegFloat
    source: str
    notes: str | None = None


class Efficiency(Base):
    """Fitted efficiency factors for one engine on one GPU class ('*' = any class). See benchmarks/calibrate.py."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "engine": Col("engine"),
        "gpu_class": Col("gpu_class"),
        "bw_eff": Col("bw_eff", "float"),
        "quant_bw_eff": Col("quant_bw_eff", "float"),
        "layer_overhead_us": Col("layer_overhead_s", "float", 1e-6),
        "kv_traffic": Col("kv_traffic", "float"),
        "mm_eff": Col("mm_eff", "float"),
        "quant_mm_eff": Col("quant_mm_eff", "float"),
        "attn_eff": Col("attn_eff", "float"),
        "n_rows": Col("n_rows", "int", required=False),
        "source": Col("source"),
    }

    engine: str
    gpu_class: str
    bw_eff: PosFloat
    quant_bw_eff: PosFloat
    layer_overhead_s: NonNegFloat
    kv_traffic: PosFloat
    mm_eff: PosFloat
    quant_mm_eff: PosFloat  # weight-only quantized GEMMs (dequantize on the fly) relative to mm_eff
    attn_eff: PosFloat
    n_rows: NonNegInt | None = None
    source: str


# ------------------------------------------------------------------------------------------------------ on what
class Gpu(Base):
    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "name": Col("name"),
        "aliases": Col("aliases", "list", required=False),
        "vendor": Col("vendor"),
        "arch": Col("arch"),
        "gpu_class": Col("gpu_class"),
        "memory_gib": Col("memory_bytes", "float", GIB),
        "mem_bw_gb_s": Col("mem_bw_bytes_s", "float", GB),
        "bf16_dense_tflops": Col("bf16_flops", "float", TERA),
        "fp16_dense_tflops": Col("fp16_flops", "float", TERA),
        "fp8_dense_tflops": Col("fp8_flops", "float", TERA, required=False),
        "int8_dense_tops": Col("int8_ops", "float", TERA, required=False),
        "fp32_tflops": Col("fp32_flops", "float", TERA, required=False),
        "tdp_w": Col("tdp_w", "float"),
        "form_factor": Col("form_factor"),
        "slot_width": Col("slot_width", "float", required=False),
        "cooling": Col("cooling"),
        "length_mm": Col("length_mm", "float", required=False),
        "power_connector": Col("power_connector", required=False),
        "pcie_gen": Col("pcie_gen", "int"),
        "pcie_lanes": Col("pcie_lanes", "int"),
        "nvlink": Col("nvlink"),
        "nvlink_gb_s": Col("nvlink_bytes_s", "float", GB, required=False),
        "p2p": Col("p2p"),
        "ecc": Col("ecc", "bool"),
        "price_usd": Col("price_usd", "float", required=False),
        "price_date": Col("price_date", required=False),
        "price_kind": Col("price_kind", required=False),
        "price_source": Col("price_source", required=False),
        "unconfirmed": Col("unconfirmed", "list", required=False),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    vendor: str
    arch: str
    gpu_class: str
    memory_bytes: PosFloat
    mem_bw_bytes_s: PosFloat
    bf16_flops: PosFloat
    fp16_flops: PosFloat
    fp8_flops: PosFloat | None = None
    int8_ops: PosFloat | None = None
    fp32_flops: PosFloat | None = None
    tdp_w: PosFloat
    form_factor: str
    slot_width: PosFloat | None = None
    cooling: str
    length_mm: PosFloat | None = None
    power_connector: str | None = None
    pcie_gen: PosInt
    pcie_lanes: PosInt
    nvlink: str
    nvlink_bytes_s: PosFloat | None = None
    p2p: str
    ecc: bool
    price_usd: PosFloat | None = None
    price_date: str | None = None
    price_kind: str | None = None
    price_source: str | None = None
    unconfirmed: tuple[str, ...] = ()
    source: str
    notes: str | None = None

    def peak_flops(self, compute_dtype: str) -> float:
        """Dense tensor peak for the dtype the matmuls run in (hardware.md §1b: FP32 accumulate)."""
        if compute_dtype == "fp8" and self.fp8_flops:
            return self.fp8_flops
        if compute_dtype == "int8" and self.int8_ops:
            return self.int8_ops
        if compute_dtype == "f32" and self.fp32_flops:
            return self.fp32_flops
        return self.fp16_flops if compute_dtype == "f16" else self.bf16_flops

    @property
    def has_p2p(self) -> bool:
        return self.p2p == "yes"


PRICE_COLUMNS: dict[str, Col] = {
    "price_usd": Col("price_usd", "float", required=False),
    "price_date": Col("price_date", required=False),
    "price_kind": Col("price_kind", required=False),
    "price_source": Col("price_source", required=False),
    "unconfirmed": Col("unconfirmed", "list", required=False),
    "source": Col("source"),
    "notes": Col("notes", required=False),
}


class Part(Base):
    """What every server part has: an id, a name, a dated price (or none: unconfirmed) and a source."""

    id: str
    name: str
    price_usd: PosFloat | None = None
    price_date: str | None = None
    price_kind: str | None = None
    price_source: str | None = None
    unconfirmed: tuple[str, ...] = ()
    source: str
    notes: str | None = None


def _columns(**specific: Col) -> dict[str, Col]:
    return {"id": Col("id"), "name": Col("name"), **specific, **PRICE_COLUMNS}


class Cpu(Part):
    COLUMNS: ClassVar[dict[str, Col]] = _columns(
        vendor=Col("vendor"), family=Col("family"), socket=Col("socket"), cores=Col("cores", "int"),
        threads=Col("threads", "int"), base_ghz=Col("base_ghz", "float"), boost_ghz=Col("boost_ghz", "float"),
        tdp_w=Col("tdp_w", "float"), pcie_lanes=Col("pcie_lanes", "int"), pcie_gen=Col("pcie_gen", "int"),
        memory_channels=Col("memory_channels", "int"), ddr_gen=Col("ddr_gen", "int"),
        max_memory_mt_s=Col("max_memory_mt_s", "int"), max_sockets=Col("max_sockets", "int"),
        ecc_rdimm=Col("ecc_rdimm", "bool"),
        max_memory_gb_per_socket=Col("max_memory_bytes_per_socket", "float", GIB, required=False),
    )
    vendor: str
    family: str
    socket: str
    cores: PosInt
    threads: PosInt
    base_ghz: PosFloat
    boost_ghz: PosFloat
    tdp_w: PosFloat
    pcie_lanes: PosInt
    pcie_gen: PosInt
    memory_channels: PosInt
    ddr_gen: PosInt
    max_memory_mt_s: PosInt
    max_sockets: PosInt
    ecc_rdimm: bool
    max_memory_bytes_per_socket: PosFloat | None = None


class Dimm(Part):
    COLUMNS: ClassVar[dict[str, Col]] = _columns(
        ddr_gen=Col("ddr_gen", "int"), speed_mt_s=Col("speed_mt_s", "int"),
        capacity_gb=Col("capacity_bytes", "float", GIB),  # DRAM module "GB" are binary
        module_type=Col("module_type"), ecc=Col("ecc", "bool"),
    )
    ddr_gen: PosInt
    speed_mt_s: PosInt
    capacity_bytes: PosFloat
    module_type: Literal["rdimm", "udimm"]
    ecc: bool


class Drive(Part):
    COLUMNS: ClassVar[dict[str, Col]] = _columns(
        interface=Col("interface"), media=Col("media"), capacity_tb=Col("capacity_bytes", "float", TB),
        seq_read_mb_s=Col("read_bytes_s", "float", MB), seq_write_mb_s=Col("write_bytes_s", "float", MB),
        form_factor=Col("form_factor"), enterprise=Col("enterprise", "bool"),
        role_hint=Col("role_hint", required=False),
    )
    interface: Literal["nvme-m2", "nvme-u2", "sata", "sas"]
    media: Literal["ssd", "hdd"]
    capacity_bytes: PosFloat
    read_bytes_s: PosFloat
    write_bytes_s: PosFloat
    form_factor: str
    enterprise: bool
    role_hint: str | None = None


class Psu(Part):
    COLUMNS: ClassVar[dict[str, Col]] = _columns(
        form=Col("form"), atx3=Col("atx3", "bool"), watts_continuous=Col("watts", "float"),
        watts_at_115v=Col("watts_at_115v", "float"), min_input_v=Col("min_input_v", "float"),
        efficiency_tier=Col("efficiency_tier"), n_12vhpwr=Col("n_12vhpwr", "int"),
        n_pcie_8pin=Col("n_pcie_8pin", "int"), n_eps_8pin=Col("n_eps_8pin", "int"), redundant=Col("redundant", "bool"),
    )
    form: Literal["atx", "crps"]
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
    COLUMNS: ClassVar[dict[str, Col]] = _columns(
        form_factor=Col("form_factor"), rack_units=Col("rack_units", "int", required=False),
        max_gpus=Col("max_gpus", "int"), max_gpu_slot_width=Col("max_gpu_slot_width", "float", required=False),
        gpu_form_factor=Col("gpu_form_factor"), open_air_ok=Col("open_air_ok", "bool"),
        max_gpu_length_mm=Col("max_gpu_length_mm", "float", required=False), psu_bays=Col("psu_bays", "int"),
        psu_form=Col("psu_form"), max_psu_w=Col("max_psu_w", "float"), redundant_psu=Col("redundant_psu", "bool"),
        cpu_sockets=Col("cpu_sockets", "int"), cpu_socket_type=Col("cpu_socket_type"),
        dimm_slots=Col("dimm_slots", "int"), drive_bays_2_5=Col("drive_bays_2_5", "int"),
        drive_bays_3_5=Col("drive_bays_3_5", "int"), m2_slots=Col("m2_slots", "int"),
        pcie_switch=Col("pcie_switch", "bool"), gpu_lanes_each=Col("gpu_lanes_each", "int"),
    )
    form_factor: Literal["tower", "workstation", "rack"]
    rack_units: PosInt | None = None
    max_gpus: PosInt
    max_gpu_slot_width: PosFloat | None = None
    gpu_form_factor: str
    open_air_ok: bool
    max_gpu_length_mm: PosFloat | None = None
    psu_bays: PosInt
    psu_form: Literal["atx", "crps"]
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


class NetworkPart(Part):
    COLUMNS: ClassVar[dict[str, Col]] = _columns(
        kind=Col("kind"), protocol=Col("protocol"), speed_gbit_s=Col("bytes_s", "float", 1e9 / 8),
        ports=Col("ports", "int"), pcie_gen=Col("pcie_gen", "int", required=False),
        pcie_lanes=Col("pcie_lanes", "int", required=False), power_w=Col("power_w", "float", required=False),
    )
    kind: Literal["nic", "switch"]
    protocol: str
    bytes_s: PosFloat
    ports: PosInt
    pcie_gen: PosInt | None = None
    pcie_lanes: PosInt | None = None
    power_w: PosFloat | None = None


class FxRate(Base):
    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"), "name": Col("name"), "from_currency": Col("from_currency"), "to_currency": Col("to_currency"),
        "rate": Col("rate", "float"), "rate_date": Col("rate_date"), "source": Col("source"),
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


# --------------------------------------------------------------------------------------------------- workload
Task = Literal["inference"]


class Workload(Base):
    """How the model is run. Token counts are per sequence; batch is the number of concurrent sequences."""

    task: Task = "inference"
    engine: str = "vllm"
    precision: str = "bf16"
    kv_precision: str | None = None  # None: the engine's default
    batch: PosInt = 1
    prompt_tokens: NonNegInt = 512
    new_tokens: NonNegInt = 512
    n_gpus: PosInt = 1  # per node
    n_nodes: PosInt = 1  # nodes join by pipeline (layers split across nodes), tensor parallel within a node
    node_link_bytes_s: PosFloat = 25e9  # per direction between nodes (200 Gb/s InfiniBand HDR)


# ---------------------------------------------------------------------------------------------------- answers
class MemoryBreakdown(Base):
    weights_bytes: NonNegFloat
    kv_cache_bytes: NonNegFloat
    activations_bytes: NonNegFloat
    gradients_bytes: NonNegFloat = 0.0
    optimizer_bytes: NonNegFloat = 0.0
    overhead_bytes: NonNegFloat

    @property
    def total_bytes(self) -> float:
        return (self.weights_bytes + self.kv_cache_bytes + self.activations_bytes + self.gradients_bytes
                + self.optimizer_bytes + self.overhead_bytes)


class MemoryEstimate(Base):
    per_gpu_bytes: NonNegFloat  # device peak, what nvidia-smi shows (the busiest GPU)
    need_per_gpu_bytes: NonNegFloat  # what the work needs on that GPU (below per_gpu_bytes when an engine pre-allocates)
    allocated_per_gpu_bytes: NonNegFloat  # allocator peak, torch.cuda.max_memory_allocated
    gpu_memory_bytes: PosFloat
    fits: bool
    breakdown: MemoryBreakdown  # of the busiest GPU; sums to per_gpu_bytes
    kv_bytes_per_token: NonNegFloat  # whole model, all layers
    max_batch_at_context: NonNegInt  # sequences of prompt+new tokens that fit beside the weights


class SpeedEstimate(Base):
    prefill_tokens_per_s: NonNegFloat
    decode_tokens_per_s: NonNegFloat  # per sequence, averaged while the cache grows
    decode_tokens_per_s_total: NonNegFloat  # summed over the batch
    e2e_tokens_per_s: NonNegFloat  # per sequence: new tokens / (prefill + decode time)
    time_to_first_token_s: NonNegFloat
    decode_bound: Literal["memory", "compute"]


class Estimate(Base):
    fits: bool
    model: ModelSpec
    gpu: Gpu
    engine: Engine
    precision: Precision
    kv_precision: Precision
    workload: Workload
    efficiency: Efficiency
    memory: MemoryEstimate
    speed: SpeedEstimate
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------------------ builds
class Circuit(Base):
    id: str
    label: str
    volts: PosFloat
    amps: PosFloat
    continuous_w: PosFloat  # what it may carry for 3 h or more


class Build(Base):
    """One composed server (or n_nodes identical ones): every part and its count."""

    gpu: Gpu
    n_gpus: PosInt  # per node
    n_nodes: PosInt = 1
    chassis: Chassis
    cpu: Cpu
    n_cpus: PosInt
    dimm: Dimm
    n_dimms: PosInt
    system_drive: Drive
    data_drive: Drive | None = None
    n_data_drives: NonNegInt = 0
    psu: Psu
    n_psus: PosInt
    nic: NetworkPart | None = None
    switch: NetworkPart | None = None
    circuit: Circuit
    gpu_lanes_each: PosInt  # PCIe lanes each GPU gets
    gpu_power_limit_w: PosFloat | None = None  # set when the circuit needs capped GPUs
    sustained_w: PosFloat  # DC load per node at full GPU power
    wall_w: PosFloat  # AC draw per node at the wall
    n_circuits: PosInt = 1  # circuits the node needs (rack servers spread their PSUs over feeds)
    max_circuits: PosInt = 1  # feeds the PSU set can spread over (one per active PSU; 1 for ATX)
    psu_capacity_w: PosFloat  # continuous DC the PSU set delivers at this input voltage (redundant units excluded)
    ram_need_bytes: PosFloat
    system_drive_need_bytes: PosFloat
    data_drive_need_bytes: NonNegFloat
    cores_need: PosInt
    lanes_need: PosInt

    @property
    def ram_bytes(self) -> float:
        return self.n_dimms * self.dimm.capacity_bytes

    @property
    def memory_speed_mt_s(self) -> int:
        return min(self.dimm.speed_mt_s, self.cpu.max_memory_mt_s)

    @property
    def cpu_lanes(self) -> int:
        """Usable lanes. 2-socket EPYC boards use half of each CPU's lanes for the socket link: 128 in all
        (hardware.md §2 notes, modelled conservatively)."""
        if self.cpu.vendor == "amd" and self.n_cpus == 2:
            return self.cpu.pcie_lanes
        return self.cpu.pcie_lanes * self.n_cpus


class Finding(Base):
    rule: str
    ok: bool
    need: float | str | None = None
    have: float | str | None = None
    message: str


class Line(Base):
    kind: str
    id: str
    name: str
    quantity: PosInt
    unit_price_usd: PosFloat | None = None
    price_date: str | None = None


class Option(Base):
    build: Build
    lines: tuple[Line, ...]
    total_price_usd: NonNegFloat  # sum of priced lines
    unpriced: tuple[str, ...]  # ids of parts without a dated price (total is a lower bound)
    estimate: Estimate
    findings: tuple[Finding, ...]
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)


class Rejection(Base):
    gpu: str
    n_gpus: PosInt
    n_nodes: PosInt = 1
    chassis: str
    findings: tuple[Finding, ...]  # the failed ones


class Recommendation(Base):
    request: dict
    workload: Workload
    model: ModelSpec
    options: tuple[Option, ...]  # ranked best first
    rejected: tuple[Rejection, ...]
    ways_out: tuple[str, ...] = ()  # when nothing fits: the cheapest changes that would
    currency: str = "USD"
    fx_rate: float = 1.0
    fx_date: str | None = None
    fx_source: str | None = None
