"""Where the weights and the KV cache of a hybrid run live: the GPU's share and the host's, in parameters (for
FLOPs) and bytes (for memory and reads), from the model's shape and the offload mode.

- cpu: everything in RAM.
- experts: the routed experts of every MoE layer in RAM; attention, norms, dense MLPs, shared experts, routers,
  the output head and the KV cache on the GPU (llama.cpp `-ngl 99 -ot exps=CPU` / `--n-cpu-moe 999`,
  ktransformers' DeepSeek rules).
- layers: llama.cpp `-ngl N`: the last N layers with their KV cache on the GPUs (llama.cpp llm_load_tensors:
  i_gpu_start = n_layer - n_gpu_layers), the output head too once every layer is there (-ngl above n_layer).
The token embedding stays in RAM in every host mode (llama.cpp's input layer lives in host memory); a lookup reads a
few rows of it, so decode never counts it.
"""

from __future__ import annotations

from typing import NamedTuple

from sizing.specs import HybridSetup, ModelSpec, Precision

from . import recipes
from .shapes import bits_of, expert_bits, head_params, vision_bytes


class Share(NamedTuple):
    """One side's parameters: those at the run's bits (dense: attention, norms, dense MLPs, shared experts, routers),
    the routed experts (at the experts' bits) and the output head (at the embedding bits). `mlp` and `fixed` say how
    much of `dense` is dense-MLP and MoE-fixed (shared experts, router), for a per-tensor recipe's bits."""

    dense: float = 0.0
    routed: float = 0.0
    head: float = 0.0
    mlp: float = 0.0
    fixed: float = 0.0

    @property
    def params(self) -> float:
        return self.dense + self.routed + self.head

    def bytes(self, model: ModelSpec, precision: Precision) -> float:
        if precision.recipe is not None:  # each component at the recipe's bits (estimate/recipes.py)
            r = recipes.component_bits(model, precision.recipe)
            mixer = self.dense - self.mlp - self.fixed
            return (
                mixer * r.mixer + self.mlp * r.mlp + self.fixed * r.fixed + self.routed * r.routed + self.head * r.head
            ) / 8
        bits, embed_bits = bits_of(precision)
        return (self.dense * bits + self.routed * expert_bits(model, bits) + self.head * embed_bits) / 8


def _mixer_params(model: ModelSpec) -> float:
    """Attention (or linear-attention) and norm parameters of one layer, averaged over the stack."""
    attn, linear = model.attn_params_per_layer, model.linear_attn_params_per_layer
    mixers = model.n_attn_layers * attn + model.n_linear_layers * linear
    return mixers / model.n_layers + model.norm_params_per_layer


def _mlp_layers(model: ModelSpec) -> tuple[int, int]:
    """(dense-MLP layers, MoE layers), as ModelSpec.linear_params counts them."""
    with_mlp = model.n_layers if model.n_mlp_layers is None else min(model.n_mlp_layers, model.n_layers)
    return max(0, with_mlp - model.n_moe_layers), model.n_moe_layers


def gpu_layers_moe(model: ModelSpec, n_gpu: int) -> tuple[float, float]:
    """(dense-MLP layers, MoE layers) among the last n_gpu layers. Dense layers lead (DeepSeek's first 3), so the
    last layers are MoE first; an interleaved stack (Llama 4, moe_layer_step 2) takes them in proportion."""
    n_dense, n_moe = _mlp_layers(model)
    if (model.moe_layer_step or 1) == 1:
        moe = min(n_gpu, n_moe)
        return min(max(0, n_gpu - moe), n_dense), moe
    frac = n_gpu / model.n_layers
    return n_dense * frac, n_moe * frac


def shares(model: ModelSpec, hybrid: HybridSetup, experts_present: float) -> tuple[Share, Share]:
    """(GPU, host) parameters with `experts_present` routed experts per MoE layer: all of them for what is stored,
    the experts a step touches (shapes.experts_touched) for what it reads."""
    n_dense, n_moe = _mlp_layers(model)
    mixer, fixed = _mixer_params(model), (model.moe_layer_params(0) if model.is_moe else 0)
    routed = experts_present * model.expert_params
    mlp_all, fixed_all = n_dense * model.dense_mlp_params, n_moe * fixed
    total = Share(model.n_layers * mixer + mlp_all + fixed_all, n_moe * routed, head_params(model), mlp_all, fixed_all)
    if hybrid.offload == "cpu":
        return Share(), total
    if hybrid.offload == "experts":
        return Share(total.dense, 0.0, total.head, mlp_all, fixed_all), Share(0.0, total.routed, 0.0)
    if hybrid.offload == "none":
        return total, Share()
    g = min(hybrid.gpu_layers, model.n_layers)
    dense_g, moe_g = gpu_layers_moe(model, g)
    mlp_g, fixed_g = dense_g * model.dense_mlp_params, moe_g * fixed
    gpu = Share(
        g * mixer + mlp_g + fixed_g,
        moe_g * routed,
        total.head if g >= model.n_layers else 0.0,
        mlp_g,
        fixed_g,
    )
    host = Share(
        total.dense - gpu.dense, total.routed - gpu.routed, total.head - gpu.head, mlp_all - mlp_g, fixed_all - fixed_g
    )
    return gpu, host


def kv_gpu_share(model: ModelSpec, hybrid: HybridSetup) -> float:
    """The share of the KV cache (and of attention's FLOPs) on the GPUs: all of it unless layers split it, then the
    GPU layers' share (attention layers are spread over the stack)."""
    if hybrid.offload == "cpu":
        return 0.0
    if hybrid.offload == "layers":
        return min(hybrid.gpu_layers, model.n_layers) / model.n_layers
    return 1.0


def stored_bytes(model: ModelSpec, precision: Precision, hybrid: HybridSetup) -> tuple[float, float]:
    """(GPU, host) weight bytes at rest: every expert present; the embedding (and a vision tower) in RAM, except when
    nothing is offloaded. A tied head is duplicated on the GPU (llama.cpp TENSOR_DUPLICATED), so the head counts on
    its side even when tied."""
    gpu, host = shares(model, hybrid, model.n_experts or 0)
    _, embed_bits = bits_of(precision)
    if precision.recipe is not None:
        embed_bits = recipes.component_bits(model, precision.recipe).embed
    embed = model.embed_params * embed_bits / 8 + vision_bytes(model, precision)
    g, h = gpu.bytes(model, precision), host.bytes(model, precision)
    return (g + embed, h) if hybrid.offload == "none" else (g, h + embed)


def crossings(model: ModelSpec, hybrid: HybridSetup) -> int:
    """Host<->GPU copies of the hidden state per forward pass: there and back at every MoE layer with experts in
    RAM; into and out of the GPU's layers with a layer split; none with everything on one side."""
    if hybrid.offload == "experts":
        return 2 * model.n_moe_layers
    if hybrid.offload == "layers" and 0 < hybrid.gpu_layers < model.n_layers:
        return 2
    return 0
