"""Step cost to seconds: bandwidth and peak times efficiency, the overlap of memory, compute and host time, and
what a GPU power cap does to compute."""

from __future__ import annotations

from functools import lru_cache

from sizing.specs import Efficiency, Engine, ModelSpec, Precision, System

OVERLAP_P = 4.0  # p of the p-norm that blends the three times: p = 1 would add them, p -> inf takes the maximum
# Compute throughput under a power cap ~ (cap / TDP)^a. Puget capped RTX 3090s from 350 W to 280 W (80%) and kept
# >95% of training throughput (hardware.md §3.2 [S53]): a = ln 0.95 / ln 0.8 = 0.23. DERIVED from that one point;
# memory clocks are not capped, so bandwidth-bound decode keeps its speed.
POWER_CAP_EXPONENT = 0.23


def weight_eff(eff: Efficiency, precision: Precision) -> float:
    """Weight-read efficiency: quantized formats dequantize on the fly and reach less of the bandwidth."""
    return eff.quant_bw_eff if precision.is_quantized else eff.bw_eff


def mm_eff(eff: Efficiency, precision: Precision) -> float:
    """Matmul efficiency: weight-only quantized GEMMs run at quant_mm_eff of the dense rate."""
    return eff.mm_eff * (eff.quant_mm_eff if precision.is_quantized else 1.0)


def power_factor(system: System) -> float:
    """Compute throughput left under the system's GPU power cap (1 without one)."""
    if not system.gpu_power_limit_w:
        return 1.0
    return min(1.0, system.gpu_power_limit_w / system.gpu.tdp_w) ** POWER_CAP_EXPONENT


def peak_flops(system: System, precision: Precision) -> float:
    """Dense tensor peak for the dtype the matmuls run in, under the power cap."""
    return system.gpu.peak_flops(precision.compute_dtype) * power_factor(system)


def synchronous_under_pp(engine: Engine, pp: int) -> bool:
    """Whether this release's scheduler stops overlapping the GPU at `pp` pipeline stages (engine_mechanics.csv
    pp_dispatch_us_per_kernel: SGLang with --pp-size > 1), so each step pays its synchronous dispatch."""
    return pp > 1 and engine.pp_dispatch_s_per_kernel is not None


def layer_overhead_s(engine: Engine, eff: Efficiency, precision: Precision | None = None, pp: int = 1) -> float:
    """Host and launch cost per layer per forward step. A measured engine keeps its fitted constant; an engine
    whose factors are borrowed (efficiency.csv copied_from) gets it from its own design instead of the other
    engine's: the kernels its decode path launches per layer x the dispatch cost of one launch for its kind of
    runtime (data/engine_mechanics.csv; eager Python, C++ runtime or CUDA graph replay), under pipeline parallel
    (`pp` stages) its pp_dispatch_us_per_kernel where the release has one (SGLang runs its scheduler in step with
    the GPU there: server_args.py _handle_pipeline_parallelism disables the overlap schedule). Either is the cost of
    a dense layer; quant_kernel_scale adds the launches of quantized linears."""
    if eff.copied_from and engine.kernels_per_layer and engine.dispatch_s_per_kernel is not None:
        dispatch = engine.dispatch_s_per_kernel
        if synchronous_under_pp(engine, pp):
            dispatch = engine.pp_dispatch_s_per_kernel or dispatch
        base = engine.kernels_per_layer * dispatch
    else:
        base = eff.layer_overhead_s
    return base * (quant_kernel_scale(engine, precision) if precision is not None else 1.0)


# Linear layers of one decoder layer in the HF modeling code (modeling_llama.py / modeling_qwen2.py: q_proj, k_proj,
# v_proj, o_proj, gate_proj, up_proj, down_proj, each its own module), the ones an eager engine's quantization
# library replaces with its QuantLinear.
HF_LINEARS_PER_LAYER = 7


@lru_cache(maxsize=256)  # pure in frozen inputs; the estimator asks once per decode sample and prefill
def quant_kernel_scale(engine: Engine, precision: Precision) -> float:
    """Kernels of a decode layer in this weight format over a dense layer's: each of the 7 linears launches the
    format's engine_mechanics.csv quant_linear_kernels count instead of 1 (1 for formats and engines without one:
    fused quantized GEMMs, or graph replay where launches cost nothing extra on the host)."""
    counts = dict(pair.split("=", 1) for pair in engine.quant_linear_kernels if "=" in pair)
    if precision.id not in counts or not engine.kernels_per_layer:
        return 1.0
    extra = HF_LINEARS_PER_LAYER * (float(counts[precision.id]) - 1)
    return 1 + extra / engine.kernels_per_layer


# Kernels one decoder layer launches per decode step, counted from the engines' model code (DERIVED, UNCONFIRMED
# against a profile). A fused Llama layer launches 10 (data/engine_mechanics.csv vllm/sglang rows). MLA in its
# absorbed decode form (DeepSeek-V2 report §2.1.2-3; sglang srt/models/deepseek_v2.py forward_absorb) runs q_a and
# kv_a projections with their own norms, q_b, the W_UK and W_UV batched matmuls and o: 6 more than one fused QKV and
# o. A routed MoE MLP (sglang/vLLM fused_moe: router GEMM, top-k selection, token-to-expert alignment, the gate/up
# and down expert GEMMs, the activation and the weighted sum over k) launches 7 where a dense MLP launches 3 (gate/up,
# activation, down); a shared expert adds its own 3 plus the add.
DENSE_LAYER_KERNELS = 10
MLA_EXTRA_KERNELS = 6
MOE_EXTRA_KERNELS = 4
SHARED_EXPERT_KERNELS = 4


def layer_kernel_scale(model: ModelSpec) -> float:
    """Mean kernels per layer of this model over a fused dense layer's: the per-layer host/launch cost is per kernel
    (layer_overhead_s), so MLA attention and routed MoE layers cost more of it than a Llama layer."""
    extra = MLA_EXTRA_KERNELS * model.n_layers if model.is_mla else 0
    if model.is_moe:
        shared = SHARED_EXPERT_KERNELS if model.n_shared_experts else 0
        extra += model.n_moe_layers * (MOE_EXTRA_KERNELS + shared)
    return 1 + extra / (DENSE_LAYER_KERNELS * model.n_layers)


def step_time(engine: Engine, t_mem: float, t_comp: float, t_fixed: float) -> float:
    """One forward step. The GPU's memory and compute times overlap (roofline: the larger wins). The fixed per-layer
    time is host-side in eager engines (Python and kernel launches run ahead of the GPU asynchronously, so it
    overlaps the GPU's work: a smooth p-norm maximum, as the overlap is partial) and GPU-side in graph-captured or
    C++ engines (small-kernel and synchronisation costs that add to the bandwidth time)."""
    if engine.host_bound:
        return (t_mem**OVERLAP_P + t_comp**OVERLAP_P + t_fixed**OVERLAP_P) ** (1 / OVERLAP_P)
    return max(t_mem, t_comp) + t_fixed
