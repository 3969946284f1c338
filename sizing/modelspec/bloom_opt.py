"""BigScience BLOOM and Meta OPT, the two 2022 GPT-3 replications.

BLOOM (HF modeling_bloom): hidden_size (n_embed in early configs) wide, n_layer blocks of n_head heads, fused
query_key_value and dense with bias, a 4 x width GELU MLP with bias, ALiBi, a LayerNorm on the word embeddings,
the head tied to the 250,880-token embedding.
OPT (HF modeling_opt): ffn_dim wide ReLU MLP, projections with bias (enable_bias), learned positions
(max_position_embeddings + 2 rows), the head tied to the embedding; word_embed_proj_dim narrower than hidden_size
(OPT-350m) adds project_in/project_out and makes the embedding that narrow."""

from __future__ import annotations

from .config import DIM_MAX, FFN_MAX, TOKENS_MAX, Config
from .decoders import Shape, attention, layer_count, vocab


def bloom(cfg: Config, model_type: str) -> Shape:
    fields = attention(cfg)
    hidden = fields["hidden_size"]
    fields.update(
        architecture="bloom",
        n_layers=layer_count(cfg),
        ffn_size=4 * hidden,
        gated_mlp=False,
        attn_bias=True,
        mlp_bias=True,
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", True),
        max_context_tokens=cfg.count("seq_length", "max_position_embeddings", high=TOKENS_MAX, default=2048),
    )
    return Shape(fields)


def opt(cfg: Config, model_type: str) -> Shape:
    fields = attention(cfg)
    hidden = fields["hidden_size"]
    context = cfg.count("max_position_embeddings", high=TOKENS_MAX, default=2048)
    bias = cfg.flag("enable_bias", True)
    fields.update(
        architecture="opt",
        n_layers=layer_count(cfg),
        ffn_size=cfg.count("ffn_dim", high=FFN_MAX, default=4 * hidden),
        gated_mlp=False,
        attn_bias=bias,
        mlp_bias=bias,
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", True),
        max_context_tokens=context,
        n_learned_positions=context + 2,  # OPTLearnedPositionalEmbedding keeps an offset of 2 rows
    )
    notes = []
    proj = cfg.optional("word_embed_proj_dim", DIM_MAX, low=1)
    if proj and proj != hidden:
        vocab_rows = fields["vocab_size"]
        extra = vocab_rows * (hidden - proj) - 2 * hidden * proj
        notes.append(
            f"{cfg.name('word_embed_proj_dim')} ({proj}) is narrower than {cfg.name('hidden_size')} ({hidden}): "
            f"the embedding is counted at full width, {extra / 1e6:+.1f}M parameters against the real one"
        )
    return Shape(fields, notes)
