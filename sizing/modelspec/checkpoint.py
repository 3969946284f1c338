"""The weights' own count when a folder has no *.safetensors to read: a shard index's metadata.total_size, or the
tensor table of GGUF files. Only headers are read, never tensor data.

- `model.safetensors.index.json` / `pytorch_model.bin.index.json` (huggingface_hub split_torch_state_dict):
  {"metadata": {"total_size": bytes}, "weight_map": {...}}; bytes / (torch_dtype bits / 8) is the count of an
  unquantized checkpoint.
- GGUF (ggml docs/gguf.md): "GGUF", u32 version (2 or 3), u64 tensor count, u64 metadata count, the metadata
  key/value pairs, then per tensor its name, u32 dimension count, u64 dimensions, u32 ggml type, u64 offset. A
  tensor's bytes follow from its type's block size and block bytes (ggml.c type_traits)."""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path
from typing import BinaryIO

from sizing.specs import SizingError

from .config import Config
from .files import MIB, describe, load_json, open_regular, read_capped, show

INDEX_NAMES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
INDEX_MAX_BYTES = 64 * MIB  # a 1T-parameter model's index is a few MiB
GGUF_HEADER_MAX = 512 * MIB  # metadata with a 256k-token vocabulary and merges stays far below this
DTYPE_BITS = {"float32": 32, "float16": 16, "bfloat16": 16, "float64": 64, "float8_e4m3fn": 8}
FIX = "re-download it"
# ggml type id -> (elements per block, bytes per block), ggml/src/ggml.c type_traits
GGML_TYPES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17),
}  # fmt: skip
_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF metadata value type -> bytes
_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")


def index_size(folder: Path) -> tuple[Path, int] | None:
    """(the index file, metadata.total_size in bytes) of the folder's shard index, None when it has none."""
    for name in INDEX_NAMES:
        path = folder / name
        if path.is_file():
            values = load_json(read_capped(path, INDEX_MAX_BYTES, FIX), path, FIX)
            meta = values.get("metadata") if isinstance(values, dict) else None
            total = meta.get("total_size") if isinstance(meta, dict) else None
            if isinstance(total, bool) or not isinstance(total, (int, float)) or not 0 < total < 1e16:
                raise SizingError(f"{show(path)}: metadata.total_size is {describe(total)}, not a byte count; {FIX}")
            return path, int(total)
    return None


def dtype_bits(cfg: Config) -> int | None:
    """Bits per weight of an unquantized checkpoint (torch_dtype / dtype), None when quantized or unstated."""
    if cfg.has("quantization_config"):
        return None
    name = cfg.raw("torch_dtype") or cfg.raw("dtype")
    return DTYPE_BITS.get(name) if isinstance(name, str) else None


class _Reader:
    """Bounded little-endian reads from a GGUF header; any overrun is a one-line error naming the file."""

    def __init__(self, fh: BinaryIO, path: Path, size: int) -> None:
        self.fh, self.path, self.left = fh, path, min(size, GGUF_HEADER_MAX)

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.left:
            raise SizingError(f"{show(self.path)} ends inside its GGUF header (or it is over 512 MiB); {FIX}")
        self.left -= n
        data = self.fh.read(n)
        if len(data) < n:
            raise SizingError(f"{show(self.path)} ends inside its GGUF header; {FIX}")
        return data

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def skip_value(self, kind: int, depth: int = 0) -> None:
        if kind in _SCALAR:
            self.take(_SCALAR[kind])
        elif kind == 8:  # string
            self.take(self.u64())
        elif kind == 9 and depth < 4:  # array: element type, count, elements
            inner, count = self.u32(), self.u64()
            if inner in _SCALAR:
                self.take(_SCALAR[inner] * count)
            else:
                for _ in range(count):
                    self.skip_value(inner, depth + 1)
        else:
            raise SizingError(f"{show(self.path)} has a GGUF metadata value of unknown type {kind}; {FIX}")


def _gguf_file(path: Path) -> tuple[int, int]:
    """(elements, bytes) of every tensor one GGUF file describes."""
    with open_regular(path, f"{FIX} or move it out of the model folder") as (fh, size):
        r = _Reader(fh, path, size)
        if r.take(4) != b"GGUF":
            raise SizingError(f"{show(path)} does not start with GGUF, so it is no GGUF file; {FIX}")
        version = r.u32()
        if version not in (2, 3):
            raise SizingError(f"{show(path)} is GGUF version {version}; sizing reads versions 2 and 3; {FIX}")
        n_tensors, n_meta = r.u64(), r.u64()
        for _ in range(n_meta):
            r.take(r.u64())  # key
            r.skip_value(r.u32())
        elems = nbytes = 0
        for _ in range(n_tensors):
            r.take(r.u64())  # name
            n_dims = r.u32()
            if n_dims > 8:
                raise SizingError(f"{show(path)} has a tensor of {n_dims} dimensions; {FIX}")
            count = math.prod(r.u64() for _ in range(n_dims))
            kind = r.u32()
            r.u64()  # offset
            if kind not in GGML_TYPES:
                raise SizingError(f"{show(path)} has a tensor of ggml type {kind}, which sizing does not know; {FIX}")
            block, block_bytes = GGML_TYPES[kind]
            elems += count
            nbytes += math.ceil(count / block) * block_bytes
    return elems, nbytes


def gguf_counts(folder: Path) -> tuple[int, int, str] | None:
    """(elements, bytes, a description) over the folder's GGUF model (its split parts summed); mmproj files (the
    vision projector llama.cpp keeps apart) are left out. None when there is no GGUF file."""
    files = sorted(p for p in folder.glob("*.gguf") if not p.name.lower().startswith("mmproj"))
    if not files:
        return None
    stems = {_SPLIT.sub("", p.name) for p in files}
    if len(stems) > 1:
        raise SizingError(
            f"{show(folder)} holds {len(stems)} different GGUF models ({show(', '.join(sorted(stems)), 80)}); "
            "keep the one to size"
        )
    parts = [m for m in (_SPLIT.search(p.name) for p in files) if m]
    if parts and len(files) != int(parts[0][2]):
        raise SizingError(
            f"{show(folder)} has {len(files)} of the {int(parts[0][2])} parts of a split GGUF model; "
            "download every part"
        )
    totals = [_gguf_file(p) for p in files]
    return sum(t[0] for t in totals), sum(t[1] for t in totals), f"{len(files)} GGUF file(s)"
