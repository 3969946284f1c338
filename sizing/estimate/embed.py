"""Embedding and reranker servers (`--task embed`, the retrieval half of a RAG server): one forward pass per batch,
no decode and no KV cache kept after it. Memory is the weights plus one forward's transient tensors; speed is the
prefill's FLOPs (2 per active weight per token, plus attention) over the GPU's matmul rate at the engine's prefill
efficiency (inference.prefill), so sequences/s = tokens/s over the sequence length.
"""

from __future__ import annotations

from sizing.specs import (
    Efficiency,
    Estimate,
    Execution,
    MemoryBreakdown,
    MemoryEstimate,
    ModelSpec,
    SpeedEstimate,
    StepTime,
    System,
)

from . import bands, inference, shapes
from .engines import ACT_BYTES, usable_bytes
from .launch import launch_command
from .parallel import keeps_latent, shares, tensor_ways
from .roofline import peak_flops

IDLE = StepTime(total_s=0.0, weights_s=0.0, kv_s=0.0, compute_s=0.0, comm_s=0.0, host_s=0.0, bound="memory")


def forward_bytes(model: ModelSpec, execution: Execution) -> float:
    """Transient memory of one forward over the batch (per GPU): the engine's live hidden-width and MLP tensors for
    the tokens of a prefill chunk (engines.activation_bytes' counts, Korthikanti et al. 2022 Table 2: one layer
    live at a time), no vocabulary logits (the model pools a hidden state; a reranker scores one token per
    sequence), and the K/V the attention needs: a decoder engine writes every layer's K/V of the running sequences
    into its cache for the pass and frees it after; an encoder holds one layer's."""
    x, engine = execution, execution.engine
    tp = tensor_ways(x)
    tokens = min(x.batch * max(x.prompt_tokens, 1), max(engine.prefill_chunk_tokens, 1))
    hidden = engine.act_hidden_tensors * model.hidden_size
    ffn = engine.act_ffn_tensors * shapes.ffn_width_per_token(model) / tp
    act = tokens * (hidden + ffn) * ACT_BYTES
    kv_bits = shapes.kv_bits_of(x.kv_precision)
    per_seq = shapes.token_cache_bytes(model, keeps_latent(model, x), kv_bits, x.prompt_tokens)
    kv = x.batch * per_seq / (model.n_layers if model.bidirectional else 1)
    return act + kv / tp


def memory(model: ModelSpec, execution: Execution, system: System) -> MemoryEstimate:
    """Weights (at the parallel split's share) + one forward's tensors + the engine's context and slack; the
    breakdown's KV cache is zero (nothing stays after the pass)."""
    x, engine, gpu = execution, execution.engine, system.gpu
    lin, emb = shapes.weight_bytes(model, x.precision)
    share = shares(model, x, system)
    weights = lin * share.blocks + emb * share.embed
    act = forward_bytes(model, x)
    overhead = engine.context_bytes + engine.fragmentation * (weights + act)
    need = weights + act + overhead
    usable = usable_bytes(engine, gpu)
    per_seq = forward_bytes(model, x.model_copy(update={"batch": 1}))
    room = usable - (weights + overhead)
    return MemoryEstimate(
        per_gpu_bytes=need,
        need_per_gpu_bytes=need,
        usable_per_gpu_bytes=usable,
        allocated_per_gpu_bytes=weights + act,
        gpu_memory_bytes=gpu.memory_bytes,
        fits=need <= usable,
        breakdown=MemoryBreakdown(
            weights_bytes=weights, kv_cache_bytes=0.0, activations_bytes=act, overhead_bytes=overhead
        ),
        kv_bytes_per_token=0.0,
        max_batch_at_context=max(0, int(room // per_seq)) if room > 0 and per_seq > 0 else 0,
    )


def forward(model: ModelSpec, execution: Execution, system: System, eff: Efficiency) -> StepTime:
    """One forward over the batch: inference.prefill (dense FLOPs, causal attention, weight reads, launches and
    all-reduces); a bidirectional encoder attends to all P tokens from every position, P^2 per layer instead of
    the causal P^2/2 (shapes.prefill_attention_flops), so the other half is added at the attention efficiency."""
    step = inference.prefill(model, execution, system, eff)
    if not model.bidirectional or execution.prompt_tokens <= 0:
        return step
    x = execution
    extra = x.batch * shapes.prefill_attention_flops(model, x.prompt_tokens, keeps_latent(model, x))
    t_extra = extra / eff.attn_eff / peak_flops(system, x.precision) / tensor_ways(x)
    bound = "compute" if step.compute_s + t_extra > step.weights_s else "memory"
    return step.model_copy(
        update={"total_s": step.total_s + t_extra, "compute_s": step.compute_s + t_extra, "bound": bound}
    )


def estimate(model: ModelSpec, execution: Execution, system: System, eff: Efficiency) -> Estimate:
    x = execution
    mem = memory(model, x, system)
    said, legal = inference.notes(model, x, system)
    step = forward(model, x, system, eff)
    alone = forward(model, x.model_copy(update={"batch": 1}), system, eff) if x.batch > 1 else step
    t = step.total_s
    tokens_s = x.batch * x.prompt_tokens / t if t > 0 else 0.0
    speed = SpeedEstimate(
        prefill_tokens_per_s=tokens_s,
        decode_tokens_per_s=0.0,
        decode_tokens_per_s_total=0.0,
        e2e_tokens_per_s=0.0,
        time_to_first_token_s=t,
        time_to_first_token_one_user_s=alone.total_s,
        time_to_first_token_loaded_s=t,  # a request arriving at a busy server waits for the batch's pass
        decode_bound=step.bound,
        sequences_per_s=x.batch / t if t > 0 else 0.0,
    )
    found = Estimate(
        fits=mem.fits and legal,
        model=model,
        execution=x,
        system=system,
        efficiency=eff,
        memory=mem,
        speed=speed,
        decode_step=IDLE,
        prefill=step,
        notes=(*said, f"{model.name} embeds: one forward per batch ({model.pooling} pooling), no decode, no KV cache"),
        launch_command=launch_command(model, x),
    )
    return bands.apply(found)
