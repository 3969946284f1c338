"""Pure estimators for inference: memory per GPU and prefill/decode speed.

Physics first: bytes stored, bytes moved and FLOPs counted from the model's shape; a few efficiency factors per
engine and GPU class (data/efficiency.csv, fitted by benchmarks/calibrate.py) turn peaks into achieved rates.
Every formula names its source.
"""

from __future__ import annotations

import math

from .specs import (
    Efficiency,
    Engine,
    Estimate,
    Gpu,
    MemoryBreakdown,
    MemoryEstimate,
    ModelSpec,
    Precision,
    SpeedEstimate,
    Workload,
)

ACT_BYTES = 2  # activations are bf16/fp16 (llama.cpp's f32 buffers are counted as two tensors in engines.csv)
LOGIT_BYTES = 4  # logits are upcast to fp32 (QLoRA paper §2 / transformers generate)
SCORE_BYTES = 4  # llama.cpp keeps KQ scores in f32 when flash attention is off
DECODE_SAMPLES = 8  # midpoint rule over the growing cache; t(c) is piecewise linear in c

# Interconnect constants (hardware.md §3.4 for PCIe bandwidth per direction; NVLink from the GPU rows).
# All-reduce latencies are the small-message latencies nccl-tests reports (~10 us NVLink, ~20 us PCIe P2P, ~40 us
# through host memory without P2P); DERIVED order of magnitude, consistent with gpt-fast's A100 TP rows.
PCIE_BYTES_S = {3: 15.75e9, 4: 31.5e9, 5: 63e9}
MEMORY_HEADROOM = 0.95  # engines that do not pre-allocate: leave 5% of the card for driver and allocator growth
ALLREDUCE_LATENCY_S = {"nvlink": 10e-6, "p2p": 20e-6, "host": 40e-6}
NODE_HOP_LATENCY_S = 5e-6  # one InfiniBand send/recv between pipeline stages (order of magnitude, DERIVED)


# ------------------------------------------------------------------------------------------------ memory parts
def bits_of(precision: Precision) -> tuple[float, float]:
    """(bits per block weight, bits per embedding/head weight). Quantizers convert the blocks; GPTQ/AWQ/bnb keep
    embeddings and lm_head in 16 bit (embed_bits), GGUF mixes fold them into the whole-model bits per weight."""
    bits = precision.weight_bits or 16.0
    return bits, precision.embed_bits or bits


def weight_bytes(model: ModelSpec, precision: Precision) -> tuple[float, float]:
    """(block weights, embedding + lm_head) in bytes."""
    bits, embed_bits = bits_of(precision)
    return model.linear_params * bits / 8, (model.embed_params + model.lm_head_params) * embed_bits / 8


def layer_tokens(model: ModelSpec, tokens: float) -> float:
    """Sum over layers of the tokens each layer attends to or caches: sliding-window layers stop at the window."""
    n_sliding = min(model.n_sliding_layers or 0, model.n_layers) if model.sliding_window_tokens else 0
    window = min(tokens, model.sliding_window_tokens or tokens)
    return (model.n_layers - n_sliding) * tokens + n_sliding * window


def kv_elems_per_token_layer(model: ModelSpec, engine: Engine) -> float:
    """Cache elements one token adds to one layer.
    GQA: K and V of n_kv_heads x head_dim (vLLM KV-cache spec; hardware.md §4.4).
    MLA: one latent of kv_lora_rank + rope dims (DeepSeek-V2 paper §2.1.2) where the engine keeps the latent;
    engines without MLA kernels cache the decompressed K (nope+rope) and V per head."""
    if model.is_mla:
        if engine.mla_latent_cache:
            return (model.kv_lora_rank or 0) + (model.qk_rope_head_dim or 0)
        return model.n_heads * ((model.qk_nope_head_dim or 0) + (model.qk_rope_head_dim or 0) + (model.v_head_dim or 0))
    return 2 * model.n_kv_heads * model.head_dim


def kv_cache_bytes(model: ModelSpec, engine: Engine, kv_bits: float, tokens: float) -> float:
    """Cache of one sequence holding `tokens` tokens; sliding-window layers keep at most the window."""
    return kv_elems_per_token_layer(model, engine) * kv_bits / 8 * layer_tokens(model, tokens)


def ffn_width_per_token(model: ModelSpec) -> int:
    """Intermediate activations one token produces in the MLP: routed tokens go to k experts (+ shared ones)."""
    if model.is_moe:
        return (model.expert_ffn_size or 0) * ((model.n_active_experts or 0) + (model.n_shared_experts or 0))
    return model.ffn_size


def activation_bytes(model: ModelSpec, engine: Engine, w: Workload) -> float:
    """Peak transient memory of one forward pass over a prefill chunk (per GPU).
    Live tensors: a few hidden-width copies (residual, norm output, attention output) and the MLP's
    intermediate tensors (gate, up, product) for the chunk's tokens (Korthikanti et al. 2022 Table 2 counts,
    inference: only one layer's tensors live at a time), plus fp32 logits and, without flash attention,
    the KQ score matrix of one layer."""
    n = w.n_gpus if engine.split == "tensor" else 1
    prompt = max(w.prompt_tokens, 1)
    tokens = min(w.batch * prompt, max(engine.prefill_chunk_tokens, 1))
    hidden = engine.act_hidden_tensors * model.hidden_size
    ffn = engine.act_ffn_tensors * ffn_width_per_token(model) / n
    act = tokens * (hidden + ffn) * ACT_BYTES
    # the full-vocabulary logits are gathered on one rank (vLLM LogitsProcessor), so they are not divided by n
    logits = (tokens if engine.all_prompt_logits else w.batch) * model.vocab_size * LOGIT_BYTES
    scores = 0.0
    if engine.attn_scores_materialized:
        ubatch = min(prompt, engine.prefill_chunk_tokens)
        scores = model.n_heads / n * ubatch * (prompt + w.new_tokens) * SCORE_BYTES
    return act + logits + scores


def kv_bits_of(kv_precision: Precision) -> float:
    return kv_precision.weight_bits or 16.0


def per_gpu_shares(model: ModelSpec, engine: Engine, n_gpus: int) -> tuple[float, float, float]:
    """Fractions of (block weights, embedding+head, KV cache) held by the busiest GPU.
    Tensor parallel (Megatron-LM, Shoeybi et al. 2019): every matrix split n ways, vocab-parallel embeddings;
    KV heads split, replicated when n exceeds the KV heads; an MLA latent has no head axis and is replicated.
    Layer split (llama.cpp --split-mode layer, accelerate device_map): whole layers per GPU, the first GPU
    holds the embedding and the last the head; the busiest holds ceil(L/n) layers."""
    if n_gpus == 1:
        return 1.0, 1.0, 1.0
    if engine.split == "tensor":
        if model.is_mla and engine.mla_latent_cache:
            kv_share = 1.0
        else:  # each GPU holds ceil(n_kv / n) KV heads, at least one (replicated when n > n_kv)
            kv_share = max(1, math.ceil(model.n_kv_heads / n_gpus)) / model.n_kv_heads
        return 1 / n_gpus, 1 / n_gpus, kv_share
    layers = math.ceil(model.n_layers / n_gpus) / model.n_layers
    head_share = 1.0 if model.tied_embeddings else 0.5
    return layers, head_share, layers


def memory(model: ModelSpec, gpu: Gpu, engine: Engine, precision: Precision, kv_precision: Precision,
           w: Workload) -> MemoryEstimate:
    """Memory of the busiest GPU. Allocator peak = weights + KV cache for prompt+new tokens of every sequence +
    prefill activations; device peak adds the CUDA context and allocator slack (measured.md: ~0.3-0.5 GiB that
    max_memory_allocated does not see). Engines that pre-allocate (vLLM gpu_memory_utilization) show that
    fraction of the card, the surplus being their KV pool."""
    lin, emb = weight_bytes(model, precision)
    lin_share, emb_share, kv_share = per_gpu_shares(model, engine, w.n_gpus)
    if w.n_nodes > 1:  # pipeline across nodes: whole layers per node; first node embeds, last holds the head
        node_layers = math.ceil(model.n_layers / w.n_nodes) / model.n_layers
        lin_share, kv_share = lin_share * node_layers, kv_share * node_layers
        emb_share *= 1.0 if model.tied_embeddings else 0.5
    weights = lin * lin_share + emb * emb_share
    kv_bits = kv_bits_of(kv_precision)
    kv_seq = kv_cache_bytes(model, engine, kv_bits, w.prompt_tokens + w.new_tokens)
    kv = w.batch * kv_seq * kv_share
    act = activation_bytes(model, engine, w)
    allocated = weights + kv + act
    overhead = engine.context_bytes + engine.fragmentation * allocated
    need = allocated + overhead
    usable = gpu.memory_bytes * (engine.gpu_memory_utilization or MEMORY_HEADROOM)
    fits = need <= usable
    kv_reported = kv
    if engine.gpu_memory_utilization and fits:
        kv_reported = kv + (usable - need)  # the pre-allocated KV pool
    per_gpu = weights + kv_reported + act + overhead
    room = usable - (weights + act + overhead)
    max_batch = int(room // (kv_seq * kv_share)) if room > 0 and kv_seq > 0 else 0
    return MemoryEstimate(
        per_gpu_bytes=per_gpu, need_per_gpu_bytes=need, usable_per_gpu_bytes=usable,
        allocated_per_gpu_bytes=weights + kv_reported + act, gpu_memory_bytes=gpu.memory_bytes, fits=fits, breakdown=MemoryBreakdown(weights_bytes=weights, kv_cache_bytes=kv_reported,
                                             activations_bytes=act, overhead_bytes=overhead),
        kv_bytes_per_token=kv_cache_bytes(model, engine, kv_bits, 1.0), max_batch_at_context=max(0, max_batch),
    )


# ------------------------------------------------------------------------------------------------------ speed
def link_name(gpu: Gpu, n_gpus: int) -> str:
    if gpu.nvlink == "nvlink":
        return "NVLink"
    if gpu.nvlink == "bridge" and n_gpus == 2:
        return "an NVLink bridge (one per pair, not in the bill of materials)"
    return "PCIe peer-to-peer" if gpu.has_p2p else "host memory (no P2P on this card)"


def tp_problem(model: ModelSpec, n_gpus: int) -> str | None:
    """Why `n_gpus`-way tensor parallel cannot split this model evenly, or None (vLLM/Megatron-LM start-up checks:
    query heads divisible by n; KV heads divisible by n or n divisible by KV heads)."""
    if n_gpus == 1:
        return None
    if model.n_heads % n_gpus:
        return (f"{n_gpus}-way tensor parallel needs the {model.n_heads} attention heads divisible by {n_gpus}; "
                "use a GPU count that divides them")
    if not model.is_mla and model.n_kv_heads % n_gpus and n_gpus % model.n_kv_heads:
        return f"{n_gpus}-way tensor parallel cannot split or replicate {model.n_kv_heads} KV heads evenly"
    return None


def link(gpu: Gpu, n_gpus: int) -> tuple[float, float]:
    """(bytes/s per direction, latency) between GPUs. NVLink on SXM boards; a bridge joins pairs only; else PCIe
    with P2P, or through host memory where P2P is off (GeForce: hardware.md §0, halves throughput)."""
    if link_name(gpu, n_gpus).startswith(("NVLink", "an NVLink")):
        bw = (gpu.nvlink_bytes_s or 2 * PCIE_BYTES_S.get(gpu.pcie_gen, 31.5e9)) / 2
        return bw, ALLREDUCE_LATENCY_S["nvlink"]
    pcie = PCIE_BYTES_S.get(gpu.pcie_gen, 31.5e9) * gpu.pcie_lanes / 16
    if gpu.has_p2p:
        return pcie, ALLREDUCE_LATENCY_S["p2p"]
    return pcie / 2, ALLREDUCE_LATENCY_S["host"]


def allreduce_s(gpu: Gpu, n_gpus: int, message_bytes: float) -> float:
    """Ring all-reduce: latency + 2(n-1)/n x message / link bandwidth (Patarasuk & Yuan 2009; NCCL docs)."""
    if n_gpus <= 1:
        return 0.0
    bw, latency = link(gpu, n_gpus)
    return latency + 2 * (n_gpus - 1) / n_gpus * message_bytes / bw


def experts_touched(model: ModelSpec, batch: float) -> float:
    """Expected distinct routed experts a step reads per MoE layer: E(1 - (1 - k/E)^B) under uniform routing."""
    e, k = model.n_experts or 0, model.n_active_experts or 0
    if not e:
        return 0.0
    return e * (1 - (1 - k / e) ** batch)


def decode_weight_bytes(model: ModelSpec, precision: Precision, batch: float) -> float:
    """Weights one decode step reads: every block weight (MoE: attention, dense layers, shared and touched
    experts) plus the output head; the embedding lookup reads only a few rows."""
    bits, embed_bits = bits_of(precision)
    linear = model.linear_params
    if model.is_moe:
        linear -= model.n_moe_layers * ((model.n_experts or 0) - experts_touched(model, batch)) * model.expert_params
    return linear * bits / 8 + model.vocab_size * model.hidden_size * embed_bits / 8


def active_matmul_params(model: ModelSpec) -> float:
    """Weights each token multiplies through (2 FLOPs each, Kaplan et al. 2020): blocks with only the active
    experts, plus the output head."""
    active_blocks = model.derived_active_params - model.embed_params - model.lm_head_params
    return active_blocks + model.vocab_size * model.hidden_size


def attention_flops_per_token(model: ModelSpec, context: float, engine: Engine | None = None) -> float:
    """QK^T and AV for one new token against `context` cached tokens: 2*n_heads*(d_qk + d_v)*ctx per layer
    (kipply's inference arithmetic). MLA: the expanded form uses the nope+rope query and v_head dims; engines that
    keep the latent run the absorbed form, QK over kv_lora_rank+rope and AV over kv_lora_rank (DeepSeek-V2 §2.1.3)."""
    if model.is_mla and engine is not None and engine.mla_latent_cache:
        dims = 2 * (model.kv_lora_rank or 0) + (model.qk_rope_head_dim or 0)
    elif model.is_mla:
        dims = (model.qk_nope_head_dim or 0) + (model.qk_rope_head_dim or 0) + (model.v_head_dim or 0)
    else:
        dims = 2 * model.head_dim
    return 2 * model.n_heads * dims * layer_tokens(model, context)


def prefill_attention_flops(model: ModelSpec, prompt: float, engine: Engine | None = None) -> float:
    """Causal attention over a prompt: the per-token cost summed over positions 0..P, i.e. the cost at context P
    with every layer's attended tokens integrated: full layers P^2/2, sliding layers P*w - w^2/2 (P > w)."""
    if prompt <= 0:
        return 0.0
    per_token_per_ctx = attention_flops_per_token(model, 1.0, engine) / model.n_layers  # one layer, one token
    n_sliding = min(model.n_sliding_layers or 0, model.n_layers) if model.sliding_window_tokens else 0
    window = model.sliding_window_tokens or prompt
    sliding = prompt * window - window**2 / 2 if prompt > window else prompt**2 / 2
    return per_token_per_ctx * ((model.n_layers - n_sliding) * prompt**2 / 2 + n_sliding * sliding)


def weight_eff(eff: Efficiency, precision: Precision) -> float:
    return eff.quant_bw_eff if precision.is_quantized else eff.bw_eff


def decode_step_s(model: ModelSpec, gpu: Gpu, engine: Engine, precision: Precision, kv_precision: Precision,
                  eff: Efficiency, batch: int, n_gpus: int, context_tokens: float, n_nodes: int = 1,
                  node_link_bytes_s: float = 25e9) -> tuple[float, bool]:
    """One decode step for `batch` sequences at cache depth `context`: the slower of reading the bytes
    (roofline: bytes / (bandwidth x efficiency), hardware.md §4.5) and doing the FLOPs, plus a fixed per-layer
    launch/scheduling cost and, for tensor parallel, two all-reduces per layer (Megatron-LM). Layer split
    reads every GPU's share one after another, so it adds no speed (measured.md on llama.cpp)."""
    tp = n_gpus if engine.split == "tensor" else 1
    _, _, kv_share = per_gpu_shares(model, engine, n_gpus) if tp > 1 else (1.0, 1.0, 1.0)
    bw = gpu.mem_bw_bytes_s
    w_bytes = decode_weight_bytes(model, precision, batch) / tp
    kv_read = batch * kv_cache_bytes(model, engine, kv_bits_of(kv_precision), context_tokens) * kv_share
    kv_read *= eff.kv_traffic * (model.n_kv_groups if engine.kv_gqa_expand else 1)
    t_mem = w_bytes / (bw * weight_eff(eff, precision)) + kv_read / (bw * eff.bw_eff)
    flops = batch * (2 * active_matmul_params(model) + attention_flops_per_token(model, context_tokens, engine)) / tp
    t_comp = flops / (gpu.peak_flops(precision.compute_dtype) * eff.mm_eff)
    comm = 2 * model.n_layers * allreduce_s(gpu, tp, batch * model.hidden_size * ACT_BYTES) if tp > 1 else 0.0
    if engine.split == "layer" and n_gpus > 1:  # activations hop GPU to GPU once per step
        bw_link, latency = link(gpu, n_gpus)
        comm = (n_gpus - 1) * (latency + batch * model.hidden_size * ACT_BYTES / bw_link)
    comm += node_hops_s(n_nodes=n_nodes, message_bytes=batch * model.hidden_size * ACT_BYTES,
                        link_bytes_s=node_link_bytes_s)
    return step_time(engine, t_mem, t_comp, model.n_layers * eff.layer_overhead_s) + comm, t_comp > t_mem


OVERLAP_P = 4.0  # p of the p-norm that blends the three times: p = 1 would add them, p -> inf takes the maximum


def step_time(engine: Engine, t_mem: float, t_comp: float, t_fixed: float) -> float:
    """One forward step. The GPU's memory and compute times overlap (roofline: the larger wins). The fixed per-layer
    time is host-side in eager engines (Python and kernel launches run ahead of the GPU asynchronously, so it
    overlaps the GPU's work: a smooth p-norm maximum, as the overlap is partial) and GPU-side in graph-captured or
    C++ engines (small-kernel and synchronisation costs that add to the bandwidth time)."""
    if engine.host_bound:
        return (t_mem**OVERLAP_P + t_comp**OVERLAP_P + t_fixed**OVERLAP_P) ** (1 / OVERLAP_P)
    return max(t_mem, t_comp) + t_fixed


def node_hops_s(n_nodes: int, message_bytes: float, link_bytes_s: float) -> float:
    """Pipeline stages on separate nodes pass activations along: one hop per extra node."""
    return (n_nodes - 1) * (NODE_HOP_LATENCY_S + message_bytes / link_bytes_s) if n_nodes > 1 else 0.0


def prefill_chunks(engine: Engine, tokens: int) -> tuple[int, int]:
    """(number of chunks, tokens per chunk) the engine splits a prefill of `tokens` into."""
    return math.ceil(tokens / engine.prefill_chunk_tokens), min(tokens, engine.prefill_chunk_tokens)


def prefill_s(model: ModelSpec, gpu: Gpu, engine: Engine, precision: Precision, eff: Efficiency,
              batch: int, prompt: int, n_gpus: int) -> float:
    """Time to process `batch` prompts of `prompt` tokens: dense matmul FLOPs (2 per weight per token) and causal
    attention FLOPs over peak x efficiency, never faster than reading the weights once per chunk; tensor
    parallel divides the work and adds two all-reduces per layer per chunk; layer split with micro-batches
    pipelines them across GPUs (llama.cpp PR #6017): a group of k micro-batches on p GPUs takes
    (k + p - 1)/p of one GPU's time per micro-batch."""
    if prompt <= 0:
        return 0.0
    tokens = batch * prompt
    tp = n_gpus if engine.split == "tensor" else 1
    n_chunks, chunk = prefill_chunks(engine, tokens)
    peak = gpu.peak_flops(precision.compute_dtype)
    logit_tokens = tokens if engine.all_prompt_logits else batch
    mm = 2 * (active_matmul_params(model) - model.vocab_size * model.hidden_size) * tokens
    mm += 2 * model.vocab_size * model.hidden_size * logit_tokens
    attn = batch * prefill_attention_flops(model, prompt, engine)
    mm_eff = eff.mm_eff * (eff.quant_mm_eff if precision.is_quantized else 1.0)
    t_comp = (mm / mm_eff + attn / eff.attn_eff) / peak / tp
    w_bytes = decode_weight_bytes(model, precision, tokens) / tp
    t_mem = n_chunks * w_bytes / (gpu.mem_bw_bytes_s * weight_eff(eff, precision))
    t = step_time(engine, t_mem, t_comp, n_chunks * model.n_layers * eff.layer_overhead_s)
    if tp > 1:
        t += n_chunks * 2 * model.n_layers * allreduce_s(gpu, tp, chunk * model.hidden_size * ACT_BYTES)
    elif n_gpus > 1:
        t *= pipeline_factor(tokens, engine.prefill_chunk_tokens, engine.pipeline_microbatches, n_gpus)
    return t


def pipeline_factor(tokens: int, ubatch: int, microbatches: int, n_gpus: int) -> float:
    """Pipelined time over single-GPU time for layer split: groups of up to m micro-batches flow through p
    stages in (k + p - 1) stage-times of 1/p each (GPipe, Huang et al. 2019, bubble (p-1)/(k+p-1))."""
    n_ub = math.ceil(tokens / ubatch)
    full, rest = divmod(n_ub, microbatches)
    groups = [microbatches] * full + ([rest] if rest else [])
    return sum((k + n_gpus - 1) / n_gpus for k in groups) / n_ub


def speed(model: ModelSpec, gpu: Gpu, engine: Engine, precision: Precision, kv_precision: Precision,
          w: Workload, eff: Efficiency) -> SpeedEstimate:
    t_prefill = prefill_s(model, gpu, engine, precision, eff, w.batch, w.prompt_tokens, w.n_gpus)
    if t_prefill > 0:
        chunks, chunk = prefill_chunks(engine, w.batch * w.prompt_tokens)
        t_prefill += chunks * node_hops_s(w.n_nodes, chunk * model.hidden_size * ACT_BYTES, w.node_link_bytes_s)
    steps = max(w.new_tokens, 1)
    t_decode, compute_bound = 0.0, 0
    for i in range(DECODE_SAMPLES):
        context = w.prompt_tokens + (i + 0.5) * steps / DECODE_SAMPLES
        t, bound = decode_step_s(model, gpu, engine, precision, kv_precision, eff, w.batch, w.n_gpus, context,
                                 w.n_nodes, w.node_link_bytes_s)
        t_decode += t * steps / DECODE_SAMPLES
        compute_bound += bound
    decode_rate = steps / t_decode
    ttft = t_prefill if w.prompt_tokens > 0 else t_decode / steps
    e2e = w.new_tokens / (t_prefill + t_decode) if w.new_tokens else 0.0
    return SpeedEstimate(
        prefill_tokens_per_s=w.batch * w.prompt_tokens / t_prefill if t_prefill > 0 else 0.0,
        decode_tokens_per_s=decode_rate, decode_tokens_per_s_total=decode_rate * w.batch,
        e2e_tokens_per_s=e2e, time_to_first_token_s=ttft,
        decode_bound="compute" if compute_bound * 2 > DECODE_SAMPLES else "memory",
    )


def estimate(model: ModelSpec, gpu: Gpu, engine: Engine, precision: Precision, kv_precision: Precision,
             w: Workload, eff: Efficiency) -> Estimate:
    mem = memory(model, gpu, engine, precision, kv_precision, w)
    notes: list[str] = []
    if model.assumed:
        notes.append(model.assumed)
    if w.prompt_tokens + w.new_tokens > model.max_context_tokens:
        notes.append(f"prompt+new = {w.prompt_tokens + w.new_tokens} tokens exceeds the model's context of "
                     f"{model.max_context_tokens}")
    problem = tp_problem(model, w.n_gpus) if engine.split == "tensor" else None
    if problem:
        notes.append(problem)
    if engine.split == "tensor" and w.n_gpus > 1 and not gpu.has_p2p and gpu.nvlink == "none":
        notes.append(f"{gpu.name} has no P2P or NVLink: tensor-parallel all-reduces go through host memory")
    if engine.split == "layer" and w.n_gpus > 1:
        notes.append(f"{engine.name} splits layers across GPUs: more GPUs add capacity, not decode speed")
    return Estimate(fits=mem.fits and problem is None, model=model, gpu=gpu, engine=engine, precision=precision,
                    kv_precision=kv_precision, workload=w, efficiency=eff, memory=mem,
                    speed=speed(model, gpu, engine, precision, kv_precision, w, eff), notes=tuple(notes))
