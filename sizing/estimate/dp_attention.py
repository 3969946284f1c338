"""Attention data parallel for serving (--dp-attention): attention in replicas over the node's GPUs, the MLP or
the experts split as before.

The mechanism (SGLang DPA: docs/advanced_features/dp_dpa_smg_guide.md and python/sglang/srt/layers/dp_attention.py;
`--tp N --dp-size N --enable-dp-attention`, tp_size % dp_size == 0, attn_tp_size = tp_size / dp_size):
- the node's tp GPUs run attention as `adp` replicas of attn_tp = tp / adp GPUs. Each replica serves its own
  requests and "maintains its own KV cache (no duplication)": the busiest holds ceil(batch / adp) sequences'
  cache at attn_tp's share of the KV heads, where tensor parallel alone keeps an MLA latent (one KV head) whole on
  every GPU;
- the attention weights split attn_tp ways instead of tp (at adp = tp every GPU holds them all), and so do the
  attention FLOPs and the busiest replica's queries;
- the MLP or the routed experts stay tensor or expert parallel over all tp GPUs. Their input is gathered from the
  replicas before them and scattered back after (an all-gather and a reduce-scatter of the batch's hidden states:
  the bytes of one all-reduce over tp, Thakur et al. 2005), which replaces the attention's all-reduce over tp
  with one over attn_tp (none at attn_tp = 1).
At adp = 1 every function returns what tensor parallel gives.
"""

from __future__ import annotations

import math

from sizing.specs import Execution, ModelSpec

from . import recipes, shapes


def ways(execution: Execution) -> int:
    """The attention replicas over the node's tensor-parallel GPUs (Parallelism.adp; 1: no attention DP)."""
    return execution.parallelism.adp


def engaged(execution: Execution) -> bool:
    return ways(execution) > 1


def attention_tp(execution: Execution) -> int:
    """GPUs that split one replica's attention: tp / adp (SGLang attn_tp_size), at least 1."""
    return max(1, execution.parallelism.tp // ways(execution))


def replica_share(execution: Execution) -> float:
    """The share of the batch the busiest replica serves: ceil(batch / adp) / batch (1 without attention DP)."""
    return math.ceil(execution.batch / ways(execution)) / execution.batch


def attention_params(model: ModelSpec) -> float:
    """Parameters of the softmax-attention projections in the whole stack (ModelSpec.attn_params_per_layer in each
    softmax-attention layer: a linear-attention mixer keeps its tensor-parallel split)."""
    return model.n_attn_layers * model.attn_params_per_layer


def attention_bytes(model: ModelSpec, execution: Execution) -> float:
    """Bytes of those projections at the run's weight format (a per-tensor recipe: its bits for the non-expert
    mixers, recipes.component_bits)."""
    recipe = execution.precision.recipe
    bits = recipes.component_bits(model, recipe).mixer if recipe is not None else shapes.bits_of(execution.precision)[0]
    return attention_params(model) * bits / 8


def extra_weight_fraction(execution: Execution) -> float:
    """What each GPU holds and reads of the attention weights beyond tensor parallel's 1 / tp: 1 / attn_tp - 1 / tp."""
    return 1 / attention_tp(execution) - 1 / execution.parallelism.tp


def extra_weight_bytes(model: ModelSpec, execution: Execution) -> float:
    """Attention weight bytes one GPU holds (and a step reads) beyond the tensor-parallel share."""
    if not engaged(execution):
        return 0.0
    return attention_bytes(model, execution) * extra_weight_fraction(execution)


def attention_flop_share(execution: Execution) -> float:
    """The busiest GPU's share of the batch's attention work (projections, QK^T and AV): its replica's share of
    the sequences over attn_tp GPUs, against tensor parallel's 1 / tp of all of them."""
    return replica_share(execution) / attention_tp(execution)


def decode_flops(model: ModelSpec, execution: Execution, context_tokens: float, latent: bool) -> float:
    """A decode step's FLOPs on the busiest GPU: 2 per active weight per token (Kaplan et al. 2020) plus attention's
    QK^T and AV (shapes.attention_flops_per_token), the MLP/experts over tp GPUs and the attention (projections and
    scores) at attention_flop_share; without attention data parallel all of it over tp."""
    x = execution
    attn = 2 * attention_params(model) + shapes.attention_flops_per_token(model, context_tokens, latent)
    rest = 2 * shapes.active_matmul_params(model) - 2 * attention_params(model)
    return x.batch * (rest / x.parallelism.tp + attn * attention_flop_share(x))


def prefill_flops(model: ModelSpec, execution: Execution, mm: float, attn: float) -> tuple[float, float]:
    """The prefill's (matmul, attention) FLOPs with the attention projections and scores at the busiest GPU's
    attention_flop_share instead of 1 / tp, scaled so that prefill's division by tp gives that share (unchanged
    without attention data parallel)."""
    scale = attention_flop_share(execution) * execution.parallelism.tp
    tokens = execution.batch * execution.prompt_tokens
    return mm + 2 * attention_params(model) * tokens * (scale - 1), attn * scale


def notes(model: ModelSpec, execution: Execution) -> list[str]:
    """What the user should know about the split: replicas, the cache it no longer copies, the weights it does."""
    if not engaged(execution):
        one = execution.dp_attention and execution.parallelism.tp == 1
        return ["--dp-attention on one GPU: no replicas to split attention into"] if one else []
    adp, attn_tp = ways(execution), attention_tp(execution)
    copied = "every GPU holds all the attention weights" if attn_tp == 1 else f"attention split {attn_tp} ways"
    cache = "the MLA latent cache is no longer copied to every GPU; " if model.is_mla else ""
    return [
        f"attention data parallel: {adp} replicas, each with its own requests and KV cache ({cache}{copied}); "
        "the MLP/experts gather the replicas' tokens before them and scatter them after"
    ]
