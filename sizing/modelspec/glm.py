"""THUDM/Zhipu ChatGLM as published with its own modeling code (model_type `chatglm`).

ChatGLM-6B (the first, modeling_chatglm.py of THUDM/chatglm-6b): num_layers GLM blocks of full multi-head attention
with biases, a GELU MLP of inner_hidden_size (4 x width), 2D rotary positions, a head tied to the 130,528-token
embedding. ChatGLM2/3-6B and GLM-4-9B-chat: multi_query_group_num K/V groups of kv_channels when
multi_query_attention, q/k/v bias (add_qkv_bias), a SwiGLU MLP of ffn_hidden_size (dense_h_to_4h is 2 x wide),
RMSNorm, padded_vocab_size, a separate output_layer."""

from __future__ import annotations

from .config import COUNT_MAX, FFN_MAX, TOKENS_MAX, Config
from .decoders import HEAD_KEYS, Shape, attention, layer_count, vocab


def _first(cfg: Config, model_type: str) -> Shape:
    fields = attention(cfg, kv_keys=("num_key_value_heads",))
    hidden = fields["hidden_size"]
    cfg.flag("position_encoding_2d", True)
    fields.update(
        architecture=model_type,
        n_layers=layer_count(cfg),
        ffn_size=cfg.count("inner_hidden_size", "ffn_hidden_size", high=FFN_MAX, default=4 * hidden),
        gated_mlp=False,
        attn_bias=True,
        mlp_bias=True,
        vocab_size=vocab(cfg, "vocab_size", "padded_vocab_size"),
        tied_embeddings=cfg.flag("tie_word_embeddings", True),
        max_context_tokens=cfg.count("max_sequence_length", "seq_length", high=TOKENS_MAX, default=2048),
    )
    return Shape(fields)


def chatglm(cfg: Config, model_type: str) -> Shape:
    if cfg.has("inner_hidden_size") or cfg.has("position_encoding_2d"):
        return _first(cfg, model_type)
    grouped = cfg.flag("multi_query_attention", False)
    kv_default = None if grouped else cfg.count(*HEAD_KEYS, high=COUNT_MAX)
    fields = attention(
        cfg, kv_keys=("multi_query_group_num",) if grouped else ("num_key_value_heads",), kv_default=kv_default
    )
    fields.update(
        architecture=model_type,
        n_layers=layer_count(cfg),
        ffn_size=cfg.count("ffn_hidden_size", "intermediate_size", high=FFN_MAX, what="the MLP width"),
        gated_mlp=True,
        attn_bias=cfg.flag("add_qkv_bias", False),
        mlp_bias=cfg.flag("add_bias_linear", False),
        vocab_size=vocab(cfg, "padded_vocab_size", "vocab_size"),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        max_context_tokens=cfg.count("seq_length", "max_position_embeddings", high=TOKENS_MAX, default=2048),
    )
    return Shape(fields)
