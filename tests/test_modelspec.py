"""Model resolution: catalog names, generic sizes, local Hugging Face folders (config.json + safetensors headers)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from sizing import modelspec
from sizing.specs import SizingError

LLAMA3_8B_CONFIG = {  # meta-llama/Meta-Llama-3-8B config.json
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 8192,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
MIXTRAL_CONFIG = {  # mistralai/Mixtral-8x7B-v0.1 config.json
    "model_type": "mixtral",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "vocab_size": 32000,
    "max_position_embeddings": 32768,
    "sliding_window": None,
}
DEEPSEEK_V3_CONFIG = {  # deepseek-ai/DeepSeek-V3 config.json (shape keys)
    "model_type": "deepseek_v3",
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "moe_intermediate_size": 2048,
    "num_attention_heads": 128,
    "num_hidden_layers": 61,
    "num_key_value_heads": 128,
    "n_routed_experts": 256,
    "n_shared_experts": 1,
    "num_experts_per_tok": 8,
    "first_k_dense_replace": 3,
    "kv_lora_rank": 512,
    "q_lora_rank": 1536,
    "qk_rope_head_dim": 64,
    "qk_nope_head_dim": 128,
    "v_head_dim": 128,
    "vocab_size": 129280,
    "max_position_embeddings": 163840,
    "tie_word_embeddings": False,
}


def write_folder(tmp_path: Path, config: dict, name: str = "model") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> None:
    """A header-only safetensors file (the format: u64 header length, JSON header, then data we never read)."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        size = 2
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob)


def test_catalog_name_and_alias(catalog):
    assert modelspec.resolve("deepseek-r1-distill-qwen-14b", catalog).n_layers == 48
    assert modelspec.resolve("Llama-3-8B", catalog).id == "llama-3-8b"


@pytest.mark.parametrize("size", ["1.5b", "7b", "70b", "671b", "500m"])
def test_generic_sizes_hit_the_requested_count(catalog, size):
    spec = modelspec.resolve(size, catalog)
    target = modelspec.parse_size(size)
    assert spec.derived_params == pytest.approx(target, rel=0.06)
    assert spec.assumed and "generic" in spec.assumed
    assert spec.n_kv_heads < spec.n_heads  # a modern GQA decoder


def test_hf_folder_llama3(tmp_path, catalog):
    spec = modelspec.resolve(str(write_folder(tmp_path, LLAMA3_8B_CONFIG)), catalog)
    assert spec.derived_params == pytest.approx(8.03e9, rel=0.005)  # HF model card: 8.03B
    assert (spec.n_kv_heads, spec.head_dim) == (8, 128)


def test_hf_folder_mixtral_and_deepseek(tmp_path):
    mixtral = modelspec.from_hf_folder(write_folder(tmp_path, MIXTRAL_CONFIG, "mixtral"))
    assert mixtral.derived_params == pytest.approx(46.7e9, rel=0.01)  # Mistral AI: 46.7B total
    ds = modelspec.from_hf_folder(write_folder(tmp_path, DEEPSEEK_V3_CONFIG, "dsv3"))
    assert ds.derived_params == pytest.approx(671e9, rel=0.01)  # DeepSeek-V3 report: 671B (without MTP)
    assert ds.is_mla and ds.kv_lora_rank == 512


TINY_CONFIG = {  # a one-layer Llama: 73,920 parameters
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_hidden_layers": 1,
    "vocab_size": 256,
}
TINY_TENSORS = {
    "model.embed_tokens.weight": [256, 64],
    **{f"model.layers.0.self_attn.{p}_proj.weight": [64, 64] for p in "qkvo"},
    "model.layers.0.mlp.gate_proj.weight": [128, 64],
    "model.layers.0.mlp.up_proj.weight": [128, 64],
    "model.layers.0.mlp.down_proj.weight": [64, 128],
    "model.layers.0.input_layernorm.weight": [64],
    "model.layers.0.post_attention_layernorm.weight": [64],
}


def test_safetensors_headers_give_exact_count(tmp_path):
    folder = write_folder(tmp_path, TINY_CONFIG)
    write_safetensors(folder / "model-00001-of-00002.safetensors", {k: ("BF16", v) for k, v in TINY_TENSORS.items()})
    tail = {"lm_head.weight": ("BF16", [256, 64]), "model.norm.weight": ("F32", [64]), "extra": ("F32", [3])}
    write_safetensors(folder / "model-00002-of-00002.safetensors", tail)
    spec = modelspec.from_hf_folder(folder)
    assert spec.derived_params == 73920
    assert spec.n_params == 73920 + 3  # the header count wins over the shape's
    assert "safetensors" in spec.source


def test_packed_integer_checkpoint_keeps_the_shape_count(tmp_path):
    """GPTQ stores 8 int4 weights per I32 element: the element count is no parameter count, the bytes are real."""
    folder = write_folder(tmp_path, TINY_CONFIG)
    packed = {k: ("I32", [v[0] // 8, *v[1:]]) for k, v in TINY_TENSORS.items() if "proj" in k}
    plain = {k: ("BF16", v) for k, v in TINY_TENSORS.items() if "proj" not in k}
    write_safetensors(folder / "model.safetensors", {**packed, **plain, "lm_head.weight": ("BF16", [256, 64])})
    spec = modelspec.from_hf_folder(folder)
    assert spec.n_params == spec.derived_params == 73920
    assert spec.weight_bits_on_disk == pytest.approx((40960 * 4 + 32896 * 16) / 73920)


def test_safetensors_of_another_model_are_refused(tmp_path):
    folder = write_folder(tmp_path, LLAMA3_8B_CONFIG)  # 8B shape, 16M parameters in the file
    write_safetensors(folder / "model.safetensors", {"a": ("BF16", [4096, 4096])})
    with pytest.raises(SizingError, match="less than half"):
        modelspec.from_hf_folder(folder)


def test_malformed_config_is_one_line_error(tmp_path, catalog):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden_size": 4096,')
    with pytest.raises(SizingError, match="not valid JSON"):
        modelspec.resolve(str(folder), catalog)


def test_config_missing_keys(tmp_path, catalog):
    folder = write_folder(tmp_path, {"model_type": "llama", "hidden_size": 4096})
    with pytest.raises(SizingError, match="num_attention_heads"):
        modelspec.resolve(str(folder), catalog)


def test_config_with_negative_value(tmp_path, catalog):
    folder = write_folder(tmp_path, {**LLAMA3_8B_CONFIG, "num_hidden_layers": -2})
    with pytest.raises(SizingError, match="num_hidden_layers"):
        modelspec.resolve(str(folder), catalog)


def test_unknown_model_suggests(catalog):
    with pytest.raises(SizingError, match="closest"):
        modelspec.resolve("qwen2.5-8b-instrct", catalog)


def test_missing_folder_is_named(catalog):
    with pytest.raises(SizingError, match="does not exist"):
        modelspec.resolve("./no/such/folder", catalog)
