"""Stacks whose layers are not all alike, folded into ModelSpec's uniform one without changing what is sized:
the weights, the KV cache (only softmax-attention layers have one), the fixed linear-attention/SSM state, and the
FLOPs per token (2 per weight touched) add up as in the real stack; what the fold approximates is said in notes.

- Qwen3-Next (qwen3_next): Gated DeltaNet linear attention on all but every full_attention_interval-th layer,
  routed experts plus one shared expert on every layer (HF modeling_qwen3_next).
- Nemotron-H (nemotron_h): hybrid_override_pattern, one character per layer: M a Mamba-2 mixer, * attention,
  - an MLP (relu^2, ungated); the mixer blocks are the layers, the MLP blocks counted apart (n_mlp_layers)
  (HF modeling_nemotron_h).
- Llama-Nemotron (nemotron-nas, DeciLM): block_configs, one per layer, each attention a GQA of heads /
  n_heads_in_group K/V heads, a linear layer or nothing, each FFN a SwiGLU of ffn_mult or nothing (DeciLM
  modeling_decilm.py: intermediate = 2 x ffn_mult x hidden / 3 rounded up to a multiple of 256)."""

from __future__ import annotations

import math
from collections import Counter

from .config import COUNT_MAX, DIM_MAX, FFN_MAX, TOKENS_MAX, Config
from .decoders import Shape, attention, layer_count, llama, vocab
from .files import describe
from .refuse import refuse_unmodelled


def qwen3_next(cfg: Config, model_type: str) -> Shape:
    shape = llama(cfg, model_type)
    n_layers = shape.fields["n_layers"]
    kinds = cfg.raw("layer_types")
    if isinstance(kinds, list) and len(kinds) == n_layers:
        n_linear = sum(1 for kind in kinds if kind == "linear_attention")
    else:
        interval = cfg.count("full_attention_interval", high=COUNT_MAX, default=4)
        n_linear = n_layers - n_layers // interval
    k_heads = cfg.count("linear_num_key_heads", high=COUNT_MAX, what="the linear-attention key heads")
    v_heads = cfg.count("linear_num_value_heads", high=COUNT_MAX, what="the linear-attention value heads")
    k_dim = cfg.count("linear_key_head_dim", high=DIM_MAX, what="the linear-attention key head size")
    v_dim = cfg.count("linear_value_head_dim", high=DIM_MAX, what="the linear-attention value head size")
    kernel = cfg.count("linear_conv_kernel_dim", high=COUNT_MAX, default=4)
    keys, values = k_heads * k_dim, v_heads * v_dim
    shape.fields.update(
        n_linear_attn_layers=n_linear,
        linear_attn_proj_size=2 * keys + 2 * values + 2 * v_heads,  # in_proj_qkvz + in_proj_ba
        linear_attn_value_size=values,
        linear_attn_state_elems=v_heads * k_dim * v_dim + (2 * keys + values) * (kernel - 1),
    )
    f = shape.fields
    gate = (n_layers - n_linear) * f["hidden_size"] * f["n_heads"] * f["head_dim"]
    shape.notes.append(f"the attention layers' output gate (q_proj twice as wide, {gate / 1e9:.2f}B) is left out")
    return shape


def _mamba2(cfg: Config, hidden: int) -> dict:
    heads = cfg.count("mamba_num_heads", high=COUNT_MAX, what="the Mamba-2 heads")
    head = cfg.count("mamba_head_dim", high=DIM_MAX, what="the Mamba-2 head size")
    state = cfg.count("ssm_state_size", high=DIM_MAX, what="the SSM state size")
    groups = cfg.count("n_groups", high=COUNT_MAX, default=1)
    kernel = cfg.count("conv_kernel", high=COUNT_MAX, default=4)
    inner = heads * head
    conv = inner + 2 * groups * state
    return dict(
        linear_attn_proj_size=2 * inner + 2 * groups * state + heads,  # in_proj: z, x, B, C, dt
        linear_attn_value_size=inner,
        linear_attn_state_elems=heads * head * state + conv * (kernel - 1),
    )


def nemotron_h(cfg: Config, model_type: str) -> Shape:
    pattern = cfg.raw("hybrid_override_pattern")
    n_layers = layer_count(cfg)
    if not isinstance(pattern, str) or len(pattern) != n_layers or set(pattern) - set("M*-E"):
        raise cfg.error(
            f"{cfg.name('hybrid_override_pattern')} must be a string of {n_layers} layer kinds (M, *, -, E), "
            f"got {describe(pattern)}"
        )
    if "E" in pattern:
        raise refuse_unmodelled(cfg, model_type, "a Mamba-2 / attention / MoE layer pattern (E layers)")
    kinds = Counter(pattern)
    mixers = kinds["M"] + kinds["*"]
    fields = attention(cfg, kv_keys=("num_key_value_heads",))
    fields.update(head_dim=cfg.count("attention_head_dim", "head_dim", high=DIM_MAX, default=fields["head_dim"]))
    ffn = cfg.count("intermediate_size", high=FFN_MAX, what="the MLP width")
    apart = kinds["-"] <= mixers  # ModelSpec.n_mlp_layers: MLP blocks counted apart from the mixer blocks
    fields.update(
        architecture=model_type,
        n_layers=mixers,
        ffn_size=ffn if apart else max(1, round(kinds["-"] * ffn / mixers)),
        n_mlp_layers=kinds["-"] if apart else None,
        gated_mlp=False,
        attn_bias=cfg.flag("attention_bias", False),
        mlp_bias=cfg.flag("mlp_bias", False),
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        max_context_tokens=cfg.count("max_position_embeddings", high=TOKENS_MAX, default=4096),
        n_linear_attn_layers=kinds["M"],
        **_mamba2(cfg, fields["hidden_size"]),
    )
    mlp = f"{kinds['-']} MLP blocks of {ffn} beside them" if apart else f"an MLP of {fields['ffn_size']} each"
    note = (
        f"{n_layers} layers ({kinds['M']} Mamba-2, {kinds['*']} attention, {kinds['-']} MLP) sized as {mixers} "
        f"mixer layers with {mlp}"
    )
    return Shape(fields, [note])


def _part(block: dict, key: str) -> dict:
    part = block.get(key)
    if part is None:
        return {}
    if not isinstance(part, dict):
        raise ValueError(f"an {key} that is not an object")
    return part


def _ffn_width(block: dict, hidden: int) -> float:
    """SwiGLU width of one DeciLM FFN; a linear replacement (hidden x hidden) as its equivalent width."""
    ffn = _part(block, "ffn")
    if ffn.get("no_op"):
        return 0.0
    if ffn.get("replace_with_linear"):
        return hidden / 3
    mult = ffn.get("ffn_mult")
    if isinstance(mult, bool) or not isinstance(mult, (int, float)) or not 0 < mult <= 64:
        raise ValueError(f"ffn_mult {describe(mult)}, not a positive multiplier")
    return 256 * math.ceil(int(2 * mult * hidden / 3) / 256)


def deci(cfg: Config, model_type: str) -> Shape:
    blocks = cfg.raw("block_configs")
    if not isinstance(blocks, list) or not blocks or not all(isinstance(b, dict) for b in blocks):
        return llama(cfg, model_type)
    fields = attention(cfg, kv_keys=("num_key_value_heads",))
    hidden, heads = fields["hidden_size"], fields["n_heads"]
    try:
        widths = [_ffn_width(b, hidden) for b in blocks]
        attn = [_part(b, "attention") for b in blocks]
    except ValueError as exc:
        raise cfg.error(f"{cfg.name('block_configs')} has a block with {exc}") from None
    kept = [a.get("n_heads_in_group") for a in attn if not a.get("no_op") and not a.get("replace_with_linear")]
    bad = next((g for g in kept if isinstance(g, bool) or not isinstance(g, int) or g < 1 or heads % g), None)
    if bad is not None or (kept and None in kept):
        raise cfg.error(
            f"{cfg.name('block_configs')} has n_heads_in_group {describe(bad)}, not a whole number dividing the "
            f"{heads} heads"
        )
    groups = Counter(kept)
    group = groups.most_common(1)[0][0] if groups else heads
    n_attn = len(kept)
    n_linear = len(blocks) - n_attn
    replaced = sum(1 for a in attn if a.get("replace_with_linear"))
    fields.update(
        architecture=model_type,
        n_layers=len(blocks),
        n_kv_heads=heads // group,
        ffn_size=max(1, round(sum(widths) / len(blocks))),
        gated_mlp=True,
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        max_context_tokens=cfg.count("max_position_embeddings", high=TOKENS_MAX, default=4096),
        n_linear_attn_layers=n_linear or None,
        linear_attn_proj_size=round(replaced * hidden / n_linear) if n_linear else None,
        linear_attn_value_size=0 if n_linear else None,
        linear_attn_state_elems=0 if n_linear else None,
    )
    notes = [
        f"{len(blocks)} per-layer blocks folded: {n_attn} attention layers with {heads // group} K/V heads, "
        f"{n_linear} without attention, FFN widths averaged to {fields['ffn_size']}"
    ]
    if len(groups) > 1:
        notes.append(f"K/V heads differ by layer ({dict(groups)} heads per group): the most common is used")
    return Shape(fields, notes)
