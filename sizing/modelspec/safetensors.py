"""Parameter counts and bytes on disk from the JSON headers of *.safetensors files; the tensors are never read.

Format (huggingface/safetensors README): an 8-byte little-endian header length N, N bytes of JSON (an object of
tensor name -> {dtype, shape, data_offsets}, plus an optional `__metadata__`), then the tensor data. The reference
implementation refuses headers over 100 MB; so do we. A file with a header and no data (what a range request for
the header returns) is valid here: only the header is read."""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path

from sizing.specs import SizingError

from .files import describe, load_json, open_regular, show

HEADER_MAX_BYTES = 100_000_000  # safetensors' MAX_HEADER_SIZE
DIM_MAX = 1 << 40  # one dimension of one tensor
NUMEL_MAX = 1 << 48  # elements of one tensor (2.8e14; the largest real tensors hold about 1e10)
FIX = "re-download it"
# bits per element of every dtype the safetensors format defines (Dtype in safetensors/src/tensor.rs)
SAFETENSORS_BITS = {
    "F64": 64,
    "F32": 32,
    "F16": 16,
    "BF16": 16,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "F8_E8M0": 8,  # block scales (MX formats), not weights
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "F4": 4,
    "C64": 64,
    "I64": 64,
    "I32": 32,
    "I16": 16,
    "I8": 8,
    "U64": 64,
    "U32": 32,
    "U16": 16,
    "U8": 8,
    "BOOL": 8,
}
FLOAT_DTYPES = {
    "F64",
    "F32",
    "F16",
    "BF16",
    "F8_E4M3",
    "F8_E5M2",
    "F8_E4M3FNUZ",
    "F8_E5M2FNUZ",
    "F6_E2M3",
    "F6_E3M2",
    "F4",
}
_SHARD = re.compile(r"^(?P<stem>.+)-(?P<index>\d+)-of-(?P<total>\d+)\.safetensors$")


def _header(file: Path) -> dict:
    """The JSON header of one file, with its declared length checked against the file's real size."""
    with open_regular(file, f"{FIX} or move it out of the model folder") as (fh, size):
        first = fh.read(8)
        if len(first) < 8:
            raise SizingError(f"{show(file)} is {size} bytes, too short for a safetensors file; {FIX}")
        (length,) = struct.unpack("<Q", first)
        if length > HEADER_MAX_BYTES:
            raise SizingError(
                f"{show(file)} declares a {length:,}-byte header, more than safetensors allows (100 MB); {FIX}"
            )
        if length > size - 8:
            raise SizingError(
                f"{show(file)} declares a {length:,}-byte header but has only {size - 8:,} bytes after the length "
                f"field: it is truncated or not a safetensors file; {FIX}"
            )
        blob = fh.read(length)
    if len(blob) < length:  # shrank while we read it
        raise SizingError(f"{show(file)} ended inside its header; {FIX}")
    header = load_json(blob, file, FIX)
    if not isinstance(header, dict):
        raise SizingError(f"{show(file)}: the header holds {describe(header)}, not a JSON object; {FIX}")
    return header


def _tensor(file: Path, name: str, meta: object) -> tuple[str, int]:
    """(dtype, number of elements) of one header entry, or an error naming the tensor."""
    where = f"{show(file)}: tensor '{show(name, 80)}'"
    if not isinstance(meta, dict):
        raise SizingError(f"{where} is described by {describe(meta)}, not an object; {FIX}")
    dtype, shape = meta.get("dtype"), meta.get("shape")
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_BITS:
        raise SizingError(f"{where} has dtype {describe(dtype)}, which safetensors does not define; {FIX}")
    if not isinstance(shape, list) or len(shape) > 16:
        raise SizingError(f"{where} has shape {describe(shape)}, not a list of at most 16 sizes; {FIX}")
    for dim in shape:
        if isinstance(dim, bool) or not isinstance(dim, int) or not 0 <= dim <= DIM_MAX:
            raise SizingError(f"{where} has a dimension {describe(dim)}, not a size from 0 to 2^40; {FIX}")
    numel = math.prod(shape)
    if numel > NUMEL_MAX:
        raise SizingError(f"{where} has more than 2^48 elements, more than any real tensor; {FIX}")
    return dtype, numel


def _missing_shards(files: list[Path]) -> str | None:
    """The first absent shard of a `model-00001-of-00004.safetensors` set, and how many are absent, if any."""
    sets: dict[tuple[str, str], set[int]] = {}
    for file in files:
        match = _SHARD.match(file.name)
        if match:
            sets.setdefault((match["stem"], match["total"]), set()).add(int(match["index"]))
    for (stem, total), present in sorted(sets.items()):
        width = len(total)
        first = next(i for i in range(1, len(present) + 2) if i not in present)
        n_missing = int(total) - sum(1 for i in present if i <= int(total))
        if n_missing > 0:
            return f"{stem}-{first:0{width}d}-of-{total}.safetensors ({n_missing} of {int(total)} shards missing)"
    return None


def read_safetensors_headers(folder: Path) -> tuple[int, float, dict[str, float]] | None:
    """(float parameter count, total tensor bytes, bytes per dtype) over every *.safetensors file in `folder`,
    None when there are none. Every header entry is checked; a file with no tensors or a missing shard is an
    error, since the count would silently be short."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    missing = _missing_shards(files)
    if missing:
        raise SizingError(f"{show(folder)} lacks {show(missing)}; download every shard or remove the partial set")
    n_float, n_bytes = 0, 0.0
    by_dtype: dict[str, float] = {}
    for file in files:
        header = _header(file)
        tensors = {name: meta for name, meta in header.items() if name != "__metadata__"}
        if not tensors:
            raise SizingError(f"{show(file)} holds no tensors; {FIX}")
        for name, meta in tensors.items():
            dtype, numel = _tensor(file, name, meta)
            size = numel * SAFETENSORS_BITS[dtype] / 8
            n_bytes += size
            by_dtype[dtype] = by_dtype.get(dtype, 0.0) + size
            if dtype in FLOAT_DTYPES:
                n_float += numel
    return n_float, n_bytes, by_dtype
