"""Attention data parallel for serving (--dp-attention): attention in replicas over the node's GPUs, each with its
own requests and their KV cache, the routed experts (or the MLP) split over all of them.

Two layouts, by engine (engines.csv dp_attention):
- "attention", SGLang DPA (docs/advanced_features/dp_dpa_smg_guide.md, python/sglang/srt/layers/dp_attention.py;
  `--tp N --dp-size N --enable-dp-attention`, tp_size % dp_size == 0, attn_tp_size = tp_size / dp_size): the
  attention runs as `adp` replicas of attn_tp = tp / adp GPUs; the MLP, the shared and the routed experts stay
  tensor or expert parallel over all tp GPUs;
- "dense", vLLM's data-parallel ranks of an MoE model (docs/serving/data_parallel_deployment.md: each DP rank is its
  own engine with its own TP workers, "expert layers form a tensor parallel group of size DP x TP", or expert
  parallel with --enable-expert-parallel): every layer but the routed experts (attention, dense MLPs, shared
  experts, router, embedding and head) lives whole on each rank's attn_tp GPUs.
In both, each replica "maintains its own KV cache (no duplication)": the busiest holds ceil(batch / adp) sequences'
cache at attn_tp's share of the KV heads, where tensor parallel alone keeps an MLA latent (one KV head) whole on
every GPU. What a replica holds whole it reads whole each step and computes for its own sequences. The split layers
take their input gathered from the replicas and scatter it back (an all-gather and a reduce-scatter of the batch's
hidden states: the bytes of one all-reduce over tp, Thakur et al. 2005); the attention's all-reduce runs over attn_tp
(none at attn_tp = 1), and so do those of the layers a replica holds whole.
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
    """The share of the batch the busiest replica serves: ceil(sequences / adp) / sequences (1 without attention
    DP). A sequence lives on one replica, so a verify step's n + 1 tokens of it do too (Execution.verify_tokens)."""
    seqs = max(1, execution.batch // execution.verify_tokens)
    return math.ceil(seqs / ways(execution)) / seqs


def attention_params(model: ModelSpec) -> float:
    """Parameters of the softmax-attention projections in the whole stack (ModelSpec.attn_params_per_layer in each
    softmax-attention layer: a linear-attention mixer keeps its tensor-parallel split)."""
    return model.n_attn_layers * model.attn_params_per_layer


def replicates_dense(execution: Execution) -> bool:
    """Whether each replica holds every layer but the routed experts (vLLM), not the attention alone (SGLang)."""
    return engaged(execution) and execution.engine.dp_attention == "dense"


def replicated_params(model: ModelSpec, execution: Execution) -> float:
    """The weights a token multiplies through that each replica holds whole: the attention projections, or under
    the "dense" layout all but the routed experts (the active ones: top_k per MoE layer), the head included."""
    if not replicates_dense(execution):
        return attention_params(model)
    routed = model.n_moe_layers * (model.n_active_experts or 0) * model.expert_params if model.is_moe else 0
    return shapes.active_matmul_params(model) - routed


def _bits(model: ModelSpec, execution: Execution) -> tuple[float, float]:
    """(block bits of the replicated layers, head bits) at the run's weight format (a per-tensor recipe: its
    mixers' bits and its head's, recipes.component_bits)."""
    recipe = execution.precision.recipe
    if recipe is not None:
        bits = recipes.component_bits(model, recipe)
        return bits.mixer, bits.head
    return shapes.bits_of(execution.precision)


def replicated_bytes(model: ModelSpec, execution: Execution) -> tuple[float, float]:
    """(held, read per step) bytes of what each replica holds whole: the attention projections; under the "dense"
    layout the block weights but the routed experts (shapes.routed_bytes) plus the embedding, head and vision
    tower held, of which a step reads the blocks and the head (an embedding lookup reads a row)."""
    block_bits, head_bits = _bits(model, execution)
    if not replicates_dense(execution):
        held = attention_params(model) * block_bits / 8
        return held, held
    blocks, other = shapes.weight_bytes(model, execution.precision)
    dense = blocks - shapes.routed_bytes(model, execution.precision, float(model.n_experts or 0))
    return dense + other, dense + shapes.head_params(model) * head_bits / 8


def extra_weight_fraction(execution: Execution) -> float:
    """What each GPU holds and reads of the replicated weights beyond tensor parallel's 1 / tp: 1 / attn_tp - 1 / tp."""
    return 1 / attention_tp(execution) - 1 / execution.parallelism.tp


def extra_weight_bytes(model: ModelSpec, execution: Execution, read: bool = False) -> float:
    """Replicated weight bytes one GPU holds (or, with `read`, a decode step reads) beyond the tensor-parallel
    share."""
    if not engaged(execution):
        return 0.0
    held, per_step = replicated_bytes(model, execution)
    return (per_step if read else held) * extra_weight_fraction(execution)


def attention_flop_share(execution: Execution) -> float:
    """The busiest GPU's share of the batch's attention work (projections, QK^T and AV): its replica's share of
    the sequences over attn_tp GPUs, against tensor parallel's 1 / tp of all of them."""
    return replica_share(execution) / attention_tp(execution)


def decode_flops(model: ModelSpec, execution: Execution, context_tokens: float, latent: bool) -> float:
    """A decode step's FLOPs on the busiest GPU: 2 per active weight per token (Kaplan et al. 2020) plus attention's
    QK^T and AV (shapes.attention_flops_per_token), the split layers over tp GPUs and what a replica holds whole
    (replicated_params) with the scores at attention_flop_share; without attention data parallel all of it over tp."""
    x = execution
    whole = 2 * replicated_params(model, x)
    attn = whole + shapes.attention_flops_per_token(model, context_tokens, latent)
    rest = 2 * shapes.active_matmul_params(model) - whole
    return x.batch * (rest / x.parallelism.tp + attn * attention_flop_share(x))


def prefill_flops(model: ModelSpec, execution: Execution, mm: float, attn: float) -> tuple[float, float]:
    """The prefill's (matmul, attention) FLOPs with the replicated weights and the scores at the busiest GPU's
    attention_flop_share instead of 1 / tp, scaled so that prefill's division by tp gives that share (unchanged
    without attention data parallel)."""
    scale = attention_flop_share(execution) * execution.parallelism.tp
    tokens = execution.batch * execution.prompt_tokens
    # the head multiplies only the tokens whose logits are kept (prefill's logit_tokens), not every prompt token
    whole = replicated_params(model, execution) - (shapes.head_params(model) if replicates_dense(execution) else 0)
    return mm + 2 * whole * tokens * (scale - 1), attn * scale


def notes(model: ModelSpec, execution: Execution) -> list[str]:
    """What the user should know about the split, one sentence each (en.json text.note.dpa_*: each is said again in
    the user's language): the replicas, the cache it no longer copies, the weights it does copy, the collectives."""
    x = execution
    if not engaged(x):
        if x.dp_attention and x.parallelism.pp > 1:  # Parallelism.for_engine: one node's GPUs only
            return ["--dp-attention is not modelled across nodes: each node's stage runs tensor parallel"]
        return ["--dp-attention on one GPU: no replicas to split attention into"] if x.dp_attention else []
    adp, attn_tp = ways(x), attention_tp(x)
    what = "every layer but the routed experts" if replicates_dense(x) else "the attention weights"
    out = [f"attention data parallel: {adp} replicas, each with its own requests and their KV cache"]
    if model.is_mla:
        out.append("the MLA latent cache is no longer copied to every GPU")
    out.append(f"every GPU holds {what} whole" if attn_tp == 1 else f"{what} split {attn_tp} ways")
    out.append("the split layers gather the replicas' tokens before them and scatter them after")
    if not model.is_mla and model.n_kv_heads >= x.parallelism.tp:  # SGLang's guide: TP or plain DP for GQA
        out.append(
            f"{model.name}'s {model.n_kv_heads} KV heads already split over {x.parallelism.tp} GPUs: attention data "
            "parallel saves it no cache and adds weights"
        )
    return out
