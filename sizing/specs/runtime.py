"""The runtime (how): weight formats, engines and the fitted efficiencies that turn peak rates into achieved ones."""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

from sizing.units import GIB

from .base import (
    Base,
    Col,
    ComputeDtype,
    EffFactor,
    FactorStatus,
    Fraction,
    GpuClass,
    GpuVendor,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    PrecisionFamily,
    Provenanced,
)
from .recipe import QuantRecipe


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
    family: PrecisionFamily
    weight_bits: PosFloat | None = None  # None only for templates such as exl2 (bits come from the id)
    embed_bits: PosFloat | None = None
    compute_dtype: ComputeDtype = "bf16"
    source: str = ""
    notes: str | None = None
    recipe: QuantRecipe | None = None  # per-tensor bits (data/quant_recipes.csv); the catalog sets it, never a CSV cell

    @property
    def is_quantized(self) -> bool:
        return self.family not in ("float",)


class EngineSupport(Base):
    """What one engine runs on one accelerator vendor (data/engine_support.csv): the precisions its kernels for that
    vendor take, or, for a vendor it has no kernels for (`*` = every such vendor), why. `note` is the finding's
    reason: the rule engine_support quotes it when it refuses a build."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "engine": Col("engine"),
        "gpu_vendor": Col("gpu_vendor"),
        "precisions": Col("precisions", "list", required=False),
        "note": Col("note"),
        "source": Col("source"),
    }

    engine: str
    gpu_vendor: GpuVendor | Literal["*"]  # "*": every vendor not in the engine's gpu_vendors
    precisions: tuple[str, ...] = ()  # precisions ids its kernels for this vendor take; empty: all it loads
    note: str
    source: str


class Engine(Base):
    """A runtime profile: which formats it runs, how it splits a model, what memory it reserves."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "name": Col("name"),
        "aliases": Col("aliases", "list", required=False),
        "weight_families": Col("weight_families", "list"),
        "default_for_families": Col("default_for_families", "list", required=False),
        "default_kv_precision": Col("default_kv_precision"),
        "gpu_vendors": Col("gpu_vendors", "list"),
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
        "kv_cache_concat": Col("kv_cache_concat", "bool", required=False),
        "host_bound": Col("host_bound", "bool"),
        "fragmentation": Col("fragmentation", "float"),
        "fit_like": Col("fit_like", required=False),
        "kv_precisions": Col("kv_precisions", "list", required=False),
        "offload_modes": Col("offload_modes", "list", required=False),
        "numa_replicate": Col("numa_replicate", "bool", required=False),
        "cpu_amx": Col("cpu_amx", "bool", required=False),
        "op_offload_tokens": Col("op_offload_tokens", "int", required=False),
        "expert_parallel": Col("expert_parallel", "bool", required=False),
        "dp_attention": Col("dp_attention", required=False),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    weight_families: tuple[PrecisionFamily, ...]
    default_for_families: tuple[PrecisionFamily, ...] = ()  # formats for which this is the engine when none is named
    default_kv_precision: str
    gpu_vendors: tuple[GpuVendor, ...]  # accelerator vendors its kernels run on (CUDA = nvidia, ROCm = amd, ...)
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
    kv_cache_concat: bool = False  # the K/V cache grows by concatenation: each decode step copies the whole cache
    host_bound: bool  # eager Python engine: per-layer host time overlaps the GPU's work instead of adding to it
    fragmentation: NonNegFloat
    fit_like: str | None = None  # engines id whose fitted efficiency factors this unmeasured engine borrows
    kv_precisions: tuple[str, ...] = ()  # KV-cache formats it offers (precisions ids); empty: the float formats
    # the host side (sizing/estimate/hybrid.py): where it can keep weights besides the GPU (layers, experts, cpu)
    offload_modes: tuple[Literal["layers", "experts", "cpu"], ...] = ()
    numa_replicate: bool = False  # copies the host weights to every NUMA node (each socket reads its own copy)
    cpu_amx: bool = False  # has AMX tile kernels for 8- and 16-bit host weights
    op_offload_tokens: PosInt | None = None  # from this batch on, host weights go to the GPU for the matmul
    expert_parallel: bool = False  # serves an MoE model with its routed experts split over GPUs (--ep)
    # runs attention data parallel over its GPUs (--dp-attention, estimate/dp_attention.py): "attention" replicates
    # the attention alone (SGLang DPA), "dense" every layer but the routed experts (vLLM's DP ranks of an MoE model)
    dp_attention: Literal["attention", "dense"] | None = None
    source: str
    notes: str | None = None
    # per-vendor limits and refusal reasons, attached by the catalog from data/engine_support.csv (not a column)
    vendor_support: tuple[EngineSupport, ...] = ()

    def support_on(self, vendor: str) -> EngineSupport | None:
        """The engine_support.csv row for this vendor: its own row, else the `*` row when the engine has no
        kernels for the vendor; None when the file says nothing."""
        own = next((s for s in self.vendor_support if s.gpu_vendor == vendor), None)
        if own is not None or vendor in self.gpu_vendors:
            return own
        return next((s for s in self.vendor_support if s.gpu_vendor == "*"), None)

    # the release whose defaults apply (data/engine_mechanics.csv; catalog.engine("llama.cpp@b3000")); None: no
    # mechanics rows for this engine. Not engines.csv columns: the catalog fills them from engine_mechanics.csv.
    version: str | None = None
    cuda_graphs: bool | None = None
    kernels_per_layer: PosInt | None = None
    dispatch_s_per_kernel: NonNegFloat | None = None
    # the dispatch cost when the engine runs pipeline parallel, where that differs (SGLang turns its overlap
    # scheduler off under --pp-size > 1); None: dispatch_s_per_kernel whatever the layout
    pp_dispatch_s_per_kernel: NonNegFloat | None = None
    # "precision=kernels" pairs: kernels one weight-only quantized linear launches in this release's eager decode
    # path (a dense linear launches 1); empty: quantized linears cost what dense ones do (fused or graph-captured)
    quant_linear_kernels: tuple[str, ...] = ()
    mechanics_unconfirmed: bool = False


class Efficiency(Provenanced):
    """Fitted efficiency factors for one engine on one GPU class ('*' = any class). See benchmarks/calibrate.py.

    `provenance` says per factor whether the data fitted it, it sits at a bound of the fit, or it stayed at its
    prior (the data did not move it); `copied_from` marks a row whose factors are another engine's (a guess)."""

    FACTORS: ClassVar[tuple[str, ...]] = get_args(EffFactor)

    COLUMNS: ClassVar[dict[str, Col]] = {
        "engine": Col("engine"),
        "gpu_class": Col("gpu_class"),
        "bw_eff": Col("bw_eff", "float"),
        "quant_bw_eff": Col("quant_bw_eff", "float"),
        "layer_overhead_us": Col("layer_overhead_s", "float", 1e-6),
        "kv_traffic": Col("kv_traffic", "float"),
        "mm_eff": Col("mm_eff", "float"),
        "quant_mm_eff": Col("quant_mm_eff", "float", required=False),
        "attn_eff": Col("attn_eff", "float"),
        "n_rows": Col("n_rows", "int", required=False),
        "version": Col("versions", "list", required=False),
        "copied_from": Col("copied_from", required=False),
        "provenance": Col("provenance", "list", required=False),
        "source": Col("source"),
    }

    engine: str
    gpu_class: Literal[GpuClass, "*"]
    bw_eff: PosFloat
    quant_bw_eff: PosFloat
    layer_overhead_s: NonNegFloat
    kv_traffic: PosFloat
    mm_eff: PosFloat
    quant_mm_eff: PosFloat = 1.0  # weight-only quantized GEMMs (dequantize on the fly) relative to mm_eff
    attn_eff: PosFloat
    n_rows: NonNegInt | None = None
    versions: tuple[str, ...] = ()  # engine versions the measurements name; () = unknown
    copied_from: str | None = None  # engines id whose factors these are (no measurements of this engine)
    provenance: tuple[tuple[EffFactor, FactorStatus], ...] = ()  # (factor, status) for every factor; () = unknown
    source: str
    band: tuple[ErrorBand, ...] = ()  # data/bands.csv rows for this engine and class (the catalog attaches them)

    def status(self, factor: str) -> str | None:
        """The factor's provenance status, None when the row does not say."""
        return next((status for name, status in self.provenance if name == factor), None)


BandMetric = Literal["decode", "prefill", "memory"]


class ErrorBand(Base):
    """How far the estimator's figure for one engine and GPU class has been from measurements it was not fitted on
    (data/bands.csv, written by `benchmarks/calibrate.py --cross-validate --write`): measured / estimated at the
    10th and 90th percentile of the held-out rows. `basis` says which cross-validation produced it: leave-one-gpu-out
    for a measured engine, leave-one-model-out (within the engine) for one measured on a single GPU, and
    leave-one-engine-out for one whose factors are borrowed (fit_like), which is wider."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "engine": Col("engine"),
        "gpu_class": Col("gpu_class"),
        "metric": Col("metric"),
        "lo_ratio": Col("lo_ratio", "float"),
        "hi_ratio": Col("hi_ratio", "float"),
        "median_ape_pct": Col("median_ape_pct", "float"),
        "n_rows": Col("n_rows", "int"),
        "basis": Col("basis"),
        "source": Col("source"),
    }

    id: str  # engine.class.metric (class 'any' for '*')
    engine: str
    gpu_class: Literal[GpuClass, "*"]
    metric: BandMetric
    lo_ratio: PosFloat  # <= 1: measured / estimated at the 10th percentile
    hi_ratio: PosFloat  # >= 1: at the 90th percentile
    median_ape_pct: NonNegFloat  # median absolute percentage error of the held-out rows
    n_rows: NonNegInt
    basis: Literal["leave-one-gpu-out", "leave-one-model-out", "leave-one-engine-out", "calibration"]
    source: str

    def around(self, value: float) -> tuple[float, float]:
        """[lo, hi] around an estimated figure; it always contains the figure."""
        return value * min(self.lo_ratio, 1.0), value * max(self.hi_ratio, 1.0)


class EngineMechanics(Base):
    """What one release of an engine does by default, from its documented design (data/engine_mechanics.csv): the
    first version with this behaviour, whether flash attention is on, the multi-GPU split it defaults to, whether
    decode runs in CUDA graphs, and the kernels its decode path launches per layer and what each launch costs on
    the host (eager Python dispatch, a C++ runtime, or a graph replay). `unconfirmed` marks figures read from the
    design rather than measured."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "id": Col("id"),
        "engine": Col("engine"),
        "version": Col("version"),
        "released": Col("released"),
        "flash_attn_default": Col("flash_attn_default", "bool"),
        "split_default": Col("split_default"),
        "cuda_graphs": Col("cuda_graphs", "bool"),
        "kernels_per_layer": Col("kernels_per_layer", "int"),
        "dispatch_us_per_kernel": Col("dispatch_s_per_kernel", "float", 1e-6),
        "pp_dispatch_us_per_kernel": Col("pp_dispatch_s_per_kernel", "float", 1e-6, required=False),
        "quant_linear_kernels": Col("quant_linear_kernels", "list", required=False),
        "source": Col("source"),
        "unconfirmed": Col("unconfirmed", "bool"),
    }

    id: str
    engine: str
    version: str  # the first release with this behaviour: llama.cpp bNNNN tags, vLLM 0.x.y
    released: str  # YYYY-MM(-DD)
    flash_attn_default: bool
    split_default: Literal["layer", "tensor", "row"]
    cuda_graphs: bool
    kernels_per_layer: PosInt
    dispatch_s_per_kernel: NonNegFloat
    pp_dispatch_s_per_kernel: NonNegFloat | None = None
    quant_linear_kernels: tuple[str, ...] = ()
    source: str
    unconfirmed: bool

    @property
    def version_key(self) -> tuple[int, ...]:
        return version_key(self.version)


def version_key(version: str) -> tuple[int, ...]:
    """A version as comparable numbers: 'b6325' -> (6325,), '0.6.3' -> (0, 6, 3), 'v1.0' -> (1, 0)."""
    import re

    return tuple(int(n) for n in re.findall(r"\d+", version)) or (0,)


SpeculativeMethod = Literal["mtp", "eagle", "draft-model"]


class Speculative(Base):
    """Speculative decoding: a cheap drafter proposes `n_draft` tokens, the model verifies them in one step and keeps
    each with probability `acceptance` (Leviathan et al. 2023). `draft_cost` is one draft token's time over one
    target decode step (c in the paper)."""

    method: SpeculativeMethod
    acceptance: Fraction
    n_draft: PosInt = 1
    draft_cost: NonNegFloat = 0.0
    draft_model: str | None = None  # draft-model: the drafter's Hugging Face repo (its catalog id where it has none)
    # draft-model: the drafter's weights and its K/V per token of context, at the target's weight format and KV
    # precision (MTP and EAGLE: one decoder block of the model, sizing.estimate.inference.memory derives them)
    draft_weight_bytes: NonNegFloat = 0.0
    draft_kv_bytes_per_token: NonNegFloat = 0.0
