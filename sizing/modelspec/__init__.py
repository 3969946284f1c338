"""Turn what the user typed into a ModelSpec: a catalog id, alias or Hugging Face repo id, a size such as `7b`, or a
local Hugging Face folder (config.json, plus safetensors headers when present). Never touches the network or the
tensors themselves. `files` reads defensively, `config` checks every config.json value it hands out, `hf_folder`
checks the shape as a whole, `safetensors` the headers, `resolve` says what an input that is none of these is."""

from .config import Config
from .generic import GENERIC_CONTEXT, GENERIC_HEAD_DIM, GENERIC_LADDER, GENERIC_VOCAB, generic_model, parse_size
from .hf_folder import from_hf_folder, shape_fields
from .resolve import by_hf_repo, resolve
from .safetensors import FLOAT_DTYPES, SAFETENSORS_BITS, read_safetensors_headers

__all__ = [
    "FLOAT_DTYPES",
    "GENERIC_CONTEXT",
    "GENERIC_HEAD_DIM",
    "GENERIC_LADDER",
    "GENERIC_VOCAB",
    "SAFETENSORS_BITS",
    "Config",
    "by_hf_repo",
    "from_hf_folder",
    "generic_model",
    "parse_size",
    "read_safetensors_headers",
    "resolve",
    "shape_fields",
]
