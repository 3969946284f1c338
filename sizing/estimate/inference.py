"""Inference: memory of the busiest GPU and the time of prefill and decode steps, from bytes moved and FLOPs.

Physics first: bytes stored, bytes moved and FLOPs counted from the model's shape (shapes); a few efficiency
factors per engine and GPU class (data/efficiency.csv, fitted by benchmarks/calibrate.py) turn peaks into achieved
rates (roofline). Every formula names its source.
"""

from __future__ import annotations

import math
from functools import lru_cache

from sizing.specs import (
    Efficiency,
    Estimate,
    Execution,
    MemoryBreakdown,
    MemoryEstimate,
    ModelSpec,
    Precision,
    SpeedEstimate,
    StepTime,
    System,
)

from . import bands, dp_attention, expert, roofline, shapes
from .comm import hops_s
from .engines import (
    ACT_BYTES,
    activation_bytes,
    kv_passes,
    logit_tokens,
    pipeline_factor,
    prefill_chunks,
    usable_bytes,
)
from .launch import launch_command
from .parallel import (
    keeps_latent,
    layer_ways,
    shares,
    split_problem,
    tensor_ways,
    tp_kv_share,
    tp_problem,
    tp_state_share,
)
from .roofline import layer_kernel_scale, layer_overhead_s, mm_eff, peak_flops, step_time, weight_eff

DECODE_SAMPLES = 8  # midpoint rule over the growing cache; t(c) is piecewise linear in c
DECODE_WORK_KEPT = 8192  # decode_work results remembered: above one search's executions x depths, bounded across many


def memory(model: ModelSpec, execution: Execution, system: System) -> MemoryEstimate:
    """Memory of the busiest GPU. Allocator peak = weights + KV cache for prompt+new tokens of every sequence (the
    token-proportional part at the KV share, the fixed linear-attention state at its own share) + prefill
    activations; device peak adds the CUDA context and allocator slack (measured.md: ~0.3-0.5 GiB that
    max_memory_allocated does not see). Engines that pre-allocate (vLLM gpu_memory_utilization) show that
    fraction of the card, the surplus being their KV pool."""
    engine, x, gpu = execution.engine, execution, system.gpu
    lin, emb = shapes.weight_bytes(model, x.precision)
    share = shares(model, x, system)
    weights = expert.held_weight_bytes(model, x, lin, share.blocks) + emb * share.embed
    # attention data parallel: what each replica holds whole at 1 / attn_tp, not 1 / tp, over this stage's layers
    weights += dp_attention.extra_weight_bytes(model, x) * share.blocks * tensor_ways(x)
    kv_bits = shapes.kv_bits_of(x.kv_precision)
    latent = keeps_latent(model, x)
    tokens_seq = shapes.token_cache_bytes(model, latent, kv_bits, x.context_tokens)
    state_seq = shapes.linear_state_bytes(model)
    kv = x.batch * tokens_seq * share.kv + x.batch * state_seq * share.state
    seq_kv = share.kv / dp_attention.replica_share(x)  # one sequence on its GPU (share.kv: the busiest replica's)
    kv_seq = tokens_seq * seq_kv + state_seq * share.state
    draft_w, draft_kv = drafter_bytes(model, x, lin, tokens_seq)
    weights += draft_w * share.blocks
    kv += x.batch * draft_kv * share.kv
    kv_seq += draft_kv * seq_kv
    act = activation_bytes(model, x)
    allocated = weights + kv + act
    overhead = engine.context_bytes + engine.fragmentation * allocated
    need = allocated + overhead
    usable = usable_bytes(engine, gpu)
    fits = need <= usable
    kv_reported = kv + (usable - need) if engine.gpu_memory_utilization and fits else kv  # the pre-allocated pool
    room = usable - (weights + act + overhead)
    max_batch = int(room // kv_seq) * dp_attention.ways(x) if room > 0 and kv_seq > 0 else 0
    return MemoryEstimate(
        per_gpu_bytes=weights + kv_reported + act + overhead,
        need_per_gpu_bytes=need,
        usable_per_gpu_bytes=usable,
        allocated_per_gpu_bytes=weights + kv_reported + act,
        gpu_memory_bytes=gpu.memory_bytes,
        fits=fits,
        breakdown=MemoryBreakdown(
            weights_bytes=weights, kv_cache_bytes=kv_reported, activations_bytes=act, overhead_bytes=overhead
        ),
        kv_bytes_per_token=shapes.kv_bytes_per_token(model, latent, kv_bits),
        max_batch_at_context=max(0, max_batch),
    )


@lru_cache(maxsize=DECODE_WORK_KEPT)
def decode_work(model: ModelSpec, execution: Execution, context_tokens: float) -> tuple[float, float, float, float]:
    """What one decode step moves and computes on one GPU, whatever the machine: the weight bytes it reads, the
    cache and the fixed-state bytes the batch reads (before the engine's traffic factor) and its FLOPs (see
    decode_step). Pure in its frozen arguments, so kept per distinct (model, execution, depth): a search estimates
    one execution on many systems (each chassis its own lanes and power cap) at the same cache depths."""
    x = execution
    w_bytes = expert.weight_read_bytes(model, x, x.batch)  # 1/tp of the weights; EP: the busiest GPU's experts
    w_bytes += dp_attention.extra_weight_bytes(model, x, read=True)  # attention DP: what each replica holds whole
    read = shapes.decode_token_read_bytes(
        model, keeps_latent(model, x), shapes.kv_bits_of(x.kv_precision), context_tokens
    )
    kv_cache = x.batch * read * tp_kv_share(model, x)
    kv_state = x.batch * shapes.linear_state_bytes(model) * tp_state_share(x)
    return w_bytes, kv_cache, kv_state, dp_attention.decode_flops(model, x, context_tokens, keeps_latent(model, x))


def drafter(model: ModelSpec, draft: ModelSpec | None, precision: Precision, kv_precision: Precision) -> dict:
    """The drafter fields of a Speculative (draft_cost, draft_model, draft_weight_bytes, draft_kv_bytes_per_token):
    its cost per draft token relative to one decode step of the model (Leviathan et al. 2023's c). MTP and EAGLE
    draft with one extra decoder block (DeepSeek-V3 report §2.2: each MTP module is one Transformer block sharing
    the embedding and head; EAGLE, Li et al. 2024: a one-layer draft head), so c = 1 / n_layers; a draft model's
    decode is bound by its weights too, so c = its weight bytes / the model's (shapes.decode_weight_bytes), and it
    brings its own weights and K/V cache (at the target's weight format and KV precision)."""
    if draft is None:
        return {"draft_cost": 1 / model.n_layers}
    w = shapes.decode_weight_bytes
    return {
        "draft_cost": w(draft, precision, 1) / w(model, precision, 1),
        "draft_model": draft.hf_repo or draft.id,
        "draft_weight_bytes": sum(shapes.weight_bytes(draft, precision)),
        "draft_kv_bytes_per_token": shapes.kv_bytes_per_token(draft, False, shapes.kv_bits_of(kv_precision)),
    }


def drafter_bytes(model: ModelSpec, x: Execution, block_bytes: float, tokens_seq: float) -> tuple[float, float]:
    """(weights, one sequence's cache) the speculative drafter adds on the GPUs: the engine loads it beside the
    model and gives it its own KV cache, split like the model's (vLLM docs, speculative decoding: the draft runs
    at the target's tensor-parallel size). MTP and EAGLE draft with one decoder block (DeepSeek-V3 report §2.2: an
    MTP module is one Transformer block sharing the embedding and head; EAGLE, Li et al. 2024: a one-layer head),
    so a block's weights and one layer's cache: block bytes / layers, cache / layers; a draft model: its own."""
    spec = x.speculative
    if spec is None:
        return 0.0, 0.0
    if spec.method == "draft-model":
        return spec.draft_weight_bytes, spec.draft_kv_bytes_per_token * x.context_tokens
    return block_bytes / model.n_layers, tokens_seq / model.n_layers


def decode_step(
    model: ModelSpec, execution: Execution, system: System, eff: Efficiency, context_tokens: float
) -> StepTime:
    """One decode step for the batch at cache depth `context`: the slower of reading the bytes (roofline: bytes /
    (bandwidth x efficiency), hardware.md §4.5; the cache a step reads is shapes.decode_token_read_bytes, under
    sparse attention the top-k entries and the indexer keys, plus the fixed state) and doing the FLOPs, plus a
    fixed per-layer launch/scheduling cost and, for tensor parallel, two all-reduces per layer (Megatron-LM). Layer
    split reads every GPU's share one after another, so it adds no speed (measured.md on llama.cpp); its
    activations hop GPU to GPU once per step, and pipeline stages on other nodes once per node."""
    x = execution
    kv_factor, weights_bytes_s, kv_bytes_s, peak, comm, t_host = decode_fixed(model, x, system, eff)
    w_bytes, kv_cache, kv_state, flops = decode_work(model, x, context_tokens)
    kv_read = kv_cache * kv_factor  # repeat_kv, cache concat: not the state
    kv_read += kv_state * eff.kv_traffic
    t_weights = w_bytes / weights_bytes_s
    t_kv = kv_read / kv_bytes_s
    t_comp = flops / peak
    total = step_time(x.engine, t_weights + t_kv, t_comp, t_host) + comm
    return StepTime(
        total_s=total,
        weights_s=t_weights,
        kv_s=t_kv,
        compute_s=t_comp,
        comm_s=comm,
        host_s=t_host,
        bound="compute" if t_comp > t_weights + t_kv else "memory",
    )


@lru_cache(maxsize=DECODE_WORK_KEPT)
def decode_fixed(
    model: ModelSpec, execution: Execution, system: System, eff: Efficiency
) -> tuple[float, float, float, float, float, float]:
    """decode_step's terms that do not depend on the cache depth: the cache traffic factor (kv_traffic x the passes
    the engine reads the cache in), the rates the weights, the cache and the FLOPs go at, the communication and the
    host time. Kept per (model, execution, system, efficiency): speed samples DECODE_SAMPLES depths on one system."""
    x, gpu = execution, system.gpu
    lw = layer_ways(x, system)
    bw = gpu.mem_bw_bytes_s
    message = x.batch * model.hidden_size * ACT_BYTES
    comm = expert.layer_comm_s(model, x, system, x.batch)  # all-reduces; EP: + dispatch/combine (expert.py)
    if lw > 1:
        comm = hops_s(system.gpu_link, lw - 1, message)
    comm += hops_s(system.node_link, system.n_nodes - 1, message)
    return (
        eff.kv_traffic * kv_passes(model, x.engine),
        bw * weight_eff(eff, x.precision),
        bw * eff.bw_eff,
        peak_flops(system, x.precision) * eff.mm_eff,
        comm,
        model.n_layers * layer_overhead_s(x.engine, eff, x.precision, x.parallelism.pp) * layer_kernel_scale(model),
    )


@lru_cache(maxsize=DECODE_WORK_KEPT)
def prefill_work(model: ModelSpec, execution: Execution) -> tuple[float, float, float]:
    """What prefilling the batch's prompts computes and reads, whatever the machine (see prefill): the matmul and
    the attention FLOPs and the weight bytes one GPU reads per chunk; kept per (model, execution) as decode_work."""
    x = execution
    tokens = x.batch * x.prompt_tokens
    head = shapes.head_params(model)
    mm = 2 * (shapes.active_matmul_params(model) - head) * tokens + 2 * head * logit_tokens(x.engine, x.batch, tokens)
    attn = x.batch * shapes.prefill_attention_flops(model, x.prompt_tokens, keeps_latent(model, x))
    mm, attn = dp_attention.prefill_flops(model, x, mm, attn)  # attention DP: its share of the attention work
    return mm, attn, expert.weight_read_bytes(model, x, tokens) + dp_attention.extra_weight_bytes(model, x, True)


def prefill(model: ModelSpec, execution: Execution, system: System, eff: Efficiency) -> StepTime:
    """Time to process the batch's prompts: dense matmul FLOPs (2 per weight per token) and causal attention FLOPs
    over peak x efficiency, never faster than reading the weights once per chunk; tensor parallel divides the work
    and adds two all-reduces per layer per chunk; layer split with micro-batches pipelines them across GPUs
    (llama.cpp PR #6017); each chunk crosses the node links once per extra node."""
    x = execution
    if x.prompt_tokens <= 0:
        return StepTime(total_s=0.0, weights_s=0.0, kv_s=0.0, compute_s=0.0, comm_s=0.0, host_s=0.0, bound="memory")
    tokens = x.batch * x.prompt_tokens
    tp, lw = tensor_ways(x), layer_ways(x, system)
    n_chunks, chunk = prefill_chunks(x.engine, tokens)
    mm, attn, w_bytes = prefill_work(model, x)
    t_comp = (mm / mm_eff(eff, x.precision) + attn / eff.attn_eff) / peak_flops(system, x.precision) / tp
    t_mem = n_chunks * w_bytes / (system.gpu.mem_bw_bytes_s * weight_eff(eff, x.precision))
    per_layer = layer_overhead_s(x.engine, eff, x.precision, x.parallelism.pp) * layer_kernel_scale(model)
    t_host = n_chunks * model.n_layers * per_layer
    if tp == 1 and lw > 1:  # pipelined stages overlap: every component shrinks by the same factor (step_time scales)
        factor = pipeline_factor(tokens, x.engine.prefill_chunk_tokens, x.engine.pipeline_microbatches, lw)
        t_mem, t_comp, t_host = t_mem * factor, t_comp * factor, t_host * factor
    t = step_time(x.engine, t_mem, t_comp, t_host)
    comm = expert.layer_comm_s(model, x, system, chunk, n_chunks)
    comm += n_chunks * hops_s(system.node_link, system.n_nodes - 1, chunk * model.hidden_size * ACT_BYTES)
    return StepTime(
        total_s=t + comm,
        weights_s=t_mem,
        kv_s=0.0,
        compute_s=t_comp,
        comm_s=comm,
        host_s=t_host,
        bound="compute" if t_comp > t_mem else "memory",
    )


def mean_step(steps: list[StepTime]) -> StepTime:
    """The average step over the samples; the bound the majority of them has."""
    n = len(steps)
    fields = ("total_s", "weights_s", "kv_s", "compute_s", "comm_s", "host_s")
    means = {f: sum(getattr(s, f) for s in steps) / n for f in fields}
    n_compute = sum(s.bound == "compute" for s in steps)
    return StepTime(**means, bound="compute" if n_compute * 2 > n else "memory")


def tokens_per_verify_step(acceptance: float, n_draft: int) -> float:
    """Expected tokens one verify step emits when each of n drafted tokens is kept with probability a (independent):
    (1 - a^(n+1)) / (1 - a) (Leviathan, Kalman and Matias 2023, "Fast Inference from Transformers via Speculative
    Decoding", eq. 1)."""
    if acceptance >= 1:
        return n_draft + 1.0
    return (1 - acceptance ** (n_draft + 1)) / (1 - acceptance)


def speculative_token_s(
    model: ModelSpec, execution: Execution, system: System, eff: Efficiency, context_tokens: float, plain: StepTime
) -> float:
    """Seconds per emitted token per sequence with speculative decoding: n draft steps at c x a decode step
    (Leviathan et al. 2023 §3.3, c = Speculative.draft_cost), then one verify step over n + 1 tokens per sequence
    (the weights read once at that many tokens, MoE experts touched for all of them; FLOPs for all; the cache read
    once per sequence, as flash-decoding kernels attend every query of a sequence in one pass), divided by the
    expected tokens kept per step."""
    spec = execution.speculative
    assert spec is not None
    n = spec.n_draft
    wide_x = execution.model_copy(update={"batch": execution.batch * (n + 1), "verify_tokens": n + 1})
    wide = decode_step(model, wide_x, system, eff, context_tokens)
    verify = step_time(execution.engine, wide.weights_s + plain.kv_s, wide.compute_s, plain.host_s) + wide.comm_s
    return (verify + n * spec.draft_cost * plain.total_s) / tokens_per_verify_step(spec.acceptance, n)


def loaded_ttft_s(execution: Execution, alone: StepTime, step: StepTime) -> float:
    """Time to first token of ONE request arriving at a server busy with the other batch-1 users, under continuous
    batching with chunked prefill (vLLM V1 scheduler and SGLang: every step's token budget, max_num_batched_tokens /
    chunked_prefill_size = engines.csv prefill_chunk_tokens, takes the running sequences' decode tokens first and
    fills the rest with prefill chunks, first come first served; vLLM docs "Optimization and Tuning: chunked
    prefill", SGLang server_args chunked_prefill_size). The queueing model:
    - the arrival waits for the step in flight to end: half a decode step on average;
    - it queues behind the other users' prefills: each of the b-1 others runs a cycle of one prefill (S, the prompt
      alone) and new_tokens decode steps, so prefill work arrives with load rho = (b-1) S / (S + n t_step); the mean
      wait of an M/D/1 queue (Pollaczek-Khinchine: rho S / (2 (1 - rho))), never more than all b-1 prefills ahead
      of it (a closed system of b users holds at most b-1 requests in the queue);
    - its own prefill S runs in chunks of the budget left after the b-1 decode tokens, and each chunk's step also
      carries those decode tokens: their KV reads, FLOPs and host time add to the chunk (the weights are read once
      for the mixed batch, so the decode step's weight time does not).
    With one user it is the prompt alone."""
    x = execution
    own = alone.total_s
    others = x.batch - 1
    if others <= 0 or own <= 0:
        return own
    budget = max(1, x.engine.prefill_chunk_tokens - others)
    n_chunks = math.ceil(x.prompt_tokens / budget)
    riders = n_chunks * max(0.0, step.total_s - step.weights_s)
    cycle = own + max(x.new_tokens, 1) * step.total_s
    rho = others * own / cycle
    queue = others * own if rho >= 1 else min(rho * own / (2 * (1 - rho)), others * own)
    return step.total_s / 2 + queue + own + riders


@lru_cache(maxsize=DECODE_WORK_KEPT)
def one_user(execution: Execution) -> Execution:
    """The execution with one sequence (speed's time to first token of a lone user), one object per execution: a
    search estimates each on many systems, and prefill_work then finds that object at once, not an equal copy."""
    return execution.model_copy(update={"batch": 1})


def speed(
    model: ModelSpec, execution: Execution, system: System, eff: Efficiency
) -> tuple[SpeedEstimate, StepTime, StepTime]:
    """Prefill, then decode averaged while the cache grows from prompt to prompt + new tokens (midpoint rule).
    Returns the speeds, the mean decode step and the prefill."""
    x = execution
    pre = prefill(model, x, system, eff)
    alone = prefill(model, one_user(x), system, eff) if x.batch > 1 else pre
    steps = max(x.new_tokens, 1)
    samples = [
        decode_step(model, x, system, eff, x.prompt_tokens + (i + 0.5) * steps / DECODE_SAMPLES)
        for i in range(DECODE_SAMPLES)
    ]
    step = mean_step(samples)
    if x.speculative is None:
        t_decode = sum(s.total_s * steps / DECODE_SAMPLES for s in samples)
    else:
        contexts = [x.prompt_tokens + (i + 0.5) * steps / DECODE_SAMPLES for i in range(DECODE_SAMPLES)]
        t_decode = sum(
            speculative_token_s(model, x, system, eff, c, s) * steps / DECODE_SAMPLES
            for c, s in zip(contexts, samples, strict=True)
        )
    decode_rate = steps / t_decode
    t_prefill = pre.total_s
    speeds = SpeedEstimate(
        prefill_tokens_per_s=x.batch * x.prompt_tokens / t_prefill if t_prefill > 0 else 0.0,
        decode_tokens_per_s=decode_rate,
        decode_tokens_per_s_total=decode_rate * x.batch,
        e2e_tokens_per_s=x.new_tokens / (t_prefill + t_decode) if x.new_tokens else 0.0,
        time_to_first_token_s=t_prefill if x.prompt_tokens > 0 else t_decode / steps,
        time_to_first_token_one_user_s=alone.total_s if x.prompt_tokens > 0 else t_decode / steps,
        time_to_first_token_loaded_s=loaded_ttft_s(x, alone, step) if x.prompt_tokens > 0 else t_decode / steps,
        decode_bound=step.bound,
        tokens_per_step=(
            tokens_per_verify_step(x.speculative.acceptance, x.speculative.n_draft) if x.speculative else 1.0
        ),
    )
    return speeds, step, pre


def notes(model: ModelSpec, execution: Execution, system: System) -> tuple[list[str], bool]:
    """What the user should know about this run, and whether the split itself is legal."""
    x, gpu = execution, system.gpu
    out: list[str] = [model.assumed] if model.assumed else []
    if x.context_tokens > model.max_context_tokens:
        out.append(f"prompt+new = {x.context_tokens} tokens exceeds the model's context of {model.max_context_tokens}")
    problems = [p for p in (tp_problem(model, tensor_ways(x)), split_problem(x, system)) if p]
    out += problems + expert.notes(model, x) + dp_attention.notes(model, x)
    if tensor_ways(x) > 1 and system.gpu_link.kind == "host":
        out.append(f"{gpu.name} has no P2P or NVLink: tensor-parallel all-reduces go through host memory")
    if layer_ways(x, system) > 1:
        out.append(f"{x.engine.name} splits layers across GPUs: more GPUs add capacity, not decode speed")
    if roofline.synchronous_under_pp(x.engine, x.parallelism.pp):
        out.append(f"{x.engine.name} turns its overlap scheduler off across pipeline stages: each step waits for it")
    return out, not problems


def estimate(model: ModelSpec, execution: Execution, system: System, eff: Efficiency) -> Estimate:
    mem = memory(model, execution, system)
    said, legal = notes(model, execution, system)
    speeds, step, pre = speed(model, execution, system, eff)
    found = Estimate(
        fits=mem.fits and legal,
        model=model,
        execution=execution,
        system=system,
        efficiency=eff,
        memory=mem,
        speed=speeds,
        decode_step=step,
        prefill=pre,
        notes=tuple(said),
        launch_command=launch_command(model, execution),
    )
    return bands.apply(found)
