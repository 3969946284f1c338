"""Mixture-of-experts families whose keys differ from the Mixtral/DeepSeek ones common.moe reads.

- Llama 4 (llama4_text, HF modeling_llama4): routed experts of intermediate_size plus one always-on shared expert
  of the same width on every interleave_moe_layer_step-th layer (Maverick: 2, layers 1, 3, ...; Scout: 1, every
  layer); the other layers a dense SwiGLU of intermediate_size_mlp; chunked attention on 3 of every 4 layers.
- gpt-oss (HF modeling_gpt_oss): the Llama-style layout with experts_per_token, biased projections, alternating
  128-token sliding windows (layer_types); the experts ship as MXFP4 (quantization_config quant_method mxfp4:
  4-bit E2M1 values and one E8M0 scale per 32, 4.25 bits), everything else bf16.
- DBRX (HF modeling_dbrx): d_model, n_heads, n_layers, attn_config.kv_n_heads, ffn_config (moe_num_experts,
  moe_top_k, ffn_hidden_size).
- Qwen (the first, QWenLMHeadModel remote code): intermediate_size is the sum of the SwiGLU's two halves
  (w1 and w2 each intermediate_size / 2), c_attn with bias, kv_channels per head."""

from __future__ import annotations

from .config import COUNT_MAX, FFN_MAX, TOKENS_MAX, Config
from .decoders import ACTIVE_KEYS, EXPERT_KEYS, Shape, attention, context_tokens, layer_count, llama, vocab

MXFP4_BITS = 4.25  # OCP Microscaling spec: 32 FP4 (E2M1) elements share one 8-bit E8M0 scale


def llama4_text(cfg: Config, model_type: str) -> Shape:
    fields = attention(cfg)
    n_layers = layer_count(cfg)
    experts = cfg.count(*EXPERT_KEYS, high=COUNT_MAX, what="the number of routed experts", hints=("experts",))
    active = cfg.count(*ACTIVE_KEYS, high=COUNT_MAX, what="how many experts each token is routed to")
    if active > experts:
        raise cfg.error(
            f"{cfg.name(ACTIVE_KEYS[0])} ({active}) exceeds {cfg.name(EXPERT_KEYS[0])} ({experts}): "
            "a token cannot be routed to more experts than there are"
        )
    step = cfg.count("interleave_moe_layer_step", high=COUNT_MAX, default=1)
    expert_ffn = cfg.count("intermediate_size", high=FFN_MAX, what="the expert width")
    fields.update(
        architecture="llama4",
        n_layers=n_layers,
        ffn_size=cfg.count("intermediate_size_mlp", "intermediate_size", high=FFN_MAX),
        gated_mlp=True,
        attn_bias=cfg.flag("attention_bias", False),
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        max_context_tokens=context_tokens(cfg),
        n_experts=experts,
        n_active_experts=active,
        n_shared_experts=1,
        expert_ffn_size=expert_ffn,
        n_dense_layers=0,
        moe_layer_step=step if step > 1 else None,
        **_chunked(cfg, n_layers),
    )
    return Shape(fields)


def _chunked(cfg: Config, n_layers: int) -> dict:
    """Llama 4's chunked attention: the RoPE layers (all but every no_rope_layer_interval-th, HF Llama4TextConfig
    default 4) attend within attention_chunk_size-token chunks, so their cache holds at most one chunk; sized as a
    sliding window of that length (an upper bound on what a chunk keeps)."""
    chunk = cfg.optional("attention_chunk_size", TOKENS_MAX, low=1)
    if not chunk:
        return {}
    interval = cfg.count("no_rope_layer_interval", high=COUNT_MAX, default=4)
    return dict(sliding_window_tokens=chunk, n_sliding_layers=n_layers - n_layers // interval)


def gpt_oss(cfg: Config, model_type: str) -> Shape:
    shape = llama(cfg, model_type)
    quant = cfg.sub("quantization_config")
    if quant is not None and quant.text("quant_method", "") == "mxfp4":
        shape.fields["expert_weight_bits"] = MXFP4_BITS
    return shape


def dbrx(cfg: Config, model_type: str) -> Shape:
    attn, ffn = cfg.sub("attn_config"), cfg.sub("ffn_config")
    if attn is None or ffn is None:
        raise cfg.lacks(("attn_config", "ffn_config"), "DBRX's attention and expert settings", ("ffn", "moe"))
    kv = attn.count("kv_n_heads", high=COUNT_MAX, what="the K/V heads")
    fields = attention(cfg, kv_keys=("kv_n_heads",), kv_default=kv)
    experts = ffn.count("moe_num_experts", high=COUNT_MAX, what="the number of routed experts")
    active = ffn.count("moe_top_k", high=COUNT_MAX, what="how many experts each token is routed to")
    if active > experts:
        raise ffn.error(f"{ffn.name('moe_top_k')} ({active}) exceeds {ffn.name('moe_num_experts')} ({experts})")
    width = ffn.count("ffn_hidden_size", high=FFN_MAX, what="the expert width")
    fields.update(
        architecture="dbrx",
        n_layers=layer_count(cfg),
        ffn_size=width,
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        max_context_tokens=cfg.count("max_seq_len", high=TOKENS_MAX, default=4096),
        n_experts=experts,
        n_active_experts=active,
        n_shared_experts=0,
        expert_ffn_size=width,
        n_dense_layers=0,
    )
    return Shape(fields)


def qwen(cfg: Config, model_type: str) -> Shape:
    fields = attention(cfg)
    both = cfg.count("intermediate_size", high=FFN_MAX, what="the MLP width (both halves)")
    fields.update(
        architecture="qwen",
        n_layers=layer_count(cfg),
        ffn_size=max(1, both // 2),
        gated_mlp=True,
        attn_bias=True,
        mlp_bias=False,
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        max_context_tokens=cfg.count("seq_length", "max_position_embeddings", high=TOKENS_MAX, default=8192),
    )
    return Shape(fields)
