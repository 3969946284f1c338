"""How a model is shared out over GPUs and nodes: the busiest GPU's share of weights and cache, and whether a
split is legal."""

from __future__ import annotations

import math
from typing import NamedTuple

from sizing.specs import Execution, ModelSpec, System

from . import dp_attention


class Shares(NamedTuple):
    """Fractions of the block weights, the embedding + head, the token-proportional KV cache and the fixed
    linear-attention state that the busiest GPU holds."""

    blocks: float
    embed: float
    kv: float
    state: float


def tensor_ways(execution: Execution) -> int:
    return execution.parallelism.tp


def layer_ways(execution: Execution, system: System) -> int:
    """GPUs of one node that split the layers between them (pipeline stages within a node)."""
    return max(1, execution.parallelism.pp // system.n_nodes)


def keeps_latent(model: ModelSpec, execution: Execution) -> bool:
    """The engine caches and attends over the MLA latent itself (MLA kernels), not decompressed per-head K/V."""
    return model.is_mla and execution.engine.mla_latent_cache


def tp_kv_share(model: ModelSpec, execution: Execution) -> float:
    """The KV cache one tensor-parallel rank holds: ceil(n_kv / tp) heads, at least one (replicated when tp exceeds
    the KV heads); an MLA latent has no head axis and is replicated. Under attention data parallel
    (dp_attention.py) the heads split over one replica's attn_tp GPUs, and the busiest replica holds its own
    sequences only (dp_attention.replica_share)."""
    return kv_head_share(model, execution) * dp_attention.replica_share(execution)


def kv_head_share(model: ModelSpec, execution: Execution) -> float:
    """The share of one sequence's KV heads a GPU holds: ceil(n_kv / attn_tp) of them (attn_tp = tp without
    attention data parallel), the whole MLA latent."""
    tp = dp_attention.attention_tp(execution)
    if tp == 1 or keeps_latent(model, execution):
        return 1.0
    return max(1, math.ceil(model.n_kv_heads / tp)) / model.n_kv_heads


def tp_state_share(execution: Execution) -> float:
    """The linear-attention / SSM state one tensor-parallel rank holds: 1/tp. The state is per value head (Gated
    DeltaNet: value heads x d_k x d_v, its conv window per channel) and the heads split tp ways, apart from the
    softmax layers' KV heads: vLLM model_executor/layers/mamba/mamba_utils.py MambaStateShapeCalculator
    gated_delta_net_state_shape takes divide(num_v_heads, tp) heads and divide(conv_dim, tp) conv channels (and
    mamba2_state_shape divide(num_heads, tp)); `divide` refuses a tp that does not divide them, so no rank holds
    more or less than 1/tp. (Mamba2 replicates groups when tp exceeds n_groups: its conv window, a few % of the
    state, is then slightly more than 1/tp.)"""
    return 1 / tensor_ways(execution)


def shares(model: ModelSpec, execution: Execution, system: System) -> Shares:
    """Tensor parallel (Megatron-LM, Shoeybi et al. 2019): every matrix split tp ways, vocab-parallel embeddings;
    KV heads split, replicated when tp exceeds the KV heads; an MLA latent has no head axis and is replicated; the
    linear-attention state splits by its value heads (tp_state_share). Layer split (llama.cpp --split-mode layer,
    accelerate device_map): whole layers per GPU, the first GPU holds the embedding and the last the head; the
    busiest holds ceil(L/n) layers. Nodes pipeline whole layers the same way (first node embeds, last holds the
    head)."""
    tp, lw = tensor_ways(execution), layer_ways(execution, system)
    blocks, embed, kv, state = 1.0, 1.0, 1.0, 1.0
    if tp > 1:
        blocks, embed, kv, state = 1 / tp, 1 / tp, tp_kv_share(model, execution), tp_state_share(execution)
    elif lw > 1:
        blocks = kv = state = math.ceil(model.n_layers / lw) / model.n_layers
        embed = 1.0 if model.tied_embeddings else 0.5
    if system.n_nodes > 1:
        node_layers = math.ceil(model.n_layers / system.n_nodes) / model.n_layers
        blocks, kv, state = blocks * node_layers, kv * node_layers, state * node_layers
        embed *= 1.0 if model.tied_embeddings else 0.5
    return Shares(blocks, embed, kv, state)


def tp_problem(model: ModelSpec, tp: int) -> str | None:
    """Why `tp`-way tensor parallel cannot split this model evenly, or None (vLLM/Megatron-LM start-up checks:
    query heads divisible by tp; KV heads divisible by tp or tp divisible by KV heads)."""
    if tp == 1:
        return None
    if model.n_heads % tp:
        return (
            f"{tp}-way tensor parallel needs the {model.n_heads} attention heads divisible by {tp}; "
            "use a GPU count that divides them"
        )
    if not model.is_mla and model.n_kv_heads % tp and tp % model.n_kv_heads:
        return f"{tp}-way tensor parallel cannot split or replicate {model.n_kv_heads} KV heads evenly"
    return None


def split_problem(execution: Execution, system: System) -> str | None:
    """The split must use the GPUs there are: tp x pp x dp = GPUs in all, tp within one node."""
    p = execution.parallelism
    if p.tp > system.n_gpus or p.tp * p.pp * p.dp != system.n_gpus_total:
        return (
            f"tp {p.tp} x pp {p.pp} x dp {p.dp} does not match {system.n_gpus} GPU(s) per node x "
            f"{system.n_nodes} node(s)"
        )
    return None
