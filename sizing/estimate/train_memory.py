"""Training memory of the busiest GPU: model states (weights, gradients, optimizer), activations and logits, as the
ZeRO paper and Korthikanti et al. count them, for the PyTorch modules trainers run.

Two moments bound the peak (the caching allocator sees both): the start of the backward pass, when every layer's
saved activations and the loss's logits are alive but this step's gradients are not yet, and the end of the backward
pass / optimizer step, when all gradients are alive and the activations are freed (with the step's own
temporaries, step_transient_bytes).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from sizing.specs import Execution, MemoryBreakdown, MemoryEstimate, ModelSpec, System, Training

from . import shapes
from .engines import ACT_BYTES, usable_bytes
from .lora import lora_module_dims, lora_params

ACT = ACT_BYTES  # bf16 activations, bytes per element (the inference estimator's figure)
FP32 = 4
# The loss's bytes per logit are the trainer's (trainers.csv loss_bytes_per_logit): torchtune's 12 = the fp32 upcast
# (4 B), log-softmax's fp32 output (4 B) and its fp32 gradient (4 B) at the start of the backward pass
# (torch.nn.functional.cross_entropy), beside the bf16 logits freed by then. CHECKED on torchtune's optimization-flags
# table (Llama 3.2 3B, 8,192 tokens, vocab 128,256): chunking the loss saved 8.1 GiB, this count gives 8.3 GiB.
CE_CHUNKS = 8  # torchtune CEWithChunkedOutputLoss num_output_chunks; the bf16 logits stay, fp32 work per chunk
FSDP_PREFETCH_LAYERS = 2  # FSDP/ZeRO-3 gathers the running layer and prefetches the next (torch FSDP docs)


def is_lora(execution: Execution) -> bool:
    return execution.task in ("lora", "qlora")


def training_of(execution: Execution) -> Training:
    if execution.training is None:
        raise ValueError(f"task {execution.task} needs a training set-up")
    return execution.training


def trained_bytes(execution: Execution) -> float:
    """Bytes per trained parameter: bf16 weights, or LoRA adapters at the trainer's adapter_bits."""
    return training_of(execution).trainer.adapter_bits / 8 if is_lora(execution) else ACT


def trainable_params(model: ModelSpec, execution: Execution) -> float:
    t = training_of(execution)
    return lora_params(model, t.lora_rank, t.lora_targets) if is_lora(execution) else float(model.n_params)


class States(NamedTuple):
    """Bytes of the model states, whole model (before sharding)."""

    weights: float  # what the forward reads: bf16 weights, or the frozen (maybe quantized) base + adapters
    grads: float
    optimizer: float  # moments, plus the fp32 master copy where kept
    paged: bool  # optimizer states in unified memory: they page to host RAM under pressure


def optimizer_bytes_per_param(t: Training, param_bytes: float) -> float:
    """Optimizer states per trainable parameter (sizing.specs.training `Optimizer` for the sources); moments are
    fp32 when master weights are kept, else in the parameters' dtype (torch.optim defaults)."""
    moment = FP32 if t.master_weights else param_bytes
    states = {
        "adamw": 2 * moment,
        "adamw-8bit": 2.0,
        "paged-adamw": 2 * FP32,  # bitsandbytes PagedAdamW (32-bit states)
        "paged-adamw-8bit": 2.0,
        "sgd": moment,
        "adafactor": 0.0,
    }
    return states[t.optimizer] + (FP32 if t.master_weights else 0.0)


def model_states(model: ModelSpec, execution: Execution) -> States:
    """ZeRO paper §3 (Rajbhandari et al. 2020): mixed-precision Adam holds 2 (bf16 weights) + 2 (gradients) + 12 (fp32
    master, momentum, variance) bytes per parameter = 16. LoRA/QLoRA: a frozen base at its format (NF4 with double
    quantization ~4.127 bits, QLoRA paper §2) plus adapters with their own gradients and moments."""
    t = training_of(execution)
    lin, emb = shapes.weight_bytes(model, execution.precision)
    n_train = trainable_params(model, execution)
    train_bytes = trained_bytes(execution)
    weights = lin + emb + (n_train * train_bytes if is_lora(execution) else 0.0)
    grads = n_train * train_bytes
    if t.optimizer_in_backward:  # each gradient is applied and freed in its backward hook: one tensor at a time
        grads = min(grads, largest_tensor_params(model) * train_bytes)
    return States(
        weights=weights,
        grads=grads,
        optimizer=n_train * optimizer_bytes_per_param(t, train_bytes),
        paged=t.optimizer.startswith("paged"),
    )


def unfused_adamw_state_bytes(execution: Execution) -> float | None:
    """Bytes of one AdamW state element (the updated weight copy and each moment: fp32 with a master copy) when the
    step runs torch's unfused AdamW (foreach or for-loop) on the GPU; None for fused kernels, other optimizers or
    an optimizer stepped on the CPU. step_transient_bytes and train_roofline.optimizer_step_bytes price it."""
    t = training_of(execution)
    if t.optimizer != "adamw" or t.offload != "none" or t.optimizer_impl == "fused":
        return None
    return FP32 if t.master_weights else trained_bytes(execution)


def step_transient_bytes(model: ModelSpec, execution: Execution) -> float:
    """Temporaries of the optimizer step on the busiest GPU, alive beside every gradient at the end of the backward
    pass. torch's foreach AdamW (specs.training OptimizerImpl) writes sqrt(v) of all its trainable tensors into one
    tensor list before the update: one moment's bytes; for-loop, the largest tensor's; fused kernels, bitsandbytes'
    8-bit and paged AdamW, SGD and Adafactor none that matter; optimizer-in-backward steps one tensor per hook.
    MEASURED (data/benchmarks/h200.training.json): llama-3-8b full fine-tune, bf16 AdamW, 1 x 1024 tokens on an
    H200: 74.85 GiB allocated at peak with foreach, = weights + gradients + both moments (59.8 GiB) + one moment."""
    t, moment = training_of(execution), unfused_adamw_state_bytes(execution)
    if moment is None:
        return 0.0
    whole = trainable_params(model, execution) * split(model, execution).optimizer
    if t.optimizer_impl == "for-loop" or t.optimizer_in_backward:
        return min(whole, largest_tensor_params(model)) * moment
    return whole * moment


def resumable_checkpoint_bytes(model: ModelSpec, execution: Execution) -> float:
    """A checkpoint the run can resume from: the trained weights (adapters only for LoRA), the optimizer states and
    the fp32 master copy where kept (what torch.save of the state dicts writes)."""
    per = trained_bytes(execution)
    return trainable_params(model, execution) * (per + optimizer_bytes_per_param(training_of(execution), per))


# Trainers whose data-parallel ranks each save their own shard (FSDP SHARDED_STATE_DICT / torch.distributed.checkpoint,
# DeepSpeed ZeRO's per-rank optimizer files, Megatron's distributed checkpoint): every node writes its share at once.
# DDP and device-map save one full state dict from rank 0 (torch.save on the main process, HF Trainer save_model).
EP_NODE_GPUS = 8  # the largest node the recommender builds (search.GPU_COUNTS): EP by default stays in one node
SHARDED_SAVES = ("zero1", "zero2", "zero3", "tensor")


def checkpoint_bytes_per_node(model: ModelSpec, execution: Execution, n_nodes: int) -> float:
    """Bytes of one resumable save that the busiest node writes to its own drives."""
    total = resumable_checkpoint_bytes(model, execution)
    return total / n_nodes if training_of(execution).sharding in SHARDED_SAVES else total


def largest_tensor_params(model: ModelSpec) -> float:
    return max(model.vocab_size * model.hidden_size, model.hidden_size * model.ffn_size)


def layer_params(model: ModelSpec) -> float:
    return model.linear_params / model.n_layers


def expert_ways(model: ModelSpec, execution: Execution) -> int:
    """Expert-parallel ranks (GShard, Lepikhin et al. 2020 §2; DeepSpeed-MoE; Megatron-Core MoE): each holds
    n_experts / ep of every MoE layer's routed experts, inside the data-parallel group (ep divides dp; the
    expert-data-parallel group of dp / ep replicas reduces each expert's gradients). --ep where given, else, where
    the trainer supports it, up to the GPUs of one 8-GPU node (all-to-all stays on the node's links, Megatron-Core's
    guidance to keep EP within NVLink domains);
    always a divisor of the data-parallel ranks and of the routed experts."""
    t, p = training_of(execution), execution.parallelism
    if not model.is_moe or not model.n_experts:
        return 1
    if p.ep > 1:
        return p.ep
    want = t.ep if t.ep is not None else (EP_NODE_GPUS if t.trainer.expert_parallel else 1)
    return math.gcd(want, p.dp, model.n_experts)


def expert_share(model: ModelSpec) -> float:
    """Share of the parameters in routed experts (n_moe_layers x n_experts x one expert's projections)."""
    if not model.is_moe or not model.n_experts:
        return 0.0
    return min(1.0, model.n_moe_layers * model.n_experts * model.expert_params / model.n_params)


class Split(NamedTuple):
    """The busiest GPU's share of the weights, the gradients and the optimizer states, and of the layers' work."""

    weights: float
    grads: float
    optimizer: float
    layers: float  # share of the layers (and their activations) this GPU runs
    tokens: float  # share of each micro-batch's activations (tensor parallel splits them)


def split(model: ModelSpec, execution: Execution) -> Split:
    """ZeRO stages over the data-parallel ranks; device-map places ceil(L/n) layers per GPU; Megatron tensor parallel
    divides every matrix and, with sequence parallelism, every activation (Korthikanti et al. §4.2.2); context
    parallel splits every sequence over cp GPUs (each holds seq / cp tokens' activations) and its ranks shard the
    optimizer like data-parallel ones (Megatron-Core's distributed optimizer over the dp x cp group; torchtitan's
    FSDP mesh folds cp into the sharding dimension)."""
    t, p = training_of(execution), execution.parallelism
    dp = p.dp * p.cp
    w = g = o = 1.0
    if t.sharding in ("zero1", "zero2", "zero3"):
        o = 1 / dp
        g = 1 / dp if t.sharding in ("zero2", "zero3") else 1.0
        w = 1 / dp if t.sharding == "zero3" else 1.0
    layers = tokens = 1.0
    if p.pp > 1:  # whole layers per stage, the busiest holds ceil(L / pp)
        layers = math.ceil(model.n_layers / p.pp) / model.n_layers
        w, g, o = w * layers, g * layers, o * layers
    if p.tp > 1:
        w, g, o, tokens = w / p.tp, g / p.tp, o / p.tp, 1 / p.tp
    tokens /= p.cp
    ep = expert_ways(model, execution)
    if ep > 1:  # routed experts: a state ZeRO already shards over all dp ranks stays so; a replicated one splits by ep
        f = expert_share(model)
        lora = is_lora(execution)  # adapters train beside a frozen base: EP splits the base weights only

        def by_ep(share: float, sharded: bool) -> float:
            return share if sharded else share * ((1 - f) + f / ep)

        w = by_ep(w, t.sharding == "zero3")
        if not lora:
            g = by_ep(g, t.sharding in ("zero2", "zero3"))
            o = by_ep(o, t.sharding in ("zero1", "zero2", "zero3"))
    return Split(w, g, o, layers, tokens)


def layer_activation_bytes(model: ModelSpec, t: Training, seq: float) -> float:
    """Saved activations of one transformer layer for one sequence of `seq` tokens, counting what PyTorch autograd
    saves, after Korthikanti et al. 2022 §4.1 (34·s·b·h per layer: GPT with LayerNorm, a 4h GELU MLP, dropout and
    selective recomputation), extended to RMSNorm, GQA and gated MLPs:
    - each norm keeps its input (2h) and its output, which the next matmul keeps as its input (2h); eager Hugging
      Face RMSNorm keeps an fp32 copy of the input instead of the bf16 one (4h + 2h);
    - attention keeps q, k and v (2(q + 2kv)), its output (2q, the out-projection's input) and a fp32 log-sum-exp
      per head for flash/SDPA kernels; without a fused kernel also the n_heads x s x s probabilities (bf16 for AV and
      the fp32 softmax output for its backward, 6 B each), unless recomputation drops them (selective, §4.2);
    - a gated MLP keeps the gate and up outputs, SiLU's output and their product (4 x 2f) eager; fused SwiGLU
      kernels (Liger, torch.compile) keep the gate and up outputs only and recompute the rest (2 x 2f); a GELU MLP
      keeps the GELU's input and output (2 x 2f, §4.1). MoE layers: per token the k routed and the shared experts;
    - dropout (pre-training recipes) keeps a 1-byte mask after attention and after the MLP.
    Full recomputation keeps only each layer's input (2h); op-level checkpointing what op_saved_width names."""
    h = model.hidden_size
    if t.recompute == "full":
        return ACT * h * seq
    if t.recompute == "op":
        return (ACT * (h + op_saved_width(model)) + FP32 * model.n_heads) * seq
    if model.is_mla:  # the expanded per-head q/k and v that attention kernels see in training
        q = kv = model.n_heads * ((model.qk_nope_head_dim or 0) + (model.qk_rope_head_dim or 0))
    else:
        q, kv = model.n_heads * model.head_dim, model.n_kv_heads * model.head_dim
    norms = 2 * ((ACT + ACT) * h if t.fused_elementwise else (FP32 + ACT) * h)
    attn = ACT * (q + 2 * kv) + ACT * q + FP32 * model.n_heads
    f = shapes.ffn_width_per_token(model)
    if model.gated_mlp:
        mlp = (2 if t.fused_elementwise else 4) * ACT * f
    else:
        mlp = 2 * ACT * f
    masks = 2 * h if t.dropout else 0
    scores = 0.0
    if not t.flash_attention and t.recompute == "none":
        scores = (ACT + FP32) * model.n_heads * seq  # per token: its row of s probabilities in every head
    return (norms + attn + mlp + masks + scores) * seq


def layer_matmuls(model: ModelSpec) -> list[tuple[int, int]]:
    """(in, out) of a layer's matmuls in forward order (Llama q, k, v, o, gate, up, down); MoE: one token's experts."""
    h, f = model.hidden_size, shapes.ffn_width_per_token(model)
    attn = lora_module_dims(model, "attention")
    mlp = [(h, f), (h, f), (f, h)] if model.gated_mlp else [(h, f), (f, h)]
    return attn + mlp


def op_saved_width(model: ModelSpec) -> int:
    """Elements per token op-level checkpointing saves in a layer beside its input: torchtitan's policy (parallelize_
    llama.py at 9dec370, `_save_list`, `_custom_policy`: MUST_SAVE aten.mm outputs but every second one, SDPA and max
    outputs; the rest PREFER_RECOMPUTE) keeps matmul outputs 1, 3, 5 ... (Llama q, v, gate, down) and SDPA's."""
    saved = sum(out for _, out in layer_matmuls(model)[0::2])
    return saved + model.n_heads * (model.v_head_dim if model.is_mla and model.v_head_dim else model.head_dim)


def op_recomputed_params(model: ModelSpec) -> float:
    """Weights per layer whose matmuls op-level checkpointing runs again (the 2nd, 4th ...: Llama k, o, up)."""
    return float(sum(i * o for i, o in layer_matmuls(model)[1::2]))


def in_flight(execution: Execution) -> int:
    """Micro-batches whose activations a pipeline stage holds at once: the 1F1B schedule's first stage runs pp
    forwards before its first backward (Narayanan et al. 2021 §2.2.1: at most pp in flight), never more than the
    step's m micro-batches; device-map (no schedule, one micro-batch at a time) and no pipeline hold one."""
    t, p = training_of(execution), execution.parallelism
    if p.pp <= 1 or t.sharding == "device-map":
        return 1
    return min(p.pp, t.grad_accum)


def activation_bytes(model: ModelSpec, execution: Execution) -> tuple[float, float]:
    """(GPU, host) bytes of saved activations at the start of the backward pass on the busiest GPU: every layer it
    runs, plus with full or op-level recomputation one layer recomputed in full; activation offload moves the
    checkpointed inputs to host RAM (torchtune `enable_activation_offloading`), about two layers' worth stay."""
    t = training_of(execution)
    sp = split(model, execution)
    seq, b = execution.prompt_tokens, execution.batch
    layers = max(1, math.ceil(model.n_layers * sp.layers))
    recomputes = t.recompute in ("full", "op")
    full_t = t.model_copy(update={"recompute": "none" if recomputes else t.recompute})
    per_layer = layer_activation_bytes(model, t, seq) * b * sp.tokens * in_flight(execution)
    one_full = layer_activation_bytes(model, full_t, seq) * b * sp.tokens if recomputes else 0.0
    if t.activation_offload:
        return min(layers, 2) * per_layer + one_full, layers * per_layer
    return layers * per_layer + one_full, 0.0


def logits_bytes(model: ModelSpec, execution: Execution) -> float:
    """The loss on the last stage: the trainer's bytes per logit all at once, or the bf16 logits and that fp32 work
    one chunk at a time."""
    t = training_of(execution)
    sp = split(model, execution)
    n = execution.batch * execution.prompt_tokens * model.vocab_size * sp.tokens
    per_logit = t.trainer.loss_bytes_per_logit
    if t.chunked_ce:
        return n * (ACT + per_logit / CE_CHUNKS)
    return n * per_logit


class TrainMemory(NamedTuple):
    estimate: MemoryEstimate
    host_bytes: float
    paged_out_bytes: float  # paged optimizer states that do not fit beside the rest: they live in host RAM


def memory(model: ModelSpec, execution: Execution, system: System) -> TrainMemory:
    """Peak of the busiest GPU: the larger of the two moments (module docstring). FSDP/ZeRO-3 adds the gathered full
    layers; offloaded states and paged optimizer states that do not fit count in host RAM instead."""
    t = training_of(execution)
    st, sp = model_states(model, execution), split(model, execution)
    weights, grads, opt = st.weights * sp.weights, st.grads * sp.grads, st.optimizer * sp.optimizer
    host = 0.0
    if t.offload in ("optimizer", "params"):
        host += opt + grads  # ZeRO-Offload keeps fp32 states on the CPU and streams gradients to it
        opt, grads = 0.0, min(grads, largest_tensor_params(model) * ACT)
    if t.offload == "params":
        host += weights
        weights = FSDP_PREFETCH_LAYERS * layer_params(model) * st.weights / model.n_params
    if t.sharding == "zero3" and execution.parallelism.dp > 1 and t.offload != "params":
        weights += FSDP_PREFETCH_LAYERS * layer_params(model) * (st.weights / model.n_params) * (1 - sp.weights)
    act, act_host = activation_bytes(model, execution)
    host += act_host
    logits = logits_bytes(model, execution)
    accum_grads = grads if t.grad_accum > 1 else 0.0
    flight = in_flight(execution)
    # 1F1B: the first stage holds `flight` micro-batches' activations, the last one micro-batch's and the loss
    act_peak_stage = max(act, act / flight + logits) if flight > 1 else act + logits
    start_backward = weights + opt + accum_grads + act_peak_stage
    transient = step_transient_bytes(model, execution)
    end_backward = weights + opt + grads + transient
    allocated = max(start_backward, end_backward)
    usable = usable_bytes(execution.engine, system.gpu)
    paged_out = 0.0
    if st.paged:
        room = usable - (allocated - opt) * (1 + t.trainer.fragmentation) - t.trainer.context_bytes
        paged_out = max(0.0, opt - max(0.0, room / (1 + t.trainer.fragmentation)))
        host += paged_out
        allocated -= paged_out
    act_peak = act_peak_stage if start_backward >= end_backward else 0.0
    grads_peak = accum_grads if start_backward >= end_backward else grads
    overhead = t.trainer.context_bytes + t.trainer.fragmentation * allocated
    need = allocated + overhead
    return TrainMemory(
        estimate=MemoryEstimate(
            per_gpu_bytes=need,
            need_per_gpu_bytes=need,
            usable_per_gpu_bytes=usable,
            allocated_per_gpu_bytes=allocated,
            gpu_memory_bytes=system.gpu.memory_bytes,
            fits=need <= usable,
            breakdown=MemoryBreakdown(
                weights_bytes=weights,
                kv_cache_bytes=0.0,
                activations_bytes=act_peak,
                gradients_bytes=grads_peak,
                optimizer_bytes=opt - paged_out + (0.0 if start_backward >= end_backward else transient),
                overhead_bytes=overhead,
            ),
            kv_bytes_per_token=0.0,
            max_batch_at_context=max_micro_batch(model, execution, (start_backward, end_backward), usable),
        ),
        host_bytes=host,
        paged_out_bytes=paged_out,
    )


def max_micro_batch(model: ModelSpec, execution: Execution, moments: tuple[float, float], usable: float) -> int:
    """The largest micro-batch per GPU that fits at this sequence length: the start of the backward pass grows
    linearly with the batch (activations and the loss), the end of it does not."""
    t = training_of(execution)
    one = execution.model_copy(update={"batch": 1})
    act, _ = activation_bytes(model, one)
    per_seq = act + logits_bytes(model, one)
    room = (usable - t.trainer.context_bytes) / (1 + t.trainer.fragmentation)
    start, end = moments
    if end > room or per_seq <= 0:
        return 0
    return max(0, int((room - (start - execution.batch * per_seq)) // per_seq))
