"""Microsoft Phi-1/1.5/2 in their three published formats: the original remote-code ones (`mixformer-sequential`,
then `phi-msft`: n_embd, n_layer, n_head, n_head_kv, n_inner, rotary_dim) and the in-library `phi` (hidden_size,
intermediate_size, partial_rotary_factor). All three: one LayerNorm per block with attention and MLP in parallel,
biases on Wqkv/out_proj and fc1/fc2 (a GELU MLP of 4 x width when n_inner is null), an untied lm_head with bias.
Phi-3 and Phi-4 are Llama-style (common.llama)."""

from __future__ import annotations

from .config import DIM_MAX, FFN_MAX, TOKENS_MAX, Config
from .decoders import Shape, attention, layer_count, vocab


def phi(cfg: Config, model_type: str) -> Shape:
    fields = attention(cfg, kv_keys=("num_key_value_heads", "n_head_kv"))
    hidden = fields["hidden_size"]
    cfg.optional("rotary_dim", DIM_MAX)
    cfg.raw("partial_rotary_factor")  # rotary on part of each head: no parameters
    cfg.raw("architecture")  # mixformer's block layout (parallel attention and MLP)
    fields.update(
        architecture="phi",
        n_layers=layer_count(cfg),
        ffn_size=cfg.count("intermediate_size", "n_inner", high=FFN_MAX, default=4 * hidden),
        gated_mlp=False,
        attn_bias=True,
        mlp_bias=True,
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        max_context_tokens=cfg.count("max_position_embeddings", "n_positions", high=TOKENS_MAX, default=2048),
    )
    return Shape(fields)
