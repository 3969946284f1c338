"""A ModelSpec from a local Hugging Face folder: the shape from config.json, read by its family's reader
(families), the count and bits on disk from the weights when the folder has them (safetensors headers, a shard
index's total_size, GGUF tensor tables), and the shape's count checked against theirs.

Every value is checked where it is read (config.Config) and the shape as a whole before a ModelSpec is built:
KV heads divide the attention heads, heads divide the width unless head_dim says otherwise, active experts are
among the experts. An error names the keys as config.json writes them. What a reader assumed, could not model
or found disagreeing reaches the estimate's notes through ModelSpec.assumed."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from sizing.specs import ModelSpec, SizingError

from .checkpoint import dtype_bits, gguf_counts, index_size
from .config import Config
from .files import kind, show
from .registry import read_shape
from .safetensors import FLOAT_DTYPES, read_safetensors_headers

MAX_PARAMS = 1e14  # 100T: a shape past this is a typo, and the estimates would overflow into nonsense
AGREE = 0.02  # the shape's count and the weights' disagree past this: warn (the catalog's own tolerance)
MISMATCH = "check that every shard is there and that config.json belongs to these files"


def shape_fields(cfg: Config) -> dict:
    """Every ModelSpec shape field from a checked config (the family reader's, without its notes)."""
    return read_shape(cfg).fields


def _folder_name(folder: Path) -> str:
    """The folder's own name, also for `.` or `..` (the name of the folder they stand for)."""
    return show(Path(os.path.abspath(folder)).name or "local-model", 80)


def _spec(folder: Path, cfg: Config) -> ModelSpec:
    name = _folder_name(folder)
    shape = read_shape(cfg)
    try:
        spec = ModelSpec(
            id=name.lower(),
            name=name,
            family="local",
            n_params=1.0,
            source=f"local folder {show(folder)} (config.json)",
            assumed="; ".join(shape.notes) or None,
            **shape.fields,
        )
    except ValidationError as exc:  # not reached when the checks above are complete; still one line
        err = exc.errors()[0]
        field = err["loc"][0] if err["loc"] else "shape"
        raise cfg.error(f"the shape is inconsistent ({field}: {err['msg']})") from None
    if spec.derived_params > MAX_PARAMS:
        raise cfg.error(
            f"the shape has {spec.derived_params:.3g} parameters, more than any real model; check "
            f"{cfg.name('hidden_size')}, {cfg.name('num_hidden_layers')}, {cfg.name('intermediate_size')}, "
            f"{cfg.name('vocab_size')} and the expert counts"
        )
    return spec.model_copy(update={"n_params": float(spec.derived_params)})


def config_path(folder: Path) -> Path:
    """folder/config.json, which must be there and be a file."""
    path = folder / "config.json"
    what = kind(path)
    if what is None:
        raise SizingError(f"'{show(folder)}' has no config.json; point --model at a Hugging Face model folder")
    if what != "file":
        raise SizingError(f"{show(path)} is {what}, not a file; point --model at a Hugging Face model folder")
    return path


def _noted(spec: ModelSpec, note: str) -> str:
    return f"{spec.assumed}; {note}" if spec.assumed else note


def _counted(spec: ModelSpec, count: float, bits: float, what: str, folder: Path) -> ModelSpec:
    """The weights' count and bits, the shape's count checked against them: under half is another model's
    weights (an error), more than 2% apart a warning naming both figures."""
    derived = spec.derived_params
    if count < derived / 2:
        raise SizingError(
            f"the {what} in {show(folder)} hold {count:.4g} parameters, less than half the {derived:.4g} that "
            f"config.json's shape has; {MISMATCH}"
        )
    update: dict = {"n_params": float(count), "weight_bits_on_disk": bits, "source": f"{spec.source} + {what}"}
    gap = count / derived - 1
    if abs(gap) > AGREE:
        update["assumed"] = _noted(
            spec,
            f"the {what} hold {count / 1e9:.3f}B parameters but config.json's shape gives {derived / 1e9:.3f}B "
            f"({gap:+.1%}): the count shown is the weights', memory and speed follow the shape; {MISMATCH}",
        )
    return spec.model_copy(update=update)


def _packed(spec: ModelSpec, n_bytes: float, what: str, folder: Path) -> ModelSpec:
    """Quantized weights (packed integers, whose element count is not the parameter count): the shape's count and
    the real bits on disk, which must be a plausible 1-64 per parameter."""
    derived = spec.derived_params
    bits = n_bytes * 8 / derived
    if not 1 <= bits <= 64:
        raise SizingError(
            f"the {what} in {show(folder)} hold {n_bytes:.4g} bytes, {bits:.3g} bits for each of the "
            f"{derived:.4g} parameters config.json's shape has; {MISMATCH}"
        )
    return spec.model_copy(update={"weight_bits_on_disk": bits, "source": f"{spec.source} + {what}"})


def _with_headers(spec: ModelSpec, headers: tuple[int, float, dict[str, float]], folder: Path) -> ModelSpec:
    """Unquantized (nearly all bytes in float dtypes): the header count is exact. Quantized: packed."""
    n_float, n_bytes, by_dtype = headers
    if n_float > MAX_PARAMS or n_bytes > 8 * MAX_PARAMS:
        raise SizingError(
            f"the safetensors headers in {show(folder)} describe more than any real model holds; "
            "re-download the checkpoint"
        )
    packed = sum(size for dtype, size in by_dtype.items() if dtype not in FLOAT_DTYPES)
    if packed <= 0.1 * n_bytes:  # int tensors of an unquantized model are a few buffers (position ids)
        return _counted(spec, n_float, n_bytes * 8 / max(n_float, 1), "safetensors tensors", folder)
    return _packed(spec, n_bytes, "safetensors tensors", folder)


def _without_safetensors(spec: ModelSpec, cfg: Config, folder: Path) -> ModelSpec:
    """GGUF tensor tables, else a shard index's total_size, else the shape alone."""
    gguf = gguf_counts(folder)
    if gguf is not None:
        elems, n_bytes, what = gguf
        return _counted(spec, elems, n_bytes * 8 / max(elems, 1), what, folder)
    index = index_size(folder)
    if index is None:
        return spec
    path, n_bytes = index
    bits = dtype_bits(cfg)
    if bits is None:  # quantized, or the dtype unstated: the bytes are real, the count is the shape's
        return _packed(spec, n_bytes, f"{path.name} total_size", folder)
    return _counted(spec, n_bytes * 8 / bits, bits, f"{path.name} total_size at {bits} bits", folder)


def from_hf_folder(folder: Path) -> ModelSpec:
    """The model in a local Hugging Face folder (or the folder of a config.json)."""
    cfg = Config.read(config_path(folder))
    spec = _spec(folder, cfg)
    headers = read_safetensors_headers(folder)
    if headers is None:
        return _without_safetensors(spec, cfg, folder)
    return _with_headers(spec, headers, folder)
