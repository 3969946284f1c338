"""Turn what the user typed into a ModelSpec: a catalog id or alias, a size such as `7b`, or a local Hugging Face
folder (config.json, plus safetensors headers when present). Never touches the network or the tensors themselves."""

from .config import Config
from .generic import GENERIC_CONTEXT, GENERIC_HEAD_DIM, GENERIC_LADDER, GENERIC_VOCAB, generic_model, parse_size
from .hf_folder import from_hf_folder, shape_fields
from .resolve import resolve
from .safetensors import FLOAT_DTYPES, SAFETENSORS_BITS, read_safetensors_headers

__all__ = [
    "FLOAT_DTYPES",
    "GENERIC_CONTEXT",
    "GENERIC_HEAD_DIM",
    "GENERIC_LADDER",
    "GENERIC_VOCAB",
    "SAFETENSORS_BITS",
    "Config",
    "from_hf_folder",
    "generic_model",
    "parse_size",
    "read_safetensors_headers",
    "resolve",
    "shape_fields",
]
