"""What a model's shape implies, with no engine in sight: bytes of weights and cache, FLOPs per token.

`latent` says whether the MLA latent is kept as such (engines with MLA kernels) or decompressed per head.
"""

from __future__ import annotations

from sizing.specs import ModelSpec, Precision


def bits_of(precision: Precision) -> tuple[float, float]:
    """(bits per block weight, bits per embedding/head weight). Quantizers convert the blocks; GPTQ/AWQ/bnb keep
    embeddings and lm_head in 16 bit (embed_bits), GGUF mixes fold them into the whole-model bits per weight."""
    bits = precision.weight_bits or 16.0
    return bits, precision.embed_bits or bits


def kv_bits_of(kv_precision: Precision) -> float:
    return kv_precision.weight_bits or 16.0


def weight_bytes(model: ModelSpec, precision: Precision) -> tuple[float, float]:
    """(block weights, embedding + lm_head) in bytes."""
    bits, embed_bits = bits_of(precision)
    return model.linear_params * bits / 8, (model.embed_params + model.lm_head_params) * embed_bits / 8


def model_file_bytes(model: ModelSpec, precision: Precision) -> float:
    """The checkpoint on disk and in RAM while loading."""
    return sum(weight_bytes(model, precision))


def n_sliding_layers(model: ModelSpec) -> int:
    return min(model.n_sliding_layers or 0, model.n_layers) if model.sliding_window_tokens else 0


def layer_tokens(model: ModelSpec, tokens: float) -> float:
    """Sum over layers of the tokens each layer attends to or caches: sliding-window layers stop at the window."""
    n_sliding = n_sliding_layers(model)
    window = min(tokens, model.sliding_window_tokens or tokens)
    return (model.n_layers - n_sliding) * tokens + n_sliding * window


def kv_elems_per_token_layer(model: ModelSpec, latent: bool) -> float:
    """Cache elements one token adds to one layer.
    GQA: K and V of n_kv_heads x head_dim (vLLM KV-cache spec; hardware.md §4.4).
    MLA: one latent of kv_lora_rank + rope dims (DeepSeek-V2 paper §2.1.2) where the engine keeps the latent;
    engines without MLA kernels cache the decompressed K (nope+rope) and V per head."""
    if model.is_mla:
        if latent:
            return (model.kv_lora_rank or 0) + (model.qk_rope_head_dim or 0)
        return model.n_heads * ((model.qk_nope_head_dim or 0) + (model.qk_rope_head_dim or 0) + (model.v_head_dim or 0))
    return 2 * model.n_kv_heads * model.head_dim


def kv_cache_bytes(model: ModelSpec, latent: bool, kv_bits: float, tokens: float) -> float:
    """Cache of one sequence holding `tokens` tokens; sliding-window layers keep at most the window."""
    return kv_elems_per_token_layer(model, latent) * kv_bits / 8 * layer_tokens(model, tokens)


def ffn_width_per_token(model: ModelSpec) -> int:
    """Intermediate activations one token produces in the MLP: routed tokens go to k experts (+ shared ones)."""
    if model.is_moe:
        return (model.expert_ffn_size or 0) * ((model.n_active_experts or 0) + (model.n_shared_experts or 0))
    return model.ffn_size


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
    linear = float(model.linear_params)
    if model.is_moe:
        linear -= model.n_moe_layers * ((model.n_experts or 0) - experts_touched(model, batch)) * model.expert_params
    return linear * bits / 8 + model.vocab_size * model.hidden_size * embed_bits / 8


def head_params(model: ModelSpec) -> int:
    """The output projection each token multiplies through (tied or not)."""
    return model.vocab_size * model.hidden_size


def active_matmul_params(model: ModelSpec) -> float:
    """Weights each token multiplies through (2 FLOPs each, Kaplan et al. 2020): blocks with only the active
    experts, plus the output head."""
    active_blocks = model.derived_active_params - model.embed_params - model.lm_head_params
    return active_blocks + head_params(model)


def attention_flops_per_token(model: ModelSpec, context: float, latent: bool) -> float:
    """QK^T and AV for one new token against `context` cached tokens: 2*n_heads*(d_qk + d_v)*ctx per layer
    (kipply's inference arithmetic). MLA: the expanded form uses the nope+rope query and v_head dims; engines that
    keep the latent run the absorbed form, QK over kv_lora_rank+rope and AV over kv_lora_rank (DeepSeek-V2 §2.1.3)."""
    if model.is_mla and latent:
        dims = 2 * (model.kv_lora_rank or 0) + (model.qk_rope_head_dim or 0)
    elif model.is_mla:
        dims = (model.qk_nope_head_dim or 0) + (model.qk_rope_head_dim or 0) + (model.v_head_dim or 0)
    else:
        dims = 2 * model.head_dim
    return 2 * model.n_heads * dims * layer_tokens(model, context)


def prefill_attention_flops(model: ModelSpec, prompt: float, latent: bool) -> float:
    """Causal attention over a prompt: the per-token cost summed over positions 0..P, i.e. the cost at context P
    with every layer's attended tokens integrated: full layers P^2/2, sliding layers P*w - w^2/2 (P > w)."""
    if prompt <= 0:
        return 0.0
    per_token_per_ctx = attention_flops_per_token(model, 1.0, latent) / model.n_layers  # one layer, one token
    n_sliding = n_sliding_layers(model)
    window = model.sliding_window_tokens or prompt
    sliding = prompt * window - window**2 / 2 if prompt > window else prompt**2 / 2
    return per_token_per_ctx * ((model.n_layers - n_sliding) * prompt**2 / 2 + n_sliding * sliding)
