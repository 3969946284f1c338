"""A ModelSpec from a local Hugging Face folder: the shape from config.json, the exact count and bits on disk from
safetensors headers when present."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from sizing.specs import ModelSpec, SizingError

from .safetensors import read_safetensors_headers


def _read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        raise SizingError(f"'{folder}' has no config.json; point --model at a Hugging Face model folder")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SizingError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}); fix or re-download it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SizingError(f"cannot read {path} ({exc}); check the file") from None
    if not isinstance(config, dict):
        raise SizingError(f"{path} must hold a JSON object; is this a Hugging Face config.json?")
    # multimodal wrappers keep the language model's shape in text_config
    if isinstance(config.get("text_config"), dict) and "num_hidden_layers" not in config:
        config = {
            **config["text_config"],
            "model_type": config["text_config"].get("model_type", config.get("model_type")),
        }
    return config


def _int(config: dict, path: Path, *keys: str, default: int | None = None) -> int:
    for key in keys:
        value = config.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or value != int(value):
                raise SizingError(f"{path}: '{key}' must be a positive whole number, got {value!r}; fix config.json")
            return int(value)
    if default is None:
        raise SizingError(f"{path} lacks '{keys[0]}'; is this a Hugging Face causal-LM config.json?")
    return default


def _opt_int(config: dict, path: Path, key: str) -> int | None:
    """An optional positive whole number from config.json; None when absent or null."""
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != int(value):
        raise SizingError(f"{path}: '{key}' must be a whole number, got {value!r}; fix config.json")
    return int(value)


def from_hf_folder(folder: Path) -> ModelSpec:
    """Shape from config.json (Llama, Qwen2/3, Mistral, Mixtral, DeepSeek V2/V3, Gemma 2, Phi-3 keys)."""
    config = _read_config(folder)
    path = folder / "config.json"
    hidden = _int(config, path, "hidden_size", "n_embd", "d_model")
    heads = _int(config, path, "num_attention_heads", "n_head", "n_heads")
    kv_heads = _int(config, path, "num_key_value_heads", "multi_query_group_num", default=heads)
    model_type = str(config.get("model_type", "llama"))
    moe_experts = (
        _opt_int(config, path, "num_local_experts")
        or _opt_int(config, path, "n_routed_experts")
        or _opt_int(config, path, "num_experts")
        or 0
    )
    mla = bool(_opt_int(config, path, "kv_lora_rank"))
    rope = _opt_int(config, path, "qk_rope_head_dim") or 0
    nope = _opt_int(config, path, "qk_nope_head_dim") or 0
    head_dim = rope + nope if mla else _int(config, path, "head_dim", default=hidden // heads)
    n_layers = _int(config, path, "num_hidden_layers", "n_layer", "num_layers")
    sliding = _opt_int(config, path, "sliding_window") if config.get("use_sliding_window", True) else None
    if sliding and sliding >= _int(config, path, "max_position_embeddings", default=2**31):
        sliding = None
    n_sliding = (n_layers // 2 if model_type.startswith("gemma") else n_layers) if sliding else None
    fields = dict(
        id=folder.name.lower(),
        name=folder.name,
        family="local",
        architecture=model_type,
        n_params=1.0,
        n_layers=n_layers,
        hidden_size=hidden,
        n_heads=heads,
        n_kv_heads=heads if mla else kv_heads,
        head_dim=head_dim,
        ffn_size=_int(config, path, "intermediate_size", "ffn_hidden_size", "n_inner", default=4 * hidden),
        gated_mlp=model_type not in ("gpt_bigcode", "mpt", "falcon", "gpt2", "gpt_neox"),
        attn_bias=bool(config.get("attention_bias", model_type in ("qwen2", "qwen2_moe", "qwen"))),
        vocab_size=_int(config, path, "vocab_size", "padded_vocab_size"),
        tied_embeddings=bool(config.get("tie_word_embeddings", model_type.startswith("gemma"))),
        max_context_tokens=_int(config, path, "max_position_embeddings", "seq_length", "n_positions", default=4096),
        sliding_window_tokens=int(sliding) if sliding else None,
        n_sliding_layers=n_sliding,
        source=f"local folder {folder} (config.json)",
    )
    if moe_experts:
        fields.update(
            n_experts=int(moe_experts),
            n_active_experts=_int(config, path, "num_experts_per_tok"),
            n_shared_experts=_opt_int(config, path, "n_shared_experts") or 0,
            expert_ffn_size=_int(config, path, "moe_intermediate_size", "intermediate_size"),
            n_dense_layers=_opt_int(config, path, "first_k_dense_replace") or 0,
        )
    if mla:
        fields.update(
            kv_lora_rank=_opt_int(config, path, "kv_lora_rank"),
            q_lora_rank=_opt_int(config, path, "q_lora_rank") or 0,
            qk_rope_head_dim=rope,
            qk_nope_head_dim=nope,
            v_head_dim=_opt_int(config, path, "v_head_dim") or nope,
        )
    try:
        spec = ModelSpec(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SizingError(
            f"{path}: {err['loc'][0] if err['loc'] else 'value'}: {err['msg']}; check config.json"
        ) from None
    headers = read_safetensors_headers(folder)
    derived = spec.derived_params
    if headers and headers[0] > 0 and headers[1] * 8 / headers[0] >= 7.5:
        n_float, n_bytes, _ = headers  # an unquantized checkpoint: the header count is exact
        return spec.model_copy(
            update={
                "n_params": float(n_float),
                "weight_bits_on_disk": n_bytes * 8 / n_float,
                "source": spec.source + " + safetensors headers",
            }
        )
    update: dict = {"n_params": float(derived)}
    if headers:  # quantized (packed integer) checkpoint: keep the shape count, report the real bits on disk
        update.update(weight_bits_on_disk=headers[1] * 8 / derived, source=spec.source + " + safetensors headers")
    return spec.model_copy(update=update)
