"""`--model TEXT` -> ModelSpec: a local folder, a catalog id, alias or Hugging Face repo id, a size like `7b`.
Each input that is none of these gets one line saying what it is and what to give instead."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Protocol

from sizing.specs import ModelSpec, SizingError

from .files import kind, show
from .generic import generic_model, parse_size
from .hf_folder import from_hf_folder

NAME_MAX = 255  # the longest file name (NAME_MAX on Linux, macOS and Windows); catalog ids are far shorter
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # Hugging Face `org/name`
_HUB_URL = re.compile(r"^(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/", re.IGNORECASE)
_BREAKING = {"Cc", "Zl", "Zp", "Cs"}  # controls, line and paragraph separators, lone surrogates (undecodable bytes)
ASK = "give a catalog name (`sizing models`), a size such as 7b, or a model folder"


class ModelCatalog(Protocol):
    """What resolve needs of sizing.catalog.Catalog (modelspec may not import catalog)."""

    @property
    def models(self) -> dict[str, ModelSpec]: ...

    @property
    def aliases(self) -> dict[str, dict[str, str]]: ...

    def model(self, name: str) -> ModelSpec: ...


def by_hf_repo(text: str, catalog: ModelCatalog) -> ModelSpec | None:
    """The catalog row whose hf_repo is `text` (any case; a huggingface.co URL works too)."""
    repo = _HUB_URL.sub("", text).strip("/").lower()
    return next((m for m in catalog.models.values() if m.hf_repo and m.hf_repo.lower() == repo), None)


def _path(text: str) -> Path:
    try:
        return Path(text).expanduser()
    except RuntimeError:  # `~nosuchuser/...`: no home to expand to, so it names nothing on disk
        return Path(text)


def _not_found(text: str, path: Path, what: str | None) -> SizingError | None:
    """Why `text`, which is no folder, catalog name or size, cannot be a model; None to let the catalog answer
    with its closest names."""
    if what == "file":
        return SizingError(
            f"'{show(path)}' is a file, not a model folder; give the folder that holds config.json "
            "(or the path of config.json itself)"
        )
    if what is not None:
        return SizingError(f"'{show(path)}' is {what}, not a model folder; {ASK}")
    if len(text) > NAME_MAX or any(len(part) > NAME_MAX for part in path.parts):
        return SizingError(f"--model '{show(text, 60)}' ({len(text)} characters) is no catalog name or folder; {ASK}")
    if _REPO_ID.match(text) and kind(path.parent) is None:
        return SizingError(
            f"'{show(text)}' is no local folder and no catalog model's hf_repo; download its config.json into a "
            f"folder (`huggingface-cli download {show(text)} config.json --local-dir DIR`) and give --model DIR"
        )
    if "/" in text or "\\" in text or text.startswith((".", "~")):
        return SizingError(f"folder '{show(text)}' does not exist; give the path of a local Hugging Face model folder")
    return None


def resolve(name: str, catalog: ModelCatalog) -> ModelSpec:
    """A local folder (or its config.json), a catalog id, alias or hf_repo, or a size like `7b`, in that order."""
    text = name.strip()
    if not text:
        raise SizingError(f"--model is empty; {ASK}")
    if any(unicodedata.category(c) in _BREAKING for c in text):
        raise SizingError(f"--model '{show(text, 80)}' holds a control character (a newline, tab, ...); {ASK}")
    path = _path(text)
    what = kind(path)
    if what == "folder":
        return from_hf_folder(path)
    if what == "file" and path.name == "config.json":
        return from_hf_folder(path.parent)
    lowered = text.lower()
    if lowered in catalog.models or lowered in catalog.aliases["models"]:
        return catalog.model(lowered)
    row = by_hf_repo(lowered, catalog)
    if row is not None:
        return row
    size = parse_size(lowered)
    if size is not None:
        return generic_model(size)
    problem = _not_found(text, path, what)
    if problem is not None:
        raise problem
    return catalog.model(lowered)  # raises with the closest names
