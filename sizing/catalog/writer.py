"""Writing to a user's own catalog copy: `add_model` appends one model row to DIR/models.csv (`sizing models add`).

The row is checked exactly as loading checks it (the same cell parser, the spec's constraints, the 2% parameter
rule, ids and aliases unique across the file) before anything is written; the file is replaced in one step (a
temporary file in the same folder, then os.replace), so a failure leaves the copy as it was. The row follows the
file's own header order and delimiter (a European `;` file gets decimal commas)."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from pathlib import Path

from sizing.specs import ModelSpec, SizingError

from .checks import check_model_params
from .csvfile import CatalogError, RowProblem, header_names, read_csv
from .load import _load, load
from .tables import _item, _row_values, default_data_dir

MODELS = "models.csv"
_NOT_SLUG = re.compile(r"[^a-z0-9._-]+")


def slug(text: str) -> str:
    """A catalog id from a folder name: lower case, runs of other characters as one '-'."""
    out = _NOT_SLUG.sub("-", text.lower()).strip("-._")
    return out or "local-model"


def _text(value: object, scale: float, delimiter: str) -> str:
    """One cell as the loader reads it back: true/false, `;`-joined lists, numbers in vendor units."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ";".join(str(v) for v in value)
    if isinstance(value, float):
        number = value / scale
        cell = str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.6g}"
        return cell.replace(".", ",") if delimiter == ";" else cell
    if isinstance(value, int):
        return str(value)
    return str(value)


def model_row(spec: ModelSpec, delimiter: str = ",") -> dict[str, str]:
    """The models.csv cells of `spec`, keyed by column (empty cells for unset optional columns)."""
    return {column: _text(getattr(spec, col.field), col.scale, delimiter) for column, col in ModelSpec.COLUMNS.items()}


def _checked(spec: ModelSpec, cells: dict[str, str], delimiter: str, row: int) -> None:
    """The row parses back into an equal model and passes the loader's model checks; else a CatalogError."""
    try:
        model = _item(ModelSpec, _row_values(cells, ModelSpec.COLUMNS, delimiter))
    except RowProblem as exc:
        raise CatalogError(MODELS, row, exc.column, exc.problem) from None
    problem = check_model_params(model)
    if problem:
        raise CatalogError(MODELS, row, "params_b", problem)


def add_model(data_dir: Path, spec: ModelSpec, model_id: str | None = None) -> ModelSpec:
    """Append `spec` (a model read from a local folder) to data_dir/models.csv as `model_id` (default: a slug of
    its name); refuse the bundled data/, a copy that does not load, and an id or alias already in the file."""
    root = Path(data_dir)
    if root.resolve() == default_data_dir().resolve():
        raise SizingError("models add writes to your own catalog copy, not the bundled data/; copy it (cp -r data DIR)")
    catalog = load(root)  # the copy loads as it is, or the error names its file, row and column
    new_id = slug(model_id or spec.id)
    if model_id is not None and new_id != model_id:
        raise SizingError(f"--id '{model_id}' is not a lowercase slug (a-z, 0-9, '.', '_', '-'); try --id {new_id}")
    taken = catalog.models.get(new_id) or catalog.models.get(catalog.aliases["models"].get(new_id, ""))
    if taken is not None:
        raise SizingError(f"models.csv already has '{new_id}' ({taken.name}); give another name with --id NAME")
    path = root / MODELS
    file = read_csv(path, MODELS, "catalog file", "check --data")
    header = header_names(file, ModelSpec.COLUMNS)
    spec = spec.model_copy(update={"id": new_id, "aliases": ()})
    cells = model_row(spec, file.delimiter)
    lacking = [c for c, v in cells.items() if v and c not in header]
    if lacking:
        raise SizingError(
            f"{path} has no '{lacking[0]}' column; add it to the header (see the bundled data/models.csv)"
        )
    row = {c: cells.get(c, "") for c in header}
    raw = path.read_bytes()
    bom = "\ufeff" if raw.startswith(b"\xef\xbb\xbf") else ""  # a spreadsheet's byte-order mark stays
    original = raw.decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in original else "\n"
    _checked(spec, row, file.delimiter, len(original.splitlines()) + 1)
    out = io.StringIO()
    csv.writer(out, delimiter=file.delimiter, lineterminator=newline).writerow(row[c] for c in header)
    text = original if not original or original.endswith(("\n", "\r")) else original + newline
    _replace(path, bom + text + out.getvalue())
    _load.cache_clear()
    try:
        return load(root).models[new_id]
    except (SizingError, KeyError):  # cannot happen when the row checks are complete; leave the copy as it was
        _replace(path, bom + original)
        _load.cache_clear()
        raise


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` in one step: a temporary file beside it, flushed, then renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
