"""Reading one catalog CSV: parse each row, check each cell, convert vendor units once.

Every problem is a `CatalogError` naming the file, the row (1-based, header = row 1) and the column.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sizing.specs import (
    Base,
    Chassis,
    Circuit,
    Col,
    Cpu,
    Dimm,
    Drive,
    Efficiency,
    Engine,
    FxRate,
    Gpu,
    ModelSpec,
    NetworkPart,
    Precision,
    Psu,
    SizingError,
)

SLUG = re.compile(r"[a-z0-9][a-z0-9._-]*")

T = TypeVar("T", bound=BaseModel)

# file name -> spec class; the order is the load order
TABLES: dict[str, type[Base]] = {
    "models.csv": ModelSpec,
    "gpus.csv": Gpu,
    "precisions.csv": Precision,
    "engines.csv": Engine,
    "efficiency.csv": Efficiency,
    "cpus.csv": Cpu,
    "memory.csv": Dimm,
    "drives.csv": Drive,
    "psus.csv": Psu,
    "chassis.csv": Chassis,
    "network.csv": NetworkPart,
    "fx.csv": FxRate,
    "circuits.csv": Circuit,
}


class CatalogError(SizingError):
    def __init__(self, file: str, row: int | None, column: str | None, problem: str):
        where = file + (f", row {row}" if row else "") + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {problem}")


def default_data_dir() -> Path:
    """The installed copy of data/ (the sizing_data package), or the repo's data/ when run from a checkout."""
    repo = Path(__file__).resolve().parents[2] / "data"  # sizing/catalog/tables.py -> the checkout
    if (repo / "models.csv").exists():
        return repo
    try:
        import sizing_data

        return Path(next(iter(sizing_data.__path__)))
    except (ImportError, StopIteration):  # pragma: no cover - broken install
        return repo


# Lower case as data/README.md writes them, plus TRUE/FALSE, which Excel writes when it saves a CSV. Other spellings
# (`Yes`, `True`) are rejected like any value outside its vocabulary.
_BOOL = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "1": True,
    "0": False,
    "TRUE": True,
    "FALSE": False,
}


def _parse_cell(raw: str, col: Col) -> object:
    text = raw.strip()
    if col.kind == "str":
        return text
    if col.kind == "list":
        return tuple(part.strip() for part in text.split(";") if part.strip())
    if col.kind == "bool":
        if text not in _BOOL:
            raise ValueError(
                f"'{text}' is not a boolean; use true/false, yes/no or 1/0 (lower case; Excel's TRUE/FALSE also work)"
            )
        return _BOOL[text]
    try:
        number = float(text.replace(",", "")) if col.kind == "float" else int(text)
    except ValueError:
        raise ValueError(f"'{text}' is not {'a whole number' if col.kind == 'int' else 'a number'}") from None
    if number < 0:
        raise ValueError(f"{text} is negative; quantities must be positive")
    return number * col.scale if col.scale != 1.0 else number


def _problem(err: ErrorDetails) -> str:
    """A pydantic error as one line; a value outside its vocabulary names the value and the allowed ones."""
    if err["type"] == "value_error":
        return str(err["ctx"]["error"])
    if err["type"] != "literal_error":
        return err["msg"]
    allowed = re.findall(r"'([^']*)'", err["ctx"]["expected"])
    got = str(err["input"])
    hint = f"; did you mean '{got.lower()}'? values are lower case" if got.lower() in allowed else ""
    return f"'{got}' is not allowed here; use one of: {', '.join(allowed)}{hint}"


def _rows(path: Path) -> list[list[str]]:
    """The file's rows as cells; a missing, non-UTF-8 or empty file is an error."""
    name = path.name
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # Excel's "CSV UTF-8" starts with a BOM
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise CatalogError(name, None, None, f"cannot read ({exc.strerror}); check --data") from None
    except UnicodeDecodeError:
        raise CatalogError(name, None, None, "is not UTF-8 text; save it as UTF-8 CSV") from None
    if not rows:
        raise CatalogError(name, None, None, "is empty; it needs a header row")
    return rows


def _header(name: str, first: list[str], columns: dict[str, Col]) -> list[str]:
    """The header's column names: none unknown, every required one present."""
    header = [h.strip() for h in first]
    unknown = [h for h in header if h not in columns]
    if unknown:
        raise CatalogError(name, 1, unknown[0], f"unknown column; expected some of: {', '.join(columns)}")
    missing = [c for c, col in columns.items() if col.required and c not in header]
    if missing:
        raise CatalogError(name, 1, missing[0], "required column is missing")
    return header


def _row_values(name: str, i: int, cells: dict[str, str], columns: dict[str, Col]) -> dict[str, object]:
    """One row's non-empty cells parsed into field values; an empty required cell or a bad value is an error."""
    values: dict[str, object] = {}
    for column, raw in cells.items():
        col = columns[column]
        if not raw.strip():
            if col.required:
                raise CatalogError(name, i, column, "is empty but required")
            continue
        try:
            values[col.field] = _parse_cell(raw, col)
        except ValueError as exc:
            raise CatalogError(name, i, column, str(exc)) from None
    return values


def read_table(path: Path, spec: type[T]) -> list[T]:
    """Parse one CSV into spec objects; reject unknown/missing columns, bad cells and duplicate ids."""
    columns: dict[str, Col] = spec.COLUMNS  # type: ignore[attr-defined]
    field_to_column = {c.field: name for name, c in columns.items()}
    name = path.name
    rows = _rows(path)
    header = _header(name, rows[0], columns)
    out: list[T] = []
    seen: set[str] = set()
    for i, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CatalogError(name, i, None, f"has {len(row)} cells, the header has {len(header)}; check quoting")
        values = _row_values(name, i, dict(zip(header, row, strict=True)), columns)
        try:
            item = spec(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else None
            raise CatalogError(name, i, field_to_column.get(field or "", field), _problem(err)) from None
        key = getattr(item, "id", None) or f"{getattr(item, 'engine', '')}/{getattr(item, 'gpu_class', '')}"
        if hasattr(item, "id") and not SLUG.fullmatch(item.id):
            raise CatalogError(name, i, "id", f"'{item.id}' is not a lowercase slug (a-z, 0-9, '.', '_', '-')")
        if key in seen:
            raise CatalogError(name, i, "id", f"duplicate id '{key}'")
        seen.add(key)
        out.append(item)
    return out
