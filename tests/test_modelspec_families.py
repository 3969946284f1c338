"""Family readers on the key sets the corpus does not hold (Falcon-7B's multi-query, BLOOM, OPT, MPT-7B), the
refusals by name, the unknown-model_type warning, missing-key messages, and the weights' own counts (safetensors,
a shard index, GGUF) checked against the shape."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest
from cli_run import run_main

from sizing import modelspec
from sizing.specs import SizingError

DATA = Path(__file__).resolve().parent.parent / "data"
CORPUS = Path(__file__).resolve().parent / "fixtures" / "configs"
FALCON_7B = {  # tiiuae/falcon-7b config.json (RefinedWebModel keys)
    "model_type": "RefinedWebModel",
    "architectures": ["RWForCausalLM"],
    "hidden_size": 4544,
    "n_head": 71,
    "n_layer": 32,
    "multi_query": True,
    "parallel_attn": True,
    "bias": False,
    "vocab_size": 65024,
}
BLOOM_560M = {"model_type": "bloom", "n_embed": 1024, "n_layer": 24, "num_attention_heads": 16, "vocab_size": 250880}
OPT_125M = {
    "model_type": "opt",
    "hidden_size": 768,
    "ffn_dim": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 2048,
    "word_embed_proj_dim": 768,
    "vocab_size": 50272,
}
MPT_7B = {
    "model_type": "mpt",
    "d_model": 4096,
    "n_heads": 32,
    "n_layers": 32,
    "expansion_ratio": 4,
    "max_seq_len": 2048,
    "vocab_size": 50432,
    "no_bias": True,
    "attn_config": {"alibi": True},
}
TINY = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4}
TINY |= {"num_hidden_layers": 1, "vocab_size": 256, "torch_dtype": "bfloat16"}  # 73,920 parameters


def folder_with(tmp_path: Path, config: dict, name: str = "model") -> Path:
    path = tmp_path / name
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config))
    return path


def spec_of(tmp_path: Path, config: dict, name: str = "model"):
    return modelspec.from_hf_folder(folder_with(tmp_path, config, name))


def test_falcon_7b_is_multi_query(tmp_path):
    spec = spec_of(tmp_path, FALCON_7B)
    assert spec.n_kv_heads == 1 and spec.tied_embeddings
    assert spec.derived_params == pytest.approx(6.92e9, rel=0.005)  # HF FalconForCausalLM, head tied: 6.92B
    plain = spec_of(tmp_path, {**FALCON_7B, "model_type": "falcon", "multi_query": False}, "rw")
    assert plain.n_kv_heads == plain.n_heads  # multi_query off and no grouping key: every head has K and V


def test_bloom_and_opt_and_mpt(tmp_path):
    bloom = spec_of(tmp_path, BLOOM_560M, "bloom")
    assert bloom.derived_params == pytest.approx(559_214_592, rel=0.001)  # bigscience/bloom-560m model card
    opt = spec_of(tmp_path, OPT_125M, "opt")
    assert opt.derived_params == pytest.approx(125.2e6, rel=0.005)  # facebook/opt-125m: 125M
    narrow = spec_of(tmp_path, {**OPT_125M, "word_embed_proj_dim": 512}, "opt-narrow")
    assert "word_embed_proj_dim" in narrow.assumed
    mpt = spec_of(tmp_path, MPT_7B, "mpt")
    assert mpt.derived_params == pytest.approx(6.65e9, rel=0.01)  # mosaicml/mpt-7b: 6.7B
    assert mpt.n_learned_positions is None and not mpt.attn_bias  # ALiBi, no_bias


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 768}, "is an encoder (bert, BertModel)"),
        ({"model_type": "xlm-roberta", "hidden_size": 1024}, "is an encoder (xlm-roberta)"),
        ({"architectures": ["DistilBertForMaskedLM"], "dim": 768}, "is an encoder (DistilBertForMaskedLM)"),
        ({"model_type": "t5", "d_model": 512}, "is an encoder-decoder (t5)"),
        ({"model_type": "rwkv", "hidden_size": 2560}, "'rwkv' is an RNN"),
        ({"model_type": "jamba", "hidden_size": 4096}, "'jamba' is a Mamba-1"),
        ({**TINY, "num_key_value_heads_per_layer": [4]}, "num_key_value_heads_per_layer"),
    ],
)
def test_refused_by_name_in_one_line(tmp_path, capsys, config, named):
    code, out, err = run_main(["estimate", "--data", str(DATA), "--model", str(folder_with(tmp_path, config))], capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("error: ")
    assert named in err and "; " in err


def test_unknown_model_type_warns_and_marks_the_count_unverified(tmp_path, capsys):
    config = {**TINY, "model_type": "frobnicator", "frob_width": 9, "frob_layers": 2}
    spec = spec_of(tmp_path, config)
    assert "model_type 'frobnicator' is not one sizing knows" in spec.assumed
    assert "'frob_layers', 'frob_width'" in spec.assumed and "unverified" in spec.assumed
    assert "torch_dtype" not in spec.assumed  # settings, not shape: never reported as not understood
    code, out, _ = run_main(["estimate", "--data", str(DATA), "--model", str(tmp_path / "model"), "--json"], capsys)
    assert code == 0 and any("unverified" in note for note in json.loads(out)["assumptions"]["notes"])
    code, out, _ = run_main(["estimate", "--data", str(DATA), "--model", str(tmp_path / "model")], capsys)
    assert code == 0 and "Note: model_type 'frobnicator'" in out


def test_known_types_raise_no_warning(tmp_path):
    assert spec_of(tmp_path, TINY).assumed is None


@pytest.mark.parametrize(
    ("config", "expected", "found"),
    [
        ({**TINY, "num_local_experts": 8, "top_k": 2, "router_top_k": 2}, "'num_experts_per_tok'", "'router_top_k'"),
        (
            {k: v for k, v in TINY.items() if k != "num_hidden_layers"} | {"layer_count": 4},
            "'num_hidden_layers'",
            "'layer_count'",
        ),
        ({k: v for k, v in TINY.items() if k != "hidden_size"} | {"embed_dim": 64}, "'hidden_size'", "'embed_dim'"),
    ],
)
def test_a_missing_key_names_what_was_expected_and_what_was_found(tmp_path, config, expected, found):
    with pytest.raises(SizingError) as info:
        spec_of(tmp_path, config)
    message = str(info.value)
    assert f"lacks {expected}" in message and found in message and "; " in message


def test_moe_spellings_are_read(tmp_path):
    """gpt-oss writes experts_per_token, ERNIE moe_k: the same quantity."""
    for i, key in enumerate(("experts_per_token", "moe_k", "num_experts_per_token")):
        path = folder_with(tmp_path, {**TINY, "num_local_experts": 8, key: 2}, f"m{i}")
        assert modelspec.from_hf_folder(path).n_active_experts == 2


def test_llama4_and_hybrids_keep_their_layer_kinds():
    maverick = modelspec.from_hf_folder(CORPUS / "llama-4-maverick-17b-128e-instruct")
    assert (maverick.n_moe_layers, maverick.n_shared_experts, maverick.ffn_size) == (24, 1, 16384)
    assert maverick.n_sliding_layers == 36 and maverick.sliding_window_tokens == 8192  # chunked attention
    nxt = modelspec.from_hf_folder(CORPUS / "qwen3-next-80b-a3b-thinking")
    assert (nxt.n_linear_layers, nxt.n_attn_layers, nxt.n_shared_experts) == (36, 12, 1)
    nemo = modelspec.from_hf_folder(CORPUS / "nemotron-h-56b-base-8k")
    assert (nemo.n_layers, nemo.n_attn_layers, nemo.gated_mlp) == (64, 10, False)
    deci = modelspec.from_hf_folder(CORPUS / "llama-3.3-nemotron-super-49b-v1")
    assert deci.n_attn_layers < deci.n_layers == 80 and deci.n_kv_heads == 8


def test_vision_towers_are_weights():
    llava = modelspec.from_hf_folder(CORPUS / "llava-1.5-7b-hf")
    assert llava.n_vision_params == pytest.approx(0.3245e9, rel=0.01)  # CLIP ViT-L/14-336 303M + projector 21M
    assert "LlamaConfig defaults" in llava.assumed
    qwen = modelspec.from_hf_folder(CORPUS / "qwen3-vl-8b-instruct")
    assert qwen.derived_params - qwen.text_params == round(qwen.n_vision_params or 0) > 0


# ------------------------------------------------------------------------------------ the weights' own count
def write_safetensors(path: Path, tensors: dict[str, list[int]], dtype: str = "BF16") -> None:
    header, offset = {}, 0
    for name, shape in tensors.items():
        size = 2 * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob)


def test_safetensors_that_disagree_with_the_shape_are_named(tmp_path):
    path = folder_with(tmp_path, TINY)
    write_safetensors(path / "model.safetensors", {"a": [73920 + 5000]})  # 6.8% more than the shape
    spec = modelspec.from_hf_folder(path)
    assert spec.n_params == 78920
    assert "hold 0.000B parameters but config.json's shape gives" in spec.assumed and "+6.8%" in spec.assumed


def test_a_shard_index_gives_the_count(tmp_path):
    path = folder_with(tmp_path, TINY)
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 2 * 73920}}))
    spec = modelspec.from_hf_folder(path)
    assert spec.n_params == 73920 and spec.weight_bits_on_disk == 16 and spec.assumed is None
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 2 * 80000}}))
    assert "+8.2%" in modelspec.from_hf_folder(path).assumed
    falcon = modelspec.from_hf_folder(CORPUS / "falcon-40b")  # the copy's pytorch_model.bin.index.json
    assert falcon.n_params == pytest.approx(83_671_941_120 / 2) and "total_size" in falcon.source


def test_a_bad_shard_index_is_one_line(tmp_path, capsys):
    path = folder_with(tmp_path, TINY)
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": "big"}}))
    code, out, err = run_main(["estimate", "--data", str(DATA), "--model", str(path)], capsys)
    assert code == 2 and "total_size" in err and len(err.splitlines()) == 1


def gguf(tensors: list[tuple[str, list[int], int]], meta: dict[str, str]) -> bytes:
    """A GGUF v3 header (ggml docs/gguf.md): string metadata, then tensor infos (name, dims, ggml type, offset)."""

    def text(s: str) -> bytes:
        return struct.pack("<Q", len(s)) + s.encode()

    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    for key, value in meta.items():
        out += text(key) + struct.pack("<I", 8) + text(value)
    for name, dims, kind in tensors:
        out += text(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", kind, 0)
    return out


def test_gguf_tensor_tables_give_count_and_bits(tmp_path):
    path = folder_with(tmp_path, TINY)
    tensors = [("blk.0.ffn", [73920 - 256 * 64], 8), ("token_embd", [64, 256], 1)]  # Q8_0 and F16
    (path / "tiny-Q8_0.gguf").write_bytes(gguf(tensors, {"general.architecture": "llama"}))
    spec = modelspec.from_hf_folder(path)
    assert spec.n_params == 73920
    assert spec.weight_bits_on_disk == pytest.approx(((73920 - 16384) / 32 * 34 + 16384 * 2) * 8 / 73920)


@pytest.mark.parametrize(
    ("blob", "names"),
    [
        (b"GGUF" + struct.pack("<I", 3), "ends inside its GGUF header"),
        (b"NOPE" + b"\0" * 40, "does not start with GGUF"),
        (gguf([("t", [4], 99)], {}), "ggml type 99"),
    ],
)
def test_broken_gguf_is_one_line(tmp_path, capsys, blob, names):
    path = folder_with(tmp_path, TINY)
    (path / "model.gguf").write_bytes(blob)
    code, out, err = run_main(["estimate", "--data", str(DATA), "--model", str(path)], capsys)
    assert code == 2 and out == "" and names in err and len(err.splitlines()) == 1


# ------------------------------------------------------------------------------------ hostile values, new keys
def corpus_config(name: str) -> dict:
    return json.loads((CORPUS / name / "config.json").read_text())


HOSTILE = ["NaN", "-1", "1e400", '"4"', "[1]", "{}", "true", "3.5", "9" * 40]
FLAGS = ['"yes"', "0", "1", "[]", "{}", "NaN"]
NEW_KEYS = {  # key -> (base config, where it sits, values that must be refused naming it)
    "num_kv_heads": (FALCON_7B | {"new_decoder_architecture": True}, None, HOSTILE + ["5"]),
    "multi_query": (FALCON_7B, None, FLAGS),
    "new_decoder_architecture": (FALCON_7B, None, FLAGS),
    "multi_query_group_num": (corpus_config("chatglm2-6b"), None, HOSTILE + ["5"]),
    "kv_channels": (corpus_config("chatglm2-6b"), None, HOSTILE),
    "inner_hidden_size": (corpus_config("chatglm-6b"), None, HOSTILE),
    "expansion_ratio": (MPT_7B, None, HOSTILE),
    "kv_n_heads": (MPT_7B, "attn_config", HOSTILE + ["5"]),
    "attn_config": (MPT_7B, None, ['"x"', "[1]", "3"]),
    "interleave_moe_layer_step": (corpus_config("llama-4-scout-17b-16e-instruct"), "text_config", HOSTILE),
    "intermediate_size_mlp": (corpus_config("llama-4-scout-17b-16e-instruct"), "text_config", HOSTILE),
    "linear_num_value_heads": (corpus_config("qwen3-next-80b-a3b-thinking"), None, HOSTILE),
    "full_attention_interval": (corpus_config("qwen3-next-80b-a3b-thinking"), None, HOSTILE),
    "hybrid_override_pattern": (
        corpus_config("nemotron-h-56b-base-8k"),
        None,
        ['"M*"', "[1]", "null", json.dumps("MXM" * 40)],
    ),
    "mamba_num_heads": (corpus_config("nemotron-h-56b-base-8k"), None, HOSTILE),
    "block_configs": (corpus_config("llama-3.3-nemotron-super-49b-v1"), None, ['[{"ffn": {"ffn_mult": -1}}]']),
    "depth": (corpus_config("qwen3-vl-8b-instruct"), "vision_config", HOSTILE),
    "vision_config": (corpus_config("qwen3-vl-8b-instruct"), None, ['"x"', "[1]", "3"]),
    "quantization_config": (corpus_config("gpt-oss-20b"), None, ['"mxfp4"', "[1]"]),
    "shared_expert_intermediate_size": (corpus_config("qwen1.5-moe-a2.7b"), None, HOSTILE),
    "sliding_window_pattern": (corpus_config("gemma-2-2b") | {"sliding_window_pattern": 2}, None, HOSTILE[:3]),
}
CASES = [(key, raw) for key, (_, _, values) in NEW_KEYS.items() for raw in values]


@pytest.mark.parametrize(("key", "raw"), CASES, ids=[f"{k}={r[:8]}" for k, r in CASES])
def test_new_keys_refuse_hostile_values_naming_them(tmp_path, capsys, key, raw):
    base, inside, _ = NEW_KEYS[key]
    marker = "\x00HOSTILE\x00"
    config = json.loads(json.dumps(base))
    (config[inside] if inside else config)[key] = marker
    path = tmp_path / "model"
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config).replace(json.dumps(marker), raw))
    code, out, err = run_main(["estimate", "--data", str(DATA), "--model", str(path)], capsys)
    assert code == 2 and out == "" and err.startswith("error: ") and len(err.splitlines()) == 1, repr(err)
    assert key in err and "; " in err and "Traceback" not in err
