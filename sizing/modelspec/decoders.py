"""What the family readers share: the result they return, grouped-query attention, MoE routing and sliding windows
as Hugging Face configs spell them, and the Llama-style reader that most configs are (Llama, Mistral, Mixtral,
Qwen2/2.5/3 and their MoE, DeepSeek V2/V3, Kimi K2, Gemma 1-3, Phi-3/4, InternLM2, OLMo 2, Cohere, StarCoder2 ...).

Each reader maps its family's keys to ModelSpec fields, checking every value where it is read (Config), and says
in `notes` what it assumed or could not model; an error names the keys as config.json writes them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import COUNT_MAX, DIM_MAX, FFN_MAX, TOKENS_MAX, VOCAB_MAX, Config

HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model", "n_embed")
HEAD_KEYS = ("num_attention_heads", "n_head", "n_heads")
LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
CONTEXT_KEYS = ("max_position_embeddings", "seq_length", "n_positions", "max_sequence_length", "max_seq_len")
FFN_KEYS = ("intermediate_size", "ffn_hidden_size", "n_inner")
VOCAB_KEYS = ("vocab_size", "padded_vocab_size")
# one quantity, many spellings: Mixtral/Qwen/DeepSeek num_experts_per_tok, gpt-oss experts_per_token, ERNIE moe_k,
# Hunyuan moe_topk, DBRX (ffn_config) moe_top_k
EXPERT_KEYS = ("num_local_experts", "n_routed_experts", "num_experts", "moe_num_experts")
ACTIVE_KEYS = ("num_experts_per_tok", "num_experts_per_token", "experts_per_token", "moe_top_k", "moe_topk", "moe_k")
QWEN_BIAS = ("qwen2", "qwen2_moe", "qwen", "qwen2_vl", "qwen2_5_vl")  # q/k/v projections with bias by default
# their config classes default tie_word_embeddings to true
TIED_BY_DEFAULT = ("gemma", "gemma2", "gemma3", "gemma3_text", "cohere", "cohere2", "starcoder2")


@dataclass
class Shape:
    """ModelSpec fields read from one config, and what the reader assumed or could not model (one line each)."""

    fields: dict
    notes: list[str] = field(default_factory=list)


def layer_count(cfg: Config, *keys: str) -> int:
    return cfg.count(*(keys or LAYER_KEYS), high=COUNT_MAX, what="the number of layers", hints=("layers", "depth"))


def context_tokens(cfg: Config, *keys: str) -> int:
    return cfg.count(*(keys or CONTEXT_KEYS), high=TOKENS_MAX, default=4096)


def vocab(cfg: Config, *keys: str) -> int:
    return cfg.count(*(keys or VOCAB_KEYS), high=VOCAB_MAX, what="the vocabulary size", hints=("vocab", "tokens"))


def attention(cfg: Config, is_mla: bool = False, kv_keys: tuple[str, ...] = (), kv_default: int | None = None) -> dict:
    """Width and heads, with the checks grouped-query attention implies (HF's repeat_kv needs whole groups).
    Under MLA the head size comes from qk_nope_head_dim + qk_rope_head_dim instead (see mla)."""
    hidden = cfg.count(*HIDDEN_KEYS, high=DIM_MAX, what="the model width", hints=("hidden", "dim", "width"))
    heads = cfg.count(*HEAD_KEYS, high=COUNT_MAX, what="the number of attention heads", hints=("heads",))
    kv_keys = kv_keys or ("num_key_value_heads", "multi_query_group_num")
    kv_heads = cfg.count(*kv_keys, high=COUNT_MAX, default=kv_default or heads)
    h, kv = cfg.name(HEAD_KEYS[0]), cfg.name(kv_keys[0])
    if kv_heads > heads:
        raise cfg.error(f"{kv} ({kv_heads}) exceeds {h} ({heads}): there cannot be more KV heads than heads")
    if heads % kv_heads:
        raise cfg.error(
            f"{h} ({heads}) is not a multiple of {kv} ({kv_heads}): each KV head serves an equal group of heads"
        )
    fields = dict(hidden_size=hidden, n_heads=heads, n_kv_heads=kv_heads)
    if is_mla:
        return fields
    return dict(fields, head_dim=head_dim(cfg, hidden, heads))


def head_dim(cfg: Config, hidden: int, heads: int, *keys: str) -> int:
    for key in keys or ("head_dim", "kv_channels"):
        if cfg.has(key):
            return cfg.count(key, high=DIM_MAX)
    if hidden % heads:
        raise cfg.error(
            f"{cfg.name(HIDDEN_KEYS[0])} ({hidden}) is not divisible by {cfg.name(HEAD_KEYS[0])} ({heads}) and "
            "there is no 'head_dim'",
            'add "head_dim" (the size of one head) or fix the two',
        )
    return hidden // heads


def mla(cfg: Config) -> dict:
    """DeepSeek's multi-head latent attention (kv_lora_rank set): the head size is qk_nope + qk_rope; V3.2's
    lightning indexer (index_n_heads, index_head_dim, index_topk) when the config has one."""
    rope = cfg.count("qk_rope_head_dim", high=DIM_MAX)
    nope = cfg.count("qk_nope_head_dim", high=DIM_MAX)
    return dict(
        head_dim=rope + nope,
        kv_lora_rank=cfg.count("kv_lora_rank", high=DIM_MAX),
        q_lora_rank=cfg.optional("q_lora_rank", DIM_MAX) or 0,
        qk_rope_head_dim=rope,
        qk_nope_head_dim=nope,
        v_head_dim=cfg.optional("v_head_dim", DIM_MAX) or nope,
        index_n_heads=cfg.optional("index_n_heads", COUNT_MAX),
        index_head_dim=cfg.optional("index_head_dim", DIM_MAX),
        index_topk=cfg.optional("index_topk", TOKENS_MAX, low=1),
    )


def _shared_experts(cfg: Config, expert_ffn: int) -> tuple[int, list[str]]:
    """DeepSeek's n_shared_experts, or Qwen-MoE's one shared expert of shared_expert_intermediate_size, counted
    as that many experts of the routed width (Qwen1.5-MoE: 5632 = 4 x 1408)."""
    shared = cfg.optional("n_shared_experts", COUNT_MAX)
    if shared is not None or not cfg.has("shared_expert_intermediate_size"):
        return shared or 0, []
    width = cfg.count("shared_expert_intermediate_size", high=FFN_MAX, low=0)
    n = round(width / expert_ffn)
    if n * expert_ffn == width:
        return n, []
    return n, [f"the shared expert ({width} wide) is counted as {n} routed-width experts ({n * expert_ffn})"]


def moe(cfg: Config, n_layers: int) -> Shape:
    """Routed experts (Mixtral, DeepSeekMoE, Qwen-MoE, gpt-oss keys); no fields for a dense model."""
    experts = cfg.count(*EXPERT_KEYS, high=COUNT_MAX, default=0, low=0)
    if not experts:
        return Shape({})
    active = cfg.count(
        *ACTIVE_KEYS, high=COUNT_MAX, what="how many experts each token is routed to", hints=("top_k", "topk")
    )
    if active > experts:
        raise cfg.error(
            f"{cfg.name(ACTIVE_KEYS[0])} ({active}) exceeds {cfg.name(EXPERT_KEYS[0])} ({experts}): "
            "a token cannot be routed to more experts than there are"
        )
    dense = cfg.optional("first_k_dense_replace", COUNT_MAX) or 0
    if dense > n_layers:
        raise cfg.error(
            f"{cfg.name('first_k_dense_replace')} ({dense}) is more than {cfg.name(LAYER_KEYS[0])} ({n_layers})"
        )
    expert_ffn = cfg.count("moe_intermediate_size", "intermediate_size", high=FFN_MAX)
    shared, notes = _shared_experts(cfg, expert_ffn)
    step = cfg.optional("decoder_sparse_step", COUNT_MAX, low=1) or cfg.optional("moe_layer_freq", COUNT_MAX, low=1)
    only_dense = cfg.raw("mlp_only_layers")
    if isinstance(only_dense, list) and only_dense:
        notes.append(f"{cfg.name('mlp_only_layers')} lists {len(only_dense)} dense layers; counted as the first ones")
        dense = min(n_layers, dense + len(only_dense))
    fields = dict(
        n_experts=experts,
        n_active_experts=active,
        n_shared_experts=shared,
        expert_ffn_size=expert_ffn,
        n_dense_layers=dense,
        moe_layer_step=step if step and step > 1 else None,
    )
    return Shape(fields, notes)


def window(cfg: Config, n_layers: int, context: int, model_type: str) -> dict:
    """Sliding-window attention, when it is on and shorter than the context: on the layers `layer_types` marks
    (gpt-oss, Gemma 3, Qwen3), on 5 of every `sliding_window_pattern` 6 (Gemma 3), on every other layer (Gemma 2),
    else on every layer (Mistral 7B v0.1)."""
    sliding = cfg.optional("sliding_window", TOKENS_MAX) if cfg.flag("use_sliding_window", True) else None
    if not sliding or sliding >= context:
        return dict(sliding_window_tokens=None, n_sliding_layers=None)
    kinds = cfg.raw("layer_types")
    if isinstance(kinds, list) and kinds:
        n_sliding = sum(1 for kind in kinds if kind == "sliding_attention")
    elif cfg.has("sliding_window_pattern"):
        pattern = cfg.count("sliding_window_pattern", high=COUNT_MAX)
        n_sliding = n_layers - n_layers // pattern
    else:
        n_sliding = n_layers // 2 if model_type.startswith("gemma") else n_layers
    return dict(sliding_window_tokens=sliding, n_sliding_layers=min(n_sliding, n_layers))


def llama(cfg: Config, model_type: str) -> Shape:
    """The Llama-style decoder: GQA (or MLA) attention, a gated MLP or routed experts, RMSNorm, RoPE."""
    is_mla = bool(cfg.optional("kv_lora_rank", DIM_MAX))
    fields = attention(cfg, is_mla)
    hidden = fields["hidden_size"]
    n_layers = layer_count(cfg)
    context = context_tokens(cfg)
    routed = moe(cfg, n_layers)
    fields.update(
        architecture=model_type,
        n_layers=n_layers,
        ffn_size=cfg.count(*FFN_KEYS, high=FFN_MAX, default=4 * hidden),
        gated_mlp=model_type != "starcoder2",  # StarCoder2: c_fc/c_proj with a GELU
        attn_bias=cfg.flag("attention_bias", model_type in QWEN_BIAS) or cfg.flag("use_bias", False),
        mlp_bias=cfg.flag("mlp_bias", False) or cfg.flag("use_bias", False),
        vocab_size=vocab(cfg),
        tied_embeddings=cfg.flag("tie_word_embeddings", model_type in TIED_BY_DEFAULT),
        max_context_tokens=context,
        **window(cfg, n_layers, context, model_type),
        **routed.fields,
    )
    if is_mla:  # MLA caches a latent, not per-head K and V: ModelSpec counts every head as a KV head
        fields.update(mla(cfg), n_kv_heads=fields["n_heads"])
    notes = list(routed.notes)
    mtp = cfg.optional("num_nextn_predict_layers", COUNT_MAX) or 0
    if mtp:
        notes.append(f"the {mtp} multi-token-prediction layer(s) are not counted (loaded only to draft tokens)")
    return Shape(fields, notes)
