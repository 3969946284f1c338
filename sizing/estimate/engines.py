"""Engine mechanics: what an engine's documented design (engines.csv) means for memory and for how a prefill is
cut into chunks and pipelined."""

from __future__ import annotations

import math

from sizing.specs import Engine, Execution, Gpu, ModelSpec

from .parallel import tensor_ways
from .shapes import ffn_width_per_token

ACT_BYTES = 2  # activations are bf16/fp16 (llama.cpp's f32 buffers are counted as two tensors in engines.csv)
LOGIT_BYTES = 4  # logits are upcast to fp32 (QLoRA paper §2 / transformers generate)
SCORE_BYTES = 4  # llama.cpp keeps KQ scores in f32 when flash attention is off
MEMORY_HEADROOM = 0.95  # engines that do not pre-allocate: leave 5% of the card for driver and allocator growth


def usable_bytes(engine: Engine, gpu: Gpu) -> float:
    """What the engine may use of the card: its pre-allocated fraction (vLLM gpu_memory_utilization), else 95%."""
    return gpu.memory_bytes * (engine.gpu_memory_utilization or MEMORY_HEADROOM)


def activation_bytes(model: ModelSpec, execution: Execution) -> float:
    """Peak transient memory of one forward pass over a prefill chunk (per GPU).
    Live tensors: a few hidden-width copies (residual, norm output, attention output) and the MLP's
    intermediate tensors (gate, up, product) for the chunk's tokens (Korthikanti et al. 2022 Table 2 counts,
    inference: only one layer's tensors live at a time), plus fp32 logits and, without flash attention,
    the KQ score matrix of one layer."""
    engine, x = execution.engine, execution
    n = tensor_ways(execution)
    prompt = max(x.prompt_tokens, 1)
    tokens = min(x.batch * prompt, max(engine.prefill_chunk_tokens, 1))
    hidden = engine.act_hidden_tensors * model.hidden_size
    ffn = engine.act_ffn_tensors * ffn_width_per_token(model) / n
    act = tokens * (hidden + ffn) * ACT_BYTES
    # the full-vocabulary logits are gathered on one rank (vLLM LogitsProcessor), so they are not divided by n
    logits = (tokens if engine.all_prompt_logits else x.batch) * model.vocab_size * LOGIT_BYTES
    scores = 0.0
    if engine.attn_scores_materialized:
        ubatch = min(prompt, engine.prefill_chunk_tokens)
        scores = model.n_heads / n * ubatch * (prompt + x.new_tokens) * SCORE_BYTES
    return act + logits + scores


# Cache-sizes of K/V bytes one decode step moves per layer, beyond the attention's single read of the cache, for
# the HF transformers decode path (transformers v4.45-4.46 modeling_qwen2.py / modeling_llama.py, read through public
# copies): DynamicCache.update grows the cache by torch.cat([old, new]) (a read and a write of the whole cache: 2);
# repeat_kv expands K and V to one copy per query head before the attention call, even in the flash_attention_2
# class (a read of the cache and G writes), and the attention then reads the G copies (G reads, not 1).
CONCAT_PASSES = 2


def kv_passes(model: ModelSpec, engine: Engine) -> float:
    """Cache-sizes of K/V traffic per decode step (per layer, over that layer's cache): 1 for an attention kernel
    that reads the cache in place; 1 + 2G with repeat_kv (G = query heads per K/V head: read once, write G copies,
    the attention reads them); + 2 when the cache grows by concatenation (engines.csv kv_cache_concat)."""
    groups = model.n_kv_groups if engine.kv_gqa_expand else 0
    return 1 + 2 * groups + (CONCAT_PASSES if engine.kv_cache_concat else 0)


def prefill_chunks(engine: Engine, tokens: int) -> tuple[int, int]:
    """(number of chunks, tokens per chunk) the engine splits a prefill of `tokens` into."""
    return math.ceil(tokens / engine.prefill_chunk_tokens), min(tokens, engine.prefill_chunk_tokens)


def logit_tokens(engine: Engine, batch: int, tokens: int) -> int:
    """Tokens whose logits a prefill computes: every prompt token (llama-bench) or the last one per sequence."""
    return tokens if engine.all_prompt_logits else batch


def pipeline_factor(tokens: int, ubatch: int, microbatches: int, n_gpus: int) -> float:
    """Pipelined time over single-GPU time for layer split: groups of up to m micro-batches flow through p
    stages in (k + p - 1) stage-times of 1/p each (GPipe, Huang et al. 2019, bubble (p-1)/(k+p-1); llama.cpp
    PR #6017)."""
    n_ub = math.ceil(tokens / ubatch)
    full, rest = divmod(n_ub, microbatches)  # `full` groups of m, then one of `rest`: closed form, no list of groups
    stage_times = full * (microbatches + n_gpus - 1) + (rest + n_gpus - 1 if rest else 0)
    return stage_times / n_gpus / n_ub
