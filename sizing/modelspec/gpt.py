"""The GPT-2 lineage: GPT-2 and StarCoder/SantaCoder (gpt_bigcode), GPT-J, GPT-NeoX (Pythia, RedPajama, Dolly).
Ungated GELU MLPs of 4 x width unless n_inner/intermediate_size says otherwise, biases on the projections."""

from __future__ import annotations

from .config import DIM_MAX, FFN_MAX, TOKENS_MAX, Config
from .decoders import Shape, attention, layer_count, vocab


def gpt2(cfg: Config, model_type: str) -> Shape:
    """GPT2LMHeadModel (HF modeling_gpt2): learned positions (n_positions), the head tied to the token embedding
    (tie_word_embeddings defaults to true), biases on c_attn/c_proj/c_fc. gpt_bigcode adds multi_query (one K/V
    head)."""
    multi_query = model_type == "gpt_bigcode" and cfg.flag("multi_query", True)
    fields = attention(cfg, kv_keys=("n_head_kv",), kv_default=1 if multi_query else None)
    hidden = fields["hidden_size"]
    positions = cfg.count("n_positions", "max_position_embeddings", "n_ctx", high=TOKENS_MAX, default=1024)
    fields.update(
        architecture=model_type,
        n_layers=layer_count(cfg),
        ffn_size=cfg.count("n_inner", "intermediate_size", high=FFN_MAX, default=4 * hidden),
        gated_mlp=False,
        attn_bias=True,
        mlp_bias=True,
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", True),
        max_context_tokens=positions,
        n_learned_positions=positions,
    )
    return Shape(fields)


def gptj(cfg: Config, model_type: str) -> Shape:
    """GPT-J (HF modeling_gptj): one LayerNorm, attention and MLP in parallel, q/k/v/out without bias, fc_in/fc_out
    with bias, rotary on rotary_dim of each head, an untied lm_head (tie_word_embeddings false in its config)."""
    fields = attention(cfg)
    hidden = fields["hidden_size"]
    cfg.optional("rotary_dim", DIM_MAX)
    fields.update(
        architecture=model_type,
        n_layers=layer_count(cfg),
        ffn_size=cfg.count("n_inner", "intermediate_size", high=FFN_MAX, default=4 * hidden),
        gated_mlp=False,
        attn_bias=False,
        mlp_bias=True,
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        max_context_tokens=cfg.count("n_positions", "max_position_embeddings", high=TOKENS_MAX, default=2048),
    )
    return Shape(fields)


def gpt_neox(cfg: Config, model_type: str) -> Shape:
    """GPT-NeoX (HF modeling_gpt_neox): fused query_key_value and dense with bias (attention_bias defaults to
    true), dense_h_to_4h/dense_4h_to_h with bias, separate embed_in and embed_out."""
    fields = attention(cfg)
    hidden = fields["hidden_size"]
    cfg.raw("rotary_pct")  # rotary on a fraction of each head: no parameters
    fields.update(
        architecture=model_type,
        n_layers=layer_count(cfg),
        ffn_size=cfg.count("intermediate_size", high=FFN_MAX, default=4 * hidden),
        gated_mlp=False,
        attn_bias=cfg.flag("attention_bias", True),
        mlp_bias=True,
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        max_context_tokens=cfg.count("max_position_embeddings", high=TOKENS_MAX, default=2048),
    )
    return Shape(fields)
