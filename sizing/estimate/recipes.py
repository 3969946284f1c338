"""Weights under a per-tensor recipe (data/quant_recipes.csv): parameters per tensor class from the model's shape
(ModelSpec's per-layer counts, split the way GGUF files name the tensors) times each class's bits.

The classes group into the components placement.py moves between GPU and host: the mixers (attention and norms of
every layer), the dense MLPs, the MoE layers' fixed part (shared experts and router), the routed experts, the head
and the embedding. Each component's bits are the parameter-weighted mean over its classes and layers, so the bytes
of a component are exact where it moves whole (no offload, `-ot exps=CPU`, CPU only) and a layer-count share of it
under a layer split.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from sizing.specs import ModelSpec, QuantRecipe


class Bits(NamedTuple):
    """Bits per weight of each component under a recipe."""

    mixer: float
    mlp: float
    fixed: float
    routed: float
    head: float
    embed: float


def attention_classes(model: ModelSpec) -> dict[str, float]:
    """One attention layer's parameters per GGUF tensor (biases ride with their projection). MLA (DeepSeek-V2 paper
    §2.1.2, eq. 9-14; llama.cpp LLM_TENSOR_ATTN_Q_A/Q_B/KV_A_MQA/KV_B/OUT): the low-rank q (or a full q without
    q_lora_rank), the joint kv compression, its up-projection and the output; V3.2's indexer on its own. GQA: q, k,
    v and output (ModelSpec.attn_params_per_layer)."""
    h, nh = model.hidden_size, model.n_heads
    if model.is_mla:
        rope, nope, v = model.qk_rope_head_dim or 0, model.qk_nope_head_dim or 0, model.v_head_dim or 0
        r_kv, r_q = model.kv_lora_rank or 0, model.q_lora_rank or 0
        q = {"attn_q_a": h * r_q, "attn_q_b": r_q * nh * (nope + rope)} if r_q else {"attn_q": h * nh * (nope + rope)}
        return {
            **q,
            "attn_kv_a": h * (r_kv + rope),
            "attn_kv_b": r_kv * nh * (nope + v),
            "attn_output": nh * v * h,
            "attn_indexer": model.indexer_params_per_layer,
        }
    hd, nkv = model.head_dim, model.n_kv_heads
    bias = model.attn_bias
    return {
        "attn_q": h * nh * hd + (nh * hd if bias else 0),
        "attn_k": h * nkv * hd + (nkv * hd if bias else 0),
        "attn_v": h * nkv * hd + (nkv * hd if bias else 0),
        "attn_output": nh * hd * h,
    }


def _mean(parts: Sequence[tuple[float, float]]) -> float:
    """Parameter-weighted mean bits of (params, bits) pairs; the first pair's bits when there are no parameters."""
    total = sum(p for p, _ in parts)
    return sum(p * b for p, b in parts) / total if total else parts[0][1]


def n_dense_mlp_layers(model: ModelSpec) -> int:
    """Layers with a dense MLP (ModelSpec.linear_params: those with an MLP less the MoE layers)."""
    with_mlp = model.n_layers if model.n_mlp_layers is None else min(model.n_mlp_layers, model.n_layers)
    return max(0, with_mlp - model.n_moe_layers)


def stacks(model: ModelSpec) -> tuple[range, range, range]:
    """(attention layers, dense-MLP layers, MoE layers) as indices into the stack: the dense layers lead (DeepSeek's
    first_k_dense_replace), the MoE layers follow (an interleaved stack is taken as its last n_moe layers)."""
    n = model.n_layers
    n_dense = n_dense_mlp_layers(model)
    return range(n), range(min(n_dense, n)), range(n - model.n_moe_layers, n)


@lru_cache(maxsize=256)  # pure in frozen inputs; the estimator asks once per share, step and sample
def component_bits(model: ModelSpec, recipe: QuantRecipe) -> Bits:
    """Each component's bits: attention classes and norm vectors over the layers (linear-attention mixers at their
    class); dense gate/up and down (a non-gated MLP has one up matrix) over the dense layers; shared expert gate/up
    and down with the router (f32 in GGUF, llama-quant.cpp leaves ffn_gate_inp unquantized) and the routed gate/up
    (two of an expert's three matrices) and down over the MoE layers, each layer at the row its layer rule picks
    (unsloth's first MoE down_proj, llama.cpp's use_more_bits layers)."""
    n = model.n_layers
    attn_layers, dense_layers, moe_layers = stacks(model)
    n_attn, n_lin = model.n_attn_layers, model.n_linear_layers

    def b(cls: str, layers: range | None = None) -> float:
        return recipe.bits(cls, layers, n)

    mixer = [(n_attn * p, b(c, attn_layers)) for c, p in attention_classes(model).items()]
    mixer += [(n_lin * model.linear_attn_params_per_layer, b("linear_attn", attn_layers))]
    mixer += [(n * model.norm_params_per_layer, b("norms"))]
    n_up = 2 if model.gated_mlp else 1
    h, f = model.hidden_size, model.ffn_size
    mlp = [(n_up * h * f, b("dense_gate_up", dense_layers)), (h * f, b("dense_down", dense_layers))]
    third = model.expert_params / 3
    shared = (model.n_shared_experts or 0) * third
    fixed = [(2 * shared, b("shexp_gate_up", moe_layers)), (shared, b("shexp_down", moe_layers))]
    fixed += [(h * (model.n_experts or 0), b("router"))]
    routed = _mean([(2 * third, b("exps_gate_up", moe_layers)), (third, b("exps_down", moe_layers))])
    if model.expert_weight_bits:  # the checkpoint's own expert format is never widened (shapes.expert_bits)
        routed = min(routed, model.expert_weight_bits)
    head = b("token_embd") if model.tied_embeddings else b("output")  # a tied head multiplies the embedding
    return Bits(_mean(mixer), _mean(mlp), _mean(fixed), routed, head, b("token_embd"))


def block_bytes(model: ModelSpec, recipe: QuantRecipe, experts_present: float) -> float:
    """Block weights in bytes with `experts_present` routed experts per MoE layer: mixers, dense MLPs, the MoE
    layers' fixed part and the routed experts, each at its component's bits."""
    bits = component_bits(model, recipe)
    mixers = (
        model.n_attn_layers * model.attn_params_per_layer + model.n_linear_layers * model.linear_attn_params_per_layer
    )
    mixers += model.n_layers * model.norm_params_per_layer
    mlp = n_dense_mlp_layers(model) * model.dense_mlp_params
    fixed = model.n_moe_layers * model.moe_layer_params(0) if model.is_moe else 0
    routed = model.n_moe_layers * experts_present * model.expert_params
    return (mixers * bits.mixer + mlp * bits.mlp + fixed * bits.fixed + routed * bits.routed) / 8
