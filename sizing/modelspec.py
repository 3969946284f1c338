"""Turn what the user typed into a ModelSpec: a catalog id or alias, a size such as `7b`, or a local Hugging Face
folder (config.json, plus safetensors headers when present). Never touches the network or the tensors themselves.
"""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path

from pydantic import ValidationError

from .specs import ModelSpec, SizingError

# Generic stand-ins for `--model 7b`: a modern dense GQA decoder in the Llama-3 style (Llama 3 paper, Table 3:
# head_dim 128, 8 KV heads, SwiGLU FFN = 3.5 x hidden, 128,256-token vocabulary; tied embeddings below 4B as in
# Llama 3.2 1B/3B). Hidden size and heads grow with size as in Llama 3/3.1 and Qwen2.5; the layer count is then
# solved so the parameter count matches what was asked for.
GENERIC_LADDER: tuple[tuple[float, int, int], ...] = (
    # (up to this many parameters, hidden_size, n_heads)
    (0.3e9, 512, 8),
    (0.8e9, 1024, 8),
    (2.0e9, 2048, 16),
    (5.0e9, 3072, 24),
    (11e9, 4096, 32),
    (20e9, 5120, 40),
    (45e9, 6144, 48),
    (100e9, 8192, 64),
    (250e9, 12288, 96),
    (math.inf, 16384, 128),
)
GENERIC_VOCAB = 128256
GENERIC_HEAD_DIM = 128
GENERIC_CONTEXT = 131072
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bm])$", re.IGNORECASE)


def generic_model(n_params: float) -> ModelSpec:
    """A documented generic architecture with about `n_params` parameters."""
    if n_params < 100e6 or n_params > 5e12:
        raise SizingError(f"model size {n_params / 1e9:g}B is outside 0.1B-5000B; give a size such as 7b or 70b")
    hidden, heads = next((h, nh) for limit, h, nh in GENERIC_LADDER if n_params <= limit)
    n_kv = min(8, max(1, heads // 4))  # Qwen2.5-0.5B: 14 heads / 2 KV; Llama 3: 32+ heads / 8 KV
    ffn = int(round(3.5 * hidden / 256) * 256)
    tied = n_params < 4e9
    embed = GENERIC_VOCAB * hidden * (1 if tied else 2)
    per_layer = 2 * hidden * heads * GENERIC_HEAD_DIM + 2 * hidden * n_kv * GENERIC_HEAD_DIM + 3 * hidden * ffn
    n_layers = max(1, round((n_params - embed) / per_layer))
    label = f"{n_params / 1e9:g}b"
    spec = ModelSpec(
        id=label,
        name=f"generic {label.upper()} decoder",
        family="generic",
        architecture="llama",
        n_params=n_params,
        n_layers=n_layers,
        hidden_size=hidden,
        n_heads=heads,
        n_kv_heads=n_kv,
        head_dim=GENERIC_HEAD_DIM,
        ffn_size=ffn,
        gated_mlp=True,
        vocab_size=GENERIC_VOCAB,
        tied_embeddings=tied,
        max_context_tokens=GENERIC_CONTEXT,
        source="generic Llama-3-style shape (sizing.modelspec.GENERIC_LADDER)",
    )
    assumed = (
        f"generic dense GQA decoder for '{label}': {n_layers} layers, hidden {hidden}, {heads} heads, "
        f"{n_kv} KV heads x {GENERIC_HEAD_DIM}, SwiGLU FFN {ffn}, vocab {GENERIC_VOCAB}"
        f"{', tied embeddings' if tied else ''} = {spec.derived_params / 1e9:.2f}B parameters; "
        "name a catalog model (`sizing models`) or a folder for its exact shape"
    )
    return spec.model_copy(update={"n_params": float(spec.derived_params), "assumed": assumed})


def parse_size(text: str) -> float | None:
    match = _SIZE.match(text.strip())
    if not match:
        return None
    return float(match.group(1)) * (1e9 if match.group(2).lower() == "b" else 1e6)


# --------------------------------------------------------------------------------------------- HF folders
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


SAFETENSORS_BITS = {
    "F64": 64,
    "F32": 32,
    "F16": 16,
    "BF16": 16,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "I64": 64,
    "I32": 32,
    "I16": 16,
    "I8": 8,
    "U8": 8,
    "BOOL": 8,
    "U32": 32,
    "U16": 16,
}
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}


def read_safetensors_headers(folder: Path) -> tuple[int, float, dict[str, float]] | None:
    """(float parameter count, total tensor bytes, bytes per dtype) from the JSON headers of *.safetensors.
    Format: 8-byte little-endian header length, then a JSON header (huggingface/safetensors README)."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    n_float, n_bytes = 0, 0.0
    by_dtype: dict[str, float] = {}
    for file in files:
        try:
            with file.open("rb") as fh:
                (length,) = struct.unpack("<Q", fh.read(8))
                if length > 100_000_000:
                    raise ValueError("header too large")
                header = json.loads(fh.read(length))
            if not isinstance(header, dict):
                raise ValueError("header is not a JSON object")
        except (OSError, ValueError, struct.error) as exc:
            raise SizingError(f"{file.name} has no readable safetensors header ({exc}); re-download it") from None
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            shape = meta.get("shape") if isinstance(meta, dict) else None
            if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
                raise SizingError(f"{file.name}: tensor '{name}' has no valid shape; re-download the file")
            numel = math.prod(shape)
            bits = SAFETENSORS_BITS.get(meta.get("dtype", ""), 16)
            size = numel * bits / 8
            n_bytes += size
            by_dtype[meta.get("dtype", "?")] = by_dtype.get(meta.get("dtype", "?"), 0) + size
            if meta.get("dtype") in FLOAT_DTYPES:
                n_float += numel
    return n_float, n_bytes, by_dtype


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


def resolve(name: str, catalog) -> ModelSpec:
    """A catalog id or alias, a local folder, or a size like `7b`, in that order."""
    text = name.strip()
    if not text:
        raise SizingError("--model is empty; give a catalog name (`sizing models`), a size such as 7b, or a folder")
    path = Path(text).expanduser()
    if path.is_dir():
        return from_hf_folder(path)
    lowered = text.lower()
    if lowered in catalog.models or lowered in catalog.aliases["models"]:
        return catalog.model(lowered)
    size = parse_size(lowered)
    if size is not None:
        return generic_model(size)
    if "/" in text or text.startswith("."):
        raise SizingError(f"folder '{text}' does not exist; give the path of a local Hugging Face model folder")
    return catalog.model(lowered)  # raises with the closest names
