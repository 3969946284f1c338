"""Turn what the user typed into a ModelSpec: a catalog id, alias or Hugging Face repo id, a size such as `7b`, or a
local Hugging Face folder (config.json, plus safetensors headers, a shard index or GGUF tensor tables when present).
Never touches the network or the tensors themselves. `files` reads defensively, `config` checks every config.json
value it hands out, `registry` picks the family reader (`decoders` for Llama-style configs, `gpt`, `falcon`, `glm`,
`phi`, `mpt`, `bloom_opt`, `moe`, `hybrid`, `vision`; `refuse` names what is not sized), `hf_folder` checks the
shape as a whole and against the weights (`safetensors`, `checkpoint`), `resolve` says what an input that is none
of these is."""

from .config import Config
from .generic import GENERIC_CONTEXT, GENERIC_HEAD_DIM, GENERIC_LADDER, GENERIC_VOCAB, generic_model, parse_size
from .hf_folder import from_hf_folder, shape_fields
from .registry import READERS, WRAPPERS, read_shape
from .resolve import by_hf_repo, resolve
from .safetensors import FLOAT_DTYPES, SAFETENSORS_BITS, read_safetensors_headers

__all__ = [
    "FLOAT_DTYPES",
    "GENERIC_CONTEXT",
    "GENERIC_HEAD_DIM",
    "GENERIC_LADDER",
    "GENERIC_VOCAB",
    "READERS",
    "SAFETENSORS_BITS",
    "WRAPPERS",
    "Config",
    "by_hf_repo",
    "from_hf_folder",
    "generic_model",
    "parse_size",
    "read_safetensors_headers",
    "read_shape",
    "resolve",
    "shape_fields",
]
