"""Hostile `--model` input through the real entry point: every bad value of every config.json key modelspec reads,
broken model folders, hostile safetensors headers and framings, and --model texts that name nothing. Each must
end in exactly one stderr line `error: ...`, exit code 2, nothing on stdout and no traceback, and an echoed value
with a newline in it must not start a second line.

`pytest -s tests/test_modelspec_adversarial.py` prints how many bad inputs each category tried."""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from cli_run import run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizing.modelspec import SAFETENSORS_BITS, resolve
from sizing.modelspec.config import COUNT_MAX, DIM_MAX, FFN_MAX, TOKENS_MAX, VOCAB_MAX
from sizing.specs import SizingError

DATA = Path(__file__).resolve().parent.parent / "data"  # this checkout's catalog, whatever is installed
TRIED: Counter[str] = Counter()
FEW = settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MANY = settings(FEW, max_examples=40)


@pytest.fixture(scope="module", autouse=True)
def _tally():
    yield
    print("\nbad inputs tried: " + ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items())) + f"; total {TRIED.total()}")


def run_cli(model: str, capsys) -> tuple[int, str, str]:
    return run_main(["estimate", "--data", str(DATA), "--model", model], capsys)


def assert_refused(model: str | Path, capsys, category: str, *, names: str | None = None) -> str:
    """The one-line refusal every bad input must get; returns the line."""
    TRIED[category] += 1
    code, out, err = run_cli(str(model), capsys)
    assert code == 2, f"exit {code} for {category}: {out[:200]!r} {err[:300]!r}"
    assert out == "" and "Traceback" not in err
    assert err.startswith("error: ") and err.endswith("\n") and len(err.splitlines()) == 1, repr(err)
    assert "; " in err, f"no fix given: {err!r}"
    if names:
        assert names in err, f"{names} not named in {err!r}"
    return err


def fresh(tmp_path: Path) -> Path:
    """A new folder per hypothesis example (tmp_path is shared by all examples of one test)."""
    return Path(tempfile.mkdtemp(dir=tmp_path))


# --------------------------------------------------------------------------------------------- configs
LLAMA = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 8192,
}
GPT2 = {"model_type": "gpt2", "n_embd": 768, "n_head": 12, "n_layer": 12, "vocab_size": 50257, "n_positions": 1024}
MOE = {**LLAMA, "model_type": "mixtral", "num_local_experts": 8, "num_experts_per_tok": 2}
MLA = {
    **LLAMA,
    "model_type": "deepseek_v3",
    "hidden_size": 7168,
    "num_attention_heads": 128,
    "num_key_value_heads": 128,
    "kv_lora_rank": 512,
    "q_lora_rank": 1536,
    "qk_rope_head_dim": 64,
    "qk_nope_head_dim": 128,
    "v_head_dim": 128,
}
PLACEHOLDER = "\x00HOSTILE\x00"


def config_text(base: dict, key: str, raw: str, drop: tuple[str, ...] = ()) -> str:
    """`base` without `drop`, with `key` set to the raw JSON text `raw` (which may be NaN, 1e400, 10**400 ...)."""
    values = {k: v for k, v in base.items() if k not in drop} | {key: PLACEHOLDER}
    return json.dumps(values).replace(json.dumps(PLACEHOLDER), raw)


def write_config(tmp_path: Path, text: str | bytes) -> Path:
    folder = fresh(tmp_path)
    (folder / "config.json").write_bytes(text.encode() if isinstance(text, str) else text)
    return folder


# hostile JSON values, as raw JSON text
INJECTED = ["no\nerror: forged second line", "a\r\nb", "x\u2028y", "\x85", "\x1b[31mred", "tab\there", "\ud800"]
NON_FINITE = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E999", "123e4567"])
HUGE_INT = st.integers(31, 800).map(lambda n: "9" * n)
NON_INTEGRAL = st.floats(-1e300, 1e300).filter(lambda f: not f.is_integer()).map(repr)
STRINGS = st.one_of(st.text(max_size=12), st.sampled_from(INJECTED + ["4096", "true", "", "auto"])).map(json.dumps)
CONTAINERS = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
).map(json.dumps)
LIST_OR_OBJECT = st.one_of(st.lists(st.integers(1, 9), max_size=3).map(json.dumps), st.just("{}"), st.just('{"a": 1}'))
NESTED = st.integers(1, 60).map(lambda n: "[" * n + "]" * n)
NOT_A_NUMBER = st.one_of(NON_FINITE, HUGE_INT, STRINGS, LIST_OR_OBJECT, NESTED, st.sampled_from(["true", "false"]))


def whole_numbers_outside(low: int, high: int) -> st.SearchStrategy[str]:
    ints = st.integers(-(10**20), low - 1) | st.integers(high + 1, 10**30)
    return st.one_of(ints.map(str), ints.map(lambda i: f"{i}.0"), NON_INTEGRAL, NOT_A_NUMBER)


def count(low: int, high: int, *, null: bool = False, extra: st.SearchStrategy[str] | None = None):
    out = whole_numbers_outside(low, high)
    out = out | st.just("null") if null else out
    return out | extra if extra is not None else out


FLAG = st.one_of(STRINGS, st.sampled_from(["0", "1", "-1", "NaN", "2.5"]), LIST_OR_OBJECT, NESTED)
NAME = st.one_of(
    st.sampled_from(["", "   ", "llama 3", "x" * 101, "gemma\n2"] + INJECTED).map(json.dumps),
    NON_FINITE,
    st.integers().map(str),
    LIST_OR_OBJECT,
    st.sampled_from(["true", "false"]),
)
NOT_DIVIDING_32 = st.integers(3, 31).filter(lambda k: 32 % k).map(str)
# key -> (config it is read from, keys dropped so this one is the one read, hostile values)
KEYS: dict[str, tuple[dict, tuple[str, ...], st.SearchStrategy[str]]] = {
    "hidden_size": (LLAMA, (), count(1, DIM_MAX, null=True)),
    "n_embd": (GPT2, (), count(1, DIM_MAX, null=True)),
    "d_model": (LLAMA, ("hidden_size",), count(1, DIM_MAX, null=True)),
    "num_attention_heads": (LLAMA, (), count(1, COUNT_MAX, null=True, extra=st.integers(4097, COUNT_MAX).map(str))),
    "n_head": (GPT2, (), count(1, COUNT_MAX, null=True, extra=st.just("7"))),
    "n_heads": (LLAMA, ("num_attention_heads",), count(1, COUNT_MAX, null=True)),
    "num_key_value_heads": (
        LLAMA,
        (),
        count(1, COUNT_MAX, extra=st.integers(33, COUNT_MAX).map(str) | NOT_DIVIDING_32),
    ),
    "multi_query_group_num": (LLAMA, ("num_key_value_heads",), count(1, COUNT_MAX, extra=NOT_DIVIDING_32)),
    "head_dim": (LLAMA, (), count(1, DIM_MAX)),
    "num_hidden_layers": (LLAMA, (), count(1, COUNT_MAX, null=True)),
    "n_layer": (GPT2, (), count(1, COUNT_MAX, null=True)),
    "num_layers": (LLAMA, ("num_hidden_layers",), count(1, COUNT_MAX, null=True)),
    "max_position_embeddings": (LLAMA, (), count(1, TOKENS_MAX)),
    "seq_length": (LLAMA, ("max_position_embeddings",), count(1, TOKENS_MAX)),
    "n_positions": (GPT2, (), count(1, TOKENS_MAX)),
    "intermediate_size": (LLAMA, (), count(1, FFN_MAX)),
    "ffn_hidden_size": (LLAMA, ("intermediate_size",), count(1, FFN_MAX)),
    "n_inner": (GPT2, (), count(1, FFN_MAX)),
    "vocab_size": (LLAMA, (), count(1, VOCAB_MAX, null=True)),
    "padded_vocab_size": (LLAMA, ("vocab_size",), count(1, VOCAB_MAX, null=True)),
    "num_local_experts": (MOE, (), count(0, COUNT_MAX, extra=st.just("1"))),
    "n_routed_experts": (MOE, ("num_local_experts",), count(0, COUNT_MAX, extra=st.just("1"))),
    "num_experts": (MOE, ("num_local_experts",), count(0, COUNT_MAX, extra=st.just("1"))),
    "num_experts_per_tok": (MOE, (), count(1, COUNT_MAX, null=True, extra=st.integers(9, COUNT_MAX).map(str))),
    "n_shared_experts": (MOE, (), count(0, COUNT_MAX)),
    "moe_intermediate_size": (MOE, (), count(1, FFN_MAX)),
    "first_k_dense_replace": (MOE, (), count(0, COUNT_MAX, extra=st.integers(33, COUNT_MAX).map(str))),
    "kv_lora_rank": (MLA, (), count(0, DIM_MAX)),
    "q_lora_rank": (MLA, (), count(0, DIM_MAX)),
    "qk_rope_head_dim": (MLA, (), count(1, DIM_MAX, null=True)),
    "qk_nope_head_dim": (MLA, (), count(1, DIM_MAX, null=True)),
    "v_head_dim": (MLA, (), count(0, DIM_MAX)),
    "sliding_window": (LLAMA, (), count(0, TOKENS_MAX)),
    "use_sliding_window": ({**LLAMA, "sliding_window": 4096}, (), FLAG),
    "attention_bias": (LLAMA, (), FLAG),
    "tie_word_embeddings": (LLAMA, (), FLAG),
    "is_encoder_decoder": (LLAMA, (), FLAG),
    "model_type": (LLAMA, (), NAME),
}


@pytest.mark.parametrize("key", sorted(KEYS))
@FEW
@given(data=st.data())
def test_every_config_key_refuses_hostile_values(tmp_path, capsys, key, data):
    base, drop, values = KEYS[key]
    raw = data.draw(values, label=key)
    assert_refused(write_config(tmp_path, config_text(base, key, raw, drop)), capsys, f"config.json {key}", names=key)


@MANY
@given(key=st.sampled_from(sorted(KEYS)), data=st.data())
def test_text_config_keys_are_named_with_their_prefix(tmp_path, capsys, key, data):
    """A multimodal wrapper: the error names `text_config.KEY`, the key as the file has it."""
    base, drop, values = KEYS[key]
    inner = json.loads(config_text(base, key, '"placeholder"', drop))
    text = json.dumps({"model_type": "llava", "text_config": inner}).replace('"placeholder"', data.draw(values))
    assert_refused(write_config(tmp_path, text), capsys, "config.json text_config.KEY", names=f"text_config.{key}")


REPORTED = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "1" + "0" * 400,
    "-2",
    "0",
    "32.5",
    '"4096"',
    "[" * 300 + "]" * 300,
]


@pytest.mark.parametrize("raw", REPORTED, ids=lambda r: r[:12])
def test_reported_values(tmp_path, capsys, raw):
    assert_refused(write_config(tmp_path, config_text(LLAMA, "hidden_size", raw)), capsys, "config.json reported")


def test_reported_examples_name_the_keys_written(tmp_path, capsys):
    """Derived values are never blamed: heads that do not divide the width name both keys, not head_dim."""
    text = json.dumps({**LLAMA, "num_attention_heads": 30, "num_key_value_heads": 30})
    err = assert_refused(write_config(tmp_path, text), capsys, "config.json shape", names="'hidden_size'")
    assert "'num_attention_heads'" in err and "head_dim" in err and "no 'head_dim'" in err
    err = assert_refused(
        write_config(tmp_path, json.dumps({**MOE, "num_experts_per_tok": 16})), capsys, "config.json shape"
    )
    assert "'num_experts_per_tok' (16) exceeds 'num_local_experts' (8)" in err
    wide = {**LLAMA, "hidden_size": 1 << 20, "intermediate_size": 1 << 24, "num_hidden_layers": 4096}
    err = assert_refused(write_config(tmp_path, json.dumps(wide)), capsys, "config.json shape", names="parameters")


# ------------------------------------------------------------------------------------ broken folders
def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(tmp_path: Path, make) -> Path:
    folder = fresh(tmp_path)
    make(folder)
    return folder


BROKEN_CONFIGS: dict[str, object] = {
    "empty file": b"",
    "whitespace": b"  \n",
    "not UTF-8": b'{"hidden_size": 4096, "model_type": "\xff\xfe"}',
    "UTF-16": json.dumps(LLAMA).encode("utf-16"),
    "syntax error": b'{"hidden_size": 4096,',
    "trailing garbage": json.dumps(LLAMA).encode() + b" x",
    "nested 200,000 deep": b"[" * 200_000,
    "hidden_size nested 200,000 deep": b'{"hidden_size": ' + b"[" * 200_000,
    "nested objects 5,000 deep": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "a list": b"[1, 2]",
    "a string": b'"config"',
    "a number": b"4096",
    "null": b"null",
    "duplicate key": b'{"hidden_size": 4096, "hidden_size": 8192}',
    "duplicate key with newline": b'{"a\\nerror: b": 1, "a\\nerror: b": 2}',
    "text_config not an object": json.dumps({"model_type": "llava", "text_config": [1]}).encode(),
    "no shape keys": b'{"model_type": "llama"}',
    "an encoder-decoder (T5)": json.dumps({**LLAMA, "model_type": "t5", "is_encoder_decoder": True}).encode(),
    "BOM then bad value": b"\xef\xbb\xbf" + json.dumps({**LLAMA, "hidden_size": "4096"}).encode(),
}
BROKEN_FOLDERS = {
    "no config.json": lambda f: None,
    "config.json is a folder": lambda f: (f / "config.json").mkdir(),
    "config.json is a FIFO": lambda f: _fifo(f / "config.json"),
    "config.json is /dev/zero": lambda f: (f / "config.json").symlink_to("/dev/zero"),
    "config.json is a symlink loop": lambda f: (f / "config.json").symlink_to(f / "config.json"),
    "config.json is 5 MiB": lambda f: os.truncate(_touch(f / "config.json"), 5 << 20),
}


def _touch(path: Path) -> Path:
    path.write_text("{}")
    return path


@pytest.mark.parametrize("name", sorted(BROKEN_CONFIGS))
def test_broken_config_files(tmp_path, capsys, name):
    assert_refused(write_config(tmp_path, BROKEN_CONFIGS[name]), capsys, "config.json file")


@pytest.mark.parametrize("name", sorted(BROKEN_FOLDERS))
def test_broken_folders(tmp_path, capsys, name):
    folder = _folder(tmp_path, BROKEN_FOLDERS[name])
    assert_refused(folder, capsys, "model folder")


def test_folder_name_with_a_newline_is_escaped(tmp_path, capsys):
    folder = tmp_path / "evil\nerror: forged"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    err = assert_refused(folder, capsys, "model folder")
    assert "evil\\nerror: forged" in err


# ------------------------------------------------------------------------------------ safetensors
def st_bytes(header: bytes, declared: int | None = None, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header) if declared is None else declared) + header + data


def with_safetensors(tmp_path: Path, blob: bytes, name: str = "model.safetensors") -> Path:
    folder = write_config(tmp_path, json.dumps(LLAMA))
    (folder / name).write_bytes(blob)
    return folder


GOOD = {"dtype": "BF16", "shape": [4096, 4096], "data_offsets": [0, 2 * 4096 * 4096]}
BAD_DIM = st.one_of(
    st.integers(-(10**6), -1).map(str),
    st.integers((1 << 40) + 1, 10**300).map(str),
    HUGE_INT,
    NON_FINITE,
    NON_INTEGRAL,
    st.sampled_from(["true", "null", '"4096"', "[4]", "{}"]),
)
BAD_SHAPE = st.one_of(
    st.lists(BAD_DIM, min_size=1, max_size=3).map(lambda dims: "[" + ", ".join(["4", *dims]) + "]"),
    STRINGS,
    NON_FINITE,
    st.sampled_from(["null", "4096", "{}", json.dumps([2] * 17), json.dumps([1 << 30] * 2), json.dumps([1 << 40] * 3)]),
)
BAD_DTYPE = st.one_of(
    st.text(max_size=8).filter(lambda d: d not in SAFETENSORS_BITS).map(json.dumps),
    st.sampled_from(["bf16", "F8", "Q4_K", "float16", "I4"] + INJECTED).map(json.dumps),
    st.sampled_from(["null", "16", "[]", "{}"]),
)
BAD_META = st.one_of(
    BAD_SHAPE.map(lambda s: '{"dtype": "BF16", "shape": ' + s + ', "data_offsets": [0, 0]}'),
    BAD_DTYPE.map(lambda d: '{"dtype": ' + d + ', "shape": [4], "data_offsets": [0, 8]}'),
    st.sampled_from(['{"shape": [4]}', '{"dtype": "BF16"}', "{}"]),
    STRINGS,
    NOT_A_NUMBER,
)
TENSOR_NAME = st.one_of(st.text(max_size=20), st.sampled_from(INJECTED))


@MANY
@given(name=TENSOR_NAME, meta=BAD_META)
def test_hostile_tensor_entries(tmp_path, capsys, name, meta):
    header = json.dumps({"__metadata__": {"format": "pt"}, "good": GOOD, "\x00": 0}).replace(
        '"\\u0000": 0', json.dumps("t" + name) + ": " + meta
    )
    assert_refused(with_safetensors(tmp_path, st_bytes(header.encode())), capsys, "safetensors tensor entry")


HEADER = json.dumps({"good": GOOD}).encode()
FRAMING = st.one_of(
    st.binary(max_size=7),  # too short for the length field
    st.integers(len(HEADER) + 1, (1 << 64) - 1).map(lambda n: st_bytes(HEADER, declared=n)),  # declared past the end
    st.integers(1, len(HEADER) - 1).map(lambda cut: st_bytes(HEADER)[: 8 + cut]),  # truncated inside the header
    st.binary(min_size=1, max_size=40).map(st_bytes),  # garbage header
    st.sampled_from([b"[]", b"null", b'"x"', b"4", b"{}", b'{"__metadata__": {}}', b"[" * 100_000]).map(st_bytes),
    st.sampled_from([b'{"a": 1, "a": 2}', b'{"good": {"dtype": "BF16", "shape": [NaN]}}']).map(st_bytes),
)


@MANY
@given(blob=FRAMING)
def test_hostile_safetensors_framing(tmp_path, capsys, blob):
    assert_refused(with_safetensors(tmp_path, blob), capsys, "safetensors framing")


BROKEN_CHECKPOINTS = {
    "a FIFO": lambda f: _fifo(f / "model.safetensors"),
    "a folder": lambda f: (f / "model.safetensors").mkdir(),
    "/dev/zero": lambda f: (f / "model.safetensors").symlink_to("/dev/zero"),
    "one of two shards": lambda f: (f / "model-00001-of-00002.safetensors").write_bytes(st_bytes(HEADER)),
    "another model's weights": lambda f: (f / "model.safetensors").write_bytes(st_bytes(HEADER)),
    "too few bits on disk": lambda f: (f / "model.safetensors").write_bytes(
        st_bytes(json.dumps({"q": {"dtype": "I8", "shape": [10], "data_offsets": [0, 10]}}).encode())
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN_CHECKPOINTS))
def test_broken_checkpoints(tmp_path, capsys, name):
    folder = write_config(tmp_path, json.dumps(LLAMA))
    BROKEN_CHECKPOINTS[name](folder)
    assert_refused(folder, capsys, "safetensors file")


# ------------------------------------------------------------------------------------ --model text
def test_model_texts_that_name_nothing(tmp_path, capsys):
    plain = tmp_path / "hostname"
    plain.write_text("myhost\n")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    texts = {
        "a plain file": (str(plain), "is a file, not a model folder"),
        "a FIFO": (str(fifo), "FIFO"),
        "a device": ("/dev/null", "character device"),
        "a missing folder": (str(tmp_path / "no" / "such"), "does not exist"),
        "300 characters": ("a" * 300, "300 characters"),
        "a 300-character path part": (str(tmp_path / ("b" * 300)), "characters"),
        "a newline": ("llama-3-8b\nerror: forged", "control character"),
        "a NUL byte": ("llama\x00-3-8b", "control character"),
        "a line separator": ("x\u2028y", "control character"),
        "a repo id not in the catalog": ("no-such-org/no-such-model", "huggingface-cli download"),
        "a size with 400 digits": ("9" * 400 + "b", "outside"),
        "only spaces": ("   ", "empty"),
        "an unknown home": ("~nosuchuser9/model", "does not exist"),
    }
    for text, expected in texts.values():
        err = assert_refused(text, capsys, "--model text", names=expected)
        assert "forged" not in err or "\\nerror: forged" in err


# ------------------------------------------------------------------------------------ valid after all
def test_inputs_that_are_valid(tmp_path, capsys):
    """Reported kinds that are valid input: they resolve, and to the right model."""
    folder = write_config(tmp_path, b"\xef\xbb\xbf" + json.dumps(LLAMA).encode())  # BOM
    for model in (folder, folder / "config.json"):
        code, out, err = run_cli(str(model), capsys)
        assert code == 0 and err == "" and "8.03B params" in out
    for repo in (
        "meta-llama/Llama-2-7b-hf",
        "META-LLAMA/llama-2-7B-HF",
        "https://huggingface.co/meta-llama/Llama-2-7b-hf",
    ):
        code, out, _ = run_cli(repo, capsys)
        assert code == 0 and out.startswith("Llama 2 7B")
    integral = write_config(tmp_path, json.dumps({**LLAMA, "num_hidden_layers": 32.0, "hidden_size": 4.096e3}))
    code, out, _ = run_cli(str(integral), capsys)
    assert code == 0 and "8.03B params" in out
    nulls = write_config(tmp_path, json.dumps({**LLAMA, "sliding_window": None, "head_dim": None, "n_inner": None}))
    assert run_cli(str(nulls), capsys)[0] == 0


def test_a_lone_surrogate_is_escaped(catalog):
    """An undecodable byte in argv arrives as a lone surrogate; echoing it raw would crash the terminal encoder.
    (Through the CLI the request model refuses it first, with its own line.)"""
    with pytest.raises(SizingError, match=r"control character") as info:
        resolve("model-\udcff", catalog)
    TRIED["--model text"] += 1
    assert "\\udcff" in str(info.value) and str(info.value).isprintable()
