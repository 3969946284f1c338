"""Parameter counts and bytes on disk from the JSON headers of *.safetensors files; the tensors are never read."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from sizing.specs import SizingError

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
