"""Training collectives of one optimizer step: the sharding's gradient and weight traffic, tensor-parallel
all-reduces, pipeline hops and bubble, context parallel's K/V ring and expert parallel's all-to-all."""

from __future__ import annotations

import math

from sizing.specs import Execution, ModelSpec, System

from .comm import allreduce_s, alltoall_s
from .train_memory import (
    ACT,
    expert_share,
    expert_ways,
    is_lora,
    model_states,
    trainable_params,
    trained_bytes,
    training_of,
)


def comm_s(model: ModelSpec, execution: Execution, system: System, tokens_per_gpu: float) -> float:
    """Collectives of one optimizer step on the busiest GPU (ring costs, sizing.estimate.comm):
    ddp / zero1 / zero2 reduce the trainable gradients once per step (an all-reduce: reduce-scatter + all-gather);
    zero3 (FSDP) all-gathers the weights forward and backward in every micro-batch and reduce-scatters gradients;
    tensor parallel all-reduces each layer's activations twice forward and twice backward (Megatron-LM §3);
    device-map hands activations from GPU to GPU (one send per stage, forward and backward); a 1F1B pipeline stage
    sends each micro-batch's output activations to the next stage and receives their gradients back, one
    point-to-point transfer each way per micro-batch (Narayanan et al. 2021 §2.2, scattered over the tp ranks by
    the scatter/gather optimisation §4.1), over the network when the stages span nodes. Data-parallel and
    context-parallel ranks together reduce the gradients (Megatron-Core's dp x cp group)."""
    t, p = training_of(execution), execution.parallelism
    dpc = p.dp * p.cp
    st = model_states(model, execution)
    link = system.gpu_link if system.n_nodes == 1 else system.node_link
    out = 0.0
    ep = expert_ways(model, execution)
    # with expert parallel, the routed experts' gradients (and FSDP's gathers of their weights) go over the dp / ep
    # ranks that hold the same experts, each GPU's share 1 / ep of them (Megatron-Core expert-data-parallel group)
    f = expert_share(model) if ep > 1 and not is_lora(execution) else 0.0
    if dpc > 1:
        grads = trainable_params(model, execution) * trained_bytes(execution)
        out += allreduce_s(link, dpc, (1 - f) * grads / max(1, p.tp * p.pp))
        if f and p.dp // ep > 1:
            out += allreduce_s(link, p.dp // ep, f * grads / ep / max(1, p.tp * p.pp))
        if t.sharding == "zero3":  # two all-gathers of the (sharded) weights per micro-batch: half a ring each
            out += t.grad_accum * 2 * allreduce_s(link, dpc, st.weights / max(1, p.tp * p.pp)) / 2
    if ep > 1:
        out += t.grad_accum * expert_alltoall_s(model, execution, system, tokens_per_gpu / t.grad_accum, ep)
    micro = tokens_per_gpu / t.grad_accum / p.cp  # tokens of one micro-batch on this GPU (cp splits them)
    if p.tp > 1:
        message = micro * model.hidden_size * ACT
        layers = math.ceil(model.n_layers / p.pp)  # the layers of this GPU's stage
        out += t.grad_accum * 4 * layers * allreduce_s(system.gpu_link, p.tp, message)
    if p.pp > 1 and t.sharding == "device-map":
        message = micro * model.hidden_size * ACT
        out += t.grad_accum * 2 * (p.pp - 1) * (system.gpu_link.latency_s + message / system.gpu_link.bytes_s)
    elif p.pp > 1:
        message = micro * model.hidden_size * ACT / p.tp
        hop = system.gpu_link if p.tp * p.pp * p.cp <= system.n_gpus else system.node_link
        out += t.grad_accum * 2 * (hop.latency_s + message / hop.bytes_s)
    return out


def pipeline_bubble(pp: int, micro_batches: int) -> float:
    """Idle share of a 1F1B (or GPipe) pipeline step: (pp - 1) / (m + pp - 1) of the step's time, m micro-batches
    over pp stages (Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters" §2.2.1:
    bubble time / ideal time = (p - 1) / m)."""
    return (pp - 1) / (micro_batches + pp - 1) if pp > 1 else 0.0


def context_exchange_s(model: ModelSpec, execution: Execution, system: System) -> float:
    """Context parallel's K/V exchange of one optimizer step on one GPU (ring attention, Liu et al. 2023;
    Megatron-Core context parallel): each layer passes its K and V chunks around the cp ring, every GPU receiving
    (cp - 1) / cp of the sequence's K and V, 2 x (cp - 1) / cp x seq x kv_hidden x 2 bytes per layer forward; the
    backward sends them and their gradients, twice that. The ring overlaps each transfer with the previous chunk's
    attention, so only what exceeds the compute adds (speed)."""
    t, p = training_of(execution), execution.parallelism
    if p.cp <= 1:
        return 0.0
    kv_hidden = model.n_kv_heads * model.head_dim / p.tp
    per_layer = 2 * (p.cp - 1) / p.cp * execution.prompt_tokens * execution.batch * kv_hidden * ACT
    link = system.gpu_link if p.tp * p.cp <= system.n_gpus else system.node_link
    layers = math.ceil(model.n_layers / p.pp)
    one = 3 * (per_layer / link.bytes_s + (p.cp - 1) * link.latency_s)  # forward 1 + backward 2
    return t.grad_accum * layers * one


def expert_alltoall_s(model: ModelSpec, execution: Execution, system: System, tokens: float, ep: int) -> float:
    """All-to-all token dispatch and combine of one micro-batch (GShard §2.2; DeepSpeed-MoE §5; Megatron-Core MoE
    token dispatcher): each MoE layer sends every token's hidden state to its k routed experts and brings the k
    outputs back, 2 x tokens x top_k x hidden x 2 bytes per layer forward, the same again backward (the gradients
    of both), and once more forward under full recomputation; each GPU keeps 1 / ep of what it routes and sends
    the rest over the node's links (over the network when ep spans nodes), one latency per exchange."""
    t = training_of(execution)
    k = model.n_active_experts or 0
    per_layer = 2 * tokens * k * model.hidden_size * ACT
    passes_ = 4 + (2 if t.recompute == "full" else 0)  # dispatch + combine, forward and backward (+ recompute)
    link = system.gpu_link if ep <= system.n_gpus else system.node_link
    return model.n_moe_layers * passes_ * alltoall_s(link, ep, per_layer / 2)
