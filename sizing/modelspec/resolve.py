"""`--model TEXT` -> ModelSpec: a catalog id or alias, a local folder, or a size like `7b`."""

from __future__ import annotations

from pathlib import Path

from sizing.specs import ModelSpec, SizingError

from .generic import generic_model, parse_size
from .hf_folder import from_hf_folder


def resolve(name: str, catalog) -> ModelSpec:
    """A catalog id or alias, a local folder, or a size like `7b`, in that order."""
    text = name.strip()
    if not text:
        raise SizingError("--model is empty; give a catalog name (`sizing models`), a size such as 7b, or a folder")
    path = Path(text).expanduser()
    if path.is_dir():
        return from_hf_folder(path)
    lowered = text.lower()
    if lowered in catalog.models or lowered in catalog.aliases["models"]:
        return catalog.model(lowered)
    size = parse_size(lowered)
    if size is not None:
        return generic_model(size)
    if "/" in text or text.startswith("."):
        raise SizingError(f"folder '{text}' does not exist; give the path of a local Hugging Face model folder")
    return catalog.model(lowered)  # raises with the closest names
