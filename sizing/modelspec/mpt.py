"""MosaicML MPT and Replit's replit-code (model_type `mpt`, or `replit_lm` in its first release).

llm-foundry's modeling_mpt / Replit's replit_lm.py: d_model wide, n_layers blocks of n_heads (attn_config.kv_n_heads
grouped K/V when set), an MLP of expansion_ratio (mlp_ratio in replit_lm) x d_model with a GELU, no biases when
no_bias, LayerNorm, the head tied to the embedding (logits against wte), ALiBi (no position table unless
learned_pos_emb and not alibi)."""

from __future__ import annotations

from .config import COUNT_MAX, TOKENS_MAX, Config
from .decoders import HEAD_KEYS, Shape, attention, layer_count, vocab


def mpt(cfg: Config, model_type: str) -> Shape:
    attn = cfg.sub("attn_config")
    kv = attn.optional("kv_n_heads", COUNT_MAX, low=1) if attn is not None else None
    fields = attention(cfg, kv_keys=("kv_n_heads",), kv_default=kv or cfg.count(*HEAD_KEYS, high=COUNT_MAX))
    hidden = fields["hidden_size"]
    ratio = cfg.count("expansion_ratio", "mlp_ratio", high=COUNT_MAX, default=4)
    alibi = attn.flag("alibi", False) if attn is not None else cfg.flag("alibi", False)
    context = cfg.count("max_seq_len", "max_position_embeddings", high=TOKENS_MAX, default=2048)
    learned = cfg.flag("learned_pos_emb", True) and not alibi
    bias = not cfg.flag("no_bias", False)
    fields.update(
        architecture="mpt",
        n_layers=layer_count(cfg),
        ffn_size=ratio * hidden,
        gated_mlp=False,
        attn_bias=bias,
        mlp_bias=bias,
        vocab_size=vocab(cfg),
        tied_embeddings=True,
        max_context_tokens=context,
        n_learned_positions=context if learned else None,
    )
    return Shape(fields)
