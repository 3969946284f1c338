"""What a model's shape implies, with no engine in sight: bytes of weights and cache, FLOPs per token.

`latent` says whether the MLA latent is kept as such (engines with MLA kernels) or decompressed per head.
"""

from __future__ import annotations

from sizing.specs import ModelSpec, Precision

from . import recipes


def bits_of(precision: Precision) -> tuple[float, float]:
    """(bits per block weight, bits per embedding/head weight). Quantizers convert the blocks; GPTQ/AWQ/bnb keep
    embeddings and lm_head in 16 bit (embed_bits), GGUF mixes fold them into the whole-model bits per weight."""
    bits = precision.weight_bits or 16.0
    return bits, precision.embed_bits or bits


def kv_bits_of(kv_precision: Precision) -> float:
    return kv_precision.weight_bits or 16.0


VISION_BITS = 16.0  # quantized checkpoints leave the vision tower in bf16 (llama.cpp ships it as an f16 mmproj file;
# AWQ/GPTQ/FP8 recipes list the visual modules in their ignore lists, e.g. RedHatAI's Qwen2.5-VL FP8 recipes)


def expert_bits(model: ModelSpec, bits: float) -> float:
    """Bits of the routed experts: the checkpoint's own expert format where it has one (gpt-oss: MXFP4, 4-bit
    E2M1 values + one 8-bit E8M0 scale per 32 = 4.25 bits, OCP MX spec v1.0 §5), never more bits than the rest
    (a quantizer does not widen them), otherwise the run's precision."""
    return min(model.expert_weight_bits, bits) if model.expert_weight_bits else bits


def block_bytes(model: ModelSpec, bits: float, experts_present: float) -> float:
    """Block weights in bytes with `experts_present` routed experts per MoE layer (all, or those a step touches);
    the routed experts at expert_bits."""
    linear = float(model.linear_params)
    if model.is_moe:
        linear -= model.n_moe_layers * ((model.n_experts or 0) - experts_present) * model.expert_params
    if not model.expert_weight_bits:
        return linear * bits / 8
    routed = model.n_moe_layers * experts_present * model.expert_params
    return (linear - routed) * bits / 8 + routed * expert_bits(model, bits) / 8


def routed_bytes(model: ModelSpec, precision: Precision, n_experts: float) -> float:
    """Bytes of n routed experts in every MoE layer (at the experts' own bits or the recipe's)."""
    if precision.recipe is not None:
        return recipes.block_bytes(model, precision.recipe, n_experts) - recipes.block_bytes(model, precision.recipe, 0)
    bits = bits_of(precision)[0]
    return block_bytes(model, bits, n_experts) - block_bytes(model, bits, 0)


def vision_bytes(model: ModelSpec, precision: Precision) -> float:
    """The vision/audio tower: in bf16 whatever the LLM's format (VISION_BITS), f32 when the run is f32."""
    return (model.n_vision_params or 0) * max(VISION_BITS, bits_of(precision)[0]) / 8


def weight_bytes(model: ModelSpec, precision: Precision) -> tuple[float, float]:
    """(block weights, embedding + lm_head + vision tower) in bytes. The tower sits with the embedding: it runs
    before the first layer and is not split by layers."""
    if precision.recipe is not None:  # per-tensor bits: token_embd and output at their own types
        r = recipes.component_bits(model, precision.recipe)
        other = (model.embed_params * r.embed + model.lm_head_params * r.head) / 8 + vision_bytes(model, precision)
        return recipes.block_bytes(model, precision.recipe, model.n_experts or 0), other
    bits, embed_bits = bits_of(precision)
    other = (model.embed_params + model.lm_head_params) * embed_bits / 8 + vision_bytes(model, precision)
    return block_bytes(model, bits, model.n_experts or 0), other


def model_file_bytes(model: ModelSpec, precision: Precision) -> float:
    """The checkpoint on disk and in RAM while loading."""
    return sum(weight_bytes(model, precision))


STATE_BITS = 16.0  # linear-attention / SSM state in the model dtype (vLLM CacheConfig mamba_cache_dtype "auto")
INDEX_KEY_BITS = 8.25  # V3.2 indexer keys: fp8 + one fp32 scale per 128 (DeepSeek-V3.2-Exp inference/model.py)


def n_sliding_layers(model: ModelSpec) -> int:
    """Sliding-window layers among the attention layers (linear-attention layers have no window)."""
    return min(model.n_sliding_layers or 0, model.n_attn_layers) if model.sliding_window_tokens else 0


def layer_tokens(model: ModelSpec, tokens: float) -> float:
    """Sum over attention layers of the tokens each caches: sliding-window layers stop at the window; linear-
    attention layers cache none (their state is fixed, linear_state_bytes)."""
    n_sliding = n_sliding_layers(model)
    window = min(tokens, model.sliding_window_tokens or tokens)
    return (model.n_attn_layers - n_sliding) * tokens + n_sliding * window


def attended_tokens(model: ModelSpec, tokens: float) -> float:
    """Sum over attention layers of the tokens one query attends to: the cache, but at most index_topk where a
    sparse-attention indexer selects them (DeepSeek-V3.2: top-2048)."""
    return layer_tokens(model, min(tokens, model.index_topk or tokens))


def linear_state_bytes(model: ModelSpec) -> float:
    """The fixed per-sequence state of the linear-attention layers (Gated DeltaNet: heads x d_k x d_v recurrent
    state + the short-convolution window; Mamba2: heads x head_dim x d_state + conv), whatever the context."""
    return model.n_linear_layers * (model.linear_attn_state_elems or 0) * STATE_BITS / 8


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


def index_key_bytes(model: ModelSpec) -> float:
    """The V3.2 indexer key one token adds to one layer: index_head_dim fp8 values + their scale (INDEX_KEY_BITS)."""
    return (model.index_head_dim or 0) * INDEX_KEY_BITS / 8


def token_cache_bytes(model: ModelSpec, latent: bool, kv_bits: float, tokens: float) -> float:
    """The part of one sequence's cache that grows with its `tokens`: K/V or latent entries (sliding-window layers
    keep at most the window) and, for V3.2, one fp8 indexer key per token and layer beside the latent."""
    per_token = kv_elems_per_token_layer(model, latent) * kv_bits / 8 + index_key_bytes(model)
    return per_token * layer_tokens(model, tokens)


def kv_cache_bytes(model: ModelSpec, latent: bool, kv_bits: float, tokens: float) -> float:
    """Cache of one sequence holding `tokens` tokens: token_cache_bytes plus the linear-attention layers' fixed
    state."""
    return token_cache_bytes(model, latent, kv_bits, tokens) + linear_state_bytes(model)


def kv_bytes_per_token(model: ModelSpec, latent: bool, kv_bits: float) -> float:
    """What one more token adds to a sequence's cache: kv_cache_bytes without the fixed linear-attention state
    (kv_cache_bytes at 1 token is the cache of a 1-token sequence, state included)."""
    return token_cache_bytes(model, latent, kv_bits, 1.0)


def decode_token_read_bytes(model: ModelSpec, latent: bool, kv_bits: float, tokens: float) -> float:
    """The token-proportional cache one decode step reads for one sequence at depth `tokens` (the fixed state comes
    on top). Dense attention reads every entry (= token_cache_bytes). Under DeepSeek Sparse Attention the lightning
    indexer reads the key of every cached token, then the MLA reads only the index_topk selected latents per layer
    (DeepSeek-V3.2-Exp paper §1, eq. 1-2: the indexer scores all preceding tokens, attention "retrieves only the
    key-value entries corresponding to the top-k index scores"; vLLM v1/attention/backends/mla/flashmla_sparse.py
    FlashMLASparseBackend gathers the latent cache at topk_indices)."""
    entries = kv_elems_per_token_layer(model, latent) * kv_bits / 8 * attended_tokens(model, tokens)
    return entries + index_key_bytes(model) * layer_tokens(model, tokens)


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
    experts) plus the output head; the embedding lookup reads only a few rows. Under a recipe each component at its
    own bits (estimate/recipes.py), the head at the output tensor's."""
    if precision.recipe is not None:
        head_bits = recipes.component_bits(model, precision.recipe).head
        touched = recipes.block_bytes(model, precision.recipe, experts_touched(model, batch))
        return touched + model.vocab_size * model.hidden_size * head_bits / 8
    bits, embed_bits = bits_of(precision)
    return (
        block_bytes(model, bits, experts_touched(model, batch)) + model.vocab_size * model.hidden_size * embed_bits / 8
    )


def head_params(model: ModelSpec) -> int:
    """The output projection each token multiplies through (tied or not)."""
    return model.vocab_size * model.hidden_size


def active_matmul_params(model: ModelSpec) -> float:
    """Weights each token multiplies through (2 FLOPs each, Kaplan et al. 2020): blocks with only the active
    experts, plus the output head; the vision tower runs per image, not per text token."""
    active_blocks = model.derived_active_params - model.embed_params - model.lm_head_params
    return active_blocks + head_params(model)


def mixer_flops_per_token(model: ModelSpec, context: float) -> float:
    """What attention costs beyond the projections for one new token: the V3.2 indexer scores every cached token
    (2 x index heads x index dim per token and layer, fp8 in DeepSeek's kernels), and each linear-attention layer
    touches its state three times (delta rule S k, the rank-1 update, the read-out S q: Yang et al. 2024, Gated
    Delta Networks eq. 3; 2 FLOPs per state element each)."""
    index = 2 * (model.index_n_heads or 0) * (model.index_head_dim or 0) * layer_tokens(model, context)
    return index + 6 * model.n_linear_layers * (model.linear_attn_state_elems or 0)


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
    return 2 * model.n_heads * dims * attended_tokens(model, context) + mixer_flops_per_token(model, context)


def causal_tokens(prompt: float, window: float | None) -> float:
    """Tokens attended summed over the positions of a causal prompt: P^2/2, or P*w - w^2/2 when each query sees at
    most w of them (a sliding window, or a sparse-attention top-k) and P > w."""
    if window is None or prompt <= window:
        return prompt**2 / 2
    return prompt * window - window**2 / 2


def prefill_attention_flops(model: ModelSpec, prompt: float, latent: bool) -> float:
    """Causal attention over a prompt: the per-token cost summed over positions 0..P, i.e. the cost at context P
    with every layer's attended tokens integrated: full layers P^2/2, sliding layers P*w - w^2/2 (P > w), layers
    under a top-k indexer P*k - k^2/2; the indexer itself scores all P^2/2; linear-attention state work grows
    with P only."""
    if prompt <= 0:
        return 0.0
    no_mixer = attention_flops_per_token(model, 1.0, latent) - mixer_flops_per_token(model, 1.0)
    per_token_per_ctx = no_mixer / model.n_attn_layers if model.n_attn_layers else 0.0  # one layer, one token
    n_sliding = n_sliding_layers(model)
    sliding = causal_tokens(prompt, model.sliding_window_tokens or prompt)
    attended = (model.n_attn_layers - n_sliding) * causal_tokens(prompt, model.index_topk) + n_sliding * sliding
    cached = (model.n_attn_layers - n_sliding) * prompt**2 / 2 + n_sliding * sliding
    index = 2 * (model.index_n_heads or 0) * (model.index_head_dim or 0) * cached
    state = 6 * model.n_linear_layers * (model.linear_attn_state_elems or 0) * prompt
    return per_token_per_ctx * attended + index + state
