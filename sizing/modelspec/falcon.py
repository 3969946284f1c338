"""Falcon (tiiuae): the original RefinedWeb/RefinedWebModel configs and the in-library `falcon` ones.

HF modeling_falcon: the K/V heads are one (multi_query, Falcon-7B/RW-1B), num_kv_heads groups under
new_decoder_architecture (Falcon-40B/180B; the RefinedWeb model_type implies it, with n_head_kv), or all heads
otherwise; query_key_value, dense and the 4 x width MLP (ffn_hidden_size when set) take `bias`; attention and MLP
run in parallel off one or two LayerNorms; the head is tied to the embedding (tie_word_embeddings defaults true);
ALiBi or RoPE add no parameters."""

from __future__ import annotations

from .config import COUNT_MAX, FFN_MAX, TOKENS_MAX, Config
from .decoders import HEAD_KEYS, Shape, attention, layer_count, vocab


def _kv_heads(cfg: Config, model_type: str) -> tuple[tuple[str, ...], int | None]:
    """(keys that give the K/V head count, the count when none does)."""
    new_arch = cfg.flag("new_decoder_architecture", model_type == "RefinedWeb")
    if new_arch:
        return ("num_kv_heads", "n_head_kv", "num_key_value_heads"), None
    if cfg.flag("multi_query", True):
        return ("n_head_kv",), 1
    return ("num_kv_heads", "n_head_kv"), None


def falcon(cfg: Config, model_type: str) -> Shape:
    kv_keys, kv_default = _kv_heads(cfg, model_type)
    if kv_default is None and not any(cfg.has(k) for k in kv_keys):
        kv_default = cfg.count(*HEAD_KEYS, high=COUNT_MAX)  # no grouping key: every head has its K and V
    fields = attention(cfg, kv_keys=kv_keys, kv_default=kv_default)
    hidden = fields["hidden_size"]
    bias = cfg.flag("bias", False)
    cfg.flag("parallel_attn", True)
    cfg.flag("alibi", False)
    fields.update(
        architecture="falcon",
        n_layers=layer_count(cfg),
        ffn_size=cfg.count("ffn_hidden_size", high=FFN_MAX, default=4 * hidden),
        gated_mlp=False,
        attn_bias=bias,
        mlp_bias=bias,
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", True),
        max_context_tokens=cfg.count("max_position_embeddings", high=TOKENS_MAX, default=2048),
    )
    return Shape(fields)
