"""A ModelSpec from a local Hugging Face folder: the shape from config.json (Llama, Qwen2/3, Mistral, Mixtral,
DeepSeek V2/V3, Gemma 2, Phi-3 keys), the exact count and bits on disk from safetensors headers when present.

Every value is checked where it is read (config.Config) and the shape as a whole before a ModelSpec is built:
KV heads divide the attention heads, heads divide the width unless head_dim says otherwise, active experts are
among the experts. An error names the keys as config.json writes them."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from sizing.specs import ModelSpec, SizingError

from .config import COUNT_MAX, DIM_MAX, FFN_MAX, TOKENS_MAX, VOCAB_MAX, Config
from .files import kind, show
from .safetensors import FLOAT_DTYPES, read_safetensors_headers

MAX_PARAMS = 1e14  # 100T: a shape past this is a typo, and the estimates would overflow into nonsense
UNGATED = ("gpt_bigcode", "mpt", "falcon", "gpt2", "gpt_neox")


def _attention(cfg: Config, is_mla: bool) -> dict:
    """Width and heads, with the checks grouped-query attention implies (HF's repeat_kv needs whole groups).
    Under MLA the head size comes from qk_nope_head_dim + qk_rope_head_dim instead (see _mla)."""
    hidden = cfg.count("hidden_size", "n_embd", "d_model", high=DIM_MAX)
    heads = cfg.count("num_attention_heads", "n_head", "n_heads", high=COUNT_MAX)
    kv_heads = cfg.count("num_key_value_heads", "multi_query_group_num", high=COUNT_MAX, default=heads)
    h, kv = cfg.name("num_attention_heads"), cfg.name("num_key_value_heads")
    if kv_heads > heads:
        raise cfg.error(f"{kv} ({kv_heads}) exceeds {h} ({heads}): there cannot be more KV heads than heads")
    if heads % kv_heads:
        raise cfg.error(
            f"{h} ({heads}) is not a multiple of {kv} ({kv_heads}): each KV head serves an equal group of heads"
        )
    fields = dict(hidden_size=hidden, n_heads=heads, n_kv_heads=kv_heads)
    if is_mla:
        return fields
    if cfg.has("head_dim"):
        return dict(fields, head_dim=cfg.count("head_dim", high=DIM_MAX))
    if hidden % heads:
        raise cfg.error(
            f"{cfg.name('hidden_size')} ({hidden}) is not divisible by {h} ({heads}) and there is no 'head_dim'",
            'add "head_dim" (the size of one head) or fix the two',
        )
    return dict(fields, head_dim=hidden // heads)


def _mla(cfg: Config) -> dict:
    """DeepSeek's multi-head latent attention (kv_lora_rank set): the head size is qk_nope + qk_rope."""
    rope = cfg.count("qk_rope_head_dim", high=DIM_MAX)
    nope = cfg.count("qk_nope_head_dim", high=DIM_MAX)
    return dict(
        head_dim=rope + nope,
        kv_lora_rank=cfg.count("kv_lora_rank", high=DIM_MAX),
        q_lora_rank=cfg.optional("q_lora_rank", DIM_MAX) or 0,
        qk_rope_head_dim=rope,
        qk_nope_head_dim=nope,
        v_head_dim=cfg.optional("v_head_dim", DIM_MAX) or nope,
    )


def _moe(cfg: Config, n_layers: int) -> dict:
    """Routed experts (Mixtral, DeepSeekMoE, Qwen-MoE keys); {} for a dense model."""
    experts = cfg.count("num_local_experts", "n_routed_experts", "num_experts", high=COUNT_MAX, default=0, low=0)
    if not experts:
        return {}
    active = cfg.count("num_experts_per_tok", high=COUNT_MAX)
    if active > experts:
        raise cfg.error(
            f"{cfg.name('num_experts_per_tok')} ({active}) exceeds {cfg.name('num_local_experts')} ({experts}): "
            "a token cannot be routed to more experts than there are"
        )
    dense = cfg.optional("first_k_dense_replace", COUNT_MAX) or 0
    if dense > n_layers:
        raise cfg.error(
            f"{cfg.name('first_k_dense_replace')} ({dense}) is more than {cfg.name('num_hidden_layers')} ({n_layers})"
        )
    return dict(
        n_experts=experts,
        n_active_experts=active,
        n_shared_experts=cfg.optional("n_shared_experts", COUNT_MAX) or 0,
        expert_ffn_size=cfg.count("moe_intermediate_size", "intermediate_size", high=FFN_MAX),
        n_dense_layers=dense,
    )


def _window(cfg: Config, n_layers: int, context: int, model_type: str) -> dict:
    """Sliding-window attention, when it is on and shorter than the context (Gemma 2 alternates it by layer)."""
    sliding = cfg.optional("sliding_window", TOKENS_MAX) if cfg.flag("use_sliding_window", True) else None
    if not sliding or sliding >= context:
        return dict(sliding_window_tokens=None, n_sliding_layers=None)
    return dict(
        sliding_window_tokens=sliding, n_sliding_layers=n_layers // 2 if model_type.startswith("gemma") else n_layers
    )


def shape_fields(cfg: Config) -> dict:
    """Every ModelSpec shape field from a checked config."""
    model_type = cfg.text("model_type", "llama")
    if cfg.flag("is_encoder_decoder", False):  # T5, BART: d_model and num_layers mean something else there
        raise cfg.error("'is_encoder_decoder' is true", "sizing estimates decoder-only (causal LM) models")
    is_mla = bool(cfg.optional("kv_lora_rank", DIM_MAX))
    fields = _attention(cfg, is_mla)
    hidden = fields["hidden_size"]
    n_layers = cfg.count("num_hidden_layers", "n_layer", "num_layers", high=COUNT_MAX)
    context = cfg.count("max_position_embeddings", "seq_length", "n_positions", high=TOKENS_MAX, default=4096)
    fields.update(
        architecture=model_type,
        n_layers=n_layers,
        ffn_size=cfg.count("intermediate_size", "ffn_hidden_size", "n_inner", high=FFN_MAX, default=4 * hidden),
        gated_mlp=model_type not in UNGATED,
        attn_bias=cfg.flag("attention_bias", model_type in ("qwen2", "qwen2_moe", "qwen")),
        vocab_size=cfg.count("vocab_size", "padded_vocab_size", high=VOCAB_MAX),
        tied_embeddings=cfg.flag("tie_word_embeddings", model_type.startswith("gemma")),
        max_context_tokens=context,
        **_window(cfg, n_layers, context, model_type),
        **_moe(cfg, n_layers),
    )
    if is_mla:  # MLA caches a latent, not per-head K and V: ModelSpec counts every head as a KV head
        fields.update(_mla(cfg), n_kv_heads=fields["n_heads"])
    return fields


def _folder_name(folder: Path) -> str:
    """The folder's own name, also for `.` or `..` (the name of the folder they stand for)."""
    return show(Path(os.path.abspath(folder)).name or "local-model", 80)


def _spec(folder: Path, cfg: Config) -> ModelSpec:
    name = _folder_name(folder)
    try:
        spec = ModelSpec(
            id=name.lower(),
            name=name,
            family="local",
            n_params=1.0,
            source=f"local folder {show(folder)} (config.json)",
            **shape_fields(cfg),
        )
    except ValidationError as exc:  # not reached when the checks above are complete; still one line
        err = exc.errors()[0]
        field = err["loc"][0] if err["loc"] else "shape"
        raise cfg.error(f"the shape is inconsistent ({field}: {err['msg']})") from None
    if spec.derived_params > MAX_PARAMS:
        raise cfg.error(
            f"the shape has {spec.derived_params:.3g} parameters, more than any real model; check "
            f"{cfg.name('hidden_size')}, {cfg.name('num_hidden_layers')}, {cfg.name('intermediate_size')}, "
            f"{cfg.name('vocab_size')} and the expert counts"
        )
    return spec


def config_path(folder: Path) -> Path:
    """folder/config.json, which must be there and be a file."""
    path = folder / "config.json"
    what = kind(path)
    if what is None:
        raise SizingError(f"'{show(folder)}' has no config.json; point --model at a Hugging Face model folder")
    if what != "file":
        raise SizingError(f"{show(path)} is {what}, not a file; point --model at a Hugging Face model folder")
    return path


def _with_headers(spec: ModelSpec, headers: tuple[int, float, dict[str, float]], folder: Path) -> ModelSpec:
    """The count and bits on disk from safetensors headers. Unquantized (nearly all bytes in float dtypes): the
    header count is exact, and must be at least half the shape's (else shards or the config do not belong).
    Quantized (packed integer weights, whose element count is not the parameter count): the shape's count, and
    the real bits on disk, which must be a plausible 1-64 per parameter."""
    n_float, n_bytes, by_dtype = headers
    derived = spec.derived_params
    packed = sum(size for dtype, size in by_dtype.items() if dtype not in FLOAT_DTYPES)
    source = spec.source + " + safetensors headers"
    mismatch = "check that every shard is there and that config.json belongs to these files"
    if n_float > MAX_PARAMS or n_bytes > 8 * MAX_PARAMS:
        raise SizingError(
            f"the safetensors headers in {show(folder)} describe more than any real model holds; "
            "re-download the checkpoint"
        )
    if packed <= 0.1 * n_bytes:  # int tensors of an unquantized model are a few buffers (position ids)
        if n_float < derived / 2:
            raise SizingError(
                f"the safetensors files in {show(folder)} hold {n_float:.4g} parameters, less than half the "
                f"{derived:.4g} that config.json's shape has; {mismatch}"
            )
        update = {"n_params": float(n_float), "weight_bits_on_disk": n_bytes * 8 / n_float, "source": source}
        return spec.model_copy(update=update)
    bits = n_bytes * 8 / derived
    if not 1 <= bits <= 64:
        raise SizingError(
            f"the safetensors files in {show(folder)} hold {n_bytes:.4g} bytes, {bits:.3g} bits for each of the "
            f"{derived:.4g} parameters config.json's shape has; {mismatch}"
        )
    return spec.model_copy(update={"n_params": float(derived), "weight_bits_on_disk": bits, "source": source})


def from_hf_folder(folder: Path) -> ModelSpec:
    """The model in a local Hugging Face folder (or the folder of a config.json)."""
    spec = _spec(folder, Config.read(config_path(folder)))
    headers = read_safetensors_headers(folder)
    if headers is None:
        return spec.model_copy(update={"n_params": float(spec.derived_params)})
    return _with_headers(spec, headers, folder)
