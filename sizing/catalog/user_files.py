"""A user's scenario CSV (`sizing estimate --scenarios`): rows as request fields, a problem per bad row."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from sizing.specs import (
    SizingError,
)

SCENARIO_COLUMNS = (
    "model",
    "task",
    "engine",
    "precision",
    "kv_precision",
    "gpu",
    "n_gpus",
    "batch",
    "prompt_tokens",
    "new_tokens",
    "seq_len",
)
SCENARIO_TEXT = ("model", "task", "engine", "precision", "kv_precision", "gpu")


def _whole_number(key: str, text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not value.is_integer():
        raise ValueError(f"{key} '{text}' is not a whole number")
    return int(value)


def _scenario_fields(row: dict[str, str]) -> dict[str, object] | str:
    """A row's non-empty cells as request fields (numbers parsed), or what is wrong with it."""
    fields: dict[str, object] = {}
    for key, raw in row.items():
        if key not in SCENARIO_COLUMNS or not isinstance(raw, str) or not raw.strip():
            continue  # cells past the header have no column
        text = raw.strip()
        try:
            fields[key] = text if key in SCENARIO_TEXT else _whole_number(key, text)
        except ValueError as exc:
            return str(exc)
    return fields


def read_scenarios(path: Path) -> list[tuple[int, dict[str, object] | str]]:
    """A user's scenario CSV as (line, fields or the row's problem); a missing file or unknown column is an error
    for the whole file."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets save UTF-8 CSV with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise SizingError(f"cannot read scenarios file '{path}' ({exc.__class__.__name__}); check the path") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in SCENARIO_COLUMNS]
    if not header or unknown or "model" not in header:
        raise SizingError(
            f"{path.name}: header must use the columns {','.join(SCENARIO_COLUMNS)} "
            f"(found {','.join(header) or 'none'})"
        )
    rows = ({(k or "").strip(): v for k, v in row.items()} for row in reader)
    return [(line, _scenario_fields(row)) for line, row in enumerate(rows, start=2)]
