"""Reading one catalog CSV: parse each row, check each cell, convert vendor units once.

Every problem is a `CatalogError` naming the file, the row (1-based, header = row 1) and the column; `csvfile` reads
the file and `cells` parses numbers, the same way for the user's scenario files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sizing.specs import (
    Accessory,
    Base,
    Chassis,
    Circuit,
    Col,
    Cpu,
    CpuEfficiency,
    Dimm,
    Drive,
    EdgeSystem,
    Efficiency,
    Engine,
    EngineMechanics,
    EngineSupport,
    ErrorBand,
    FxRate,
    Gpu,
    LinkLatency,
    LinkMeasurement,
    ModelSpec,
    NetworkPart,
    Precision,
    Psu,
    RecipeRow,
    Trainer,
)
from sizing.specs.base import show

from .cells import parse_number, text_problem
from .csvfile import CatalogError, CsvFile, RowProblem, header_names, read_csv, row_cells

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
    "trainers.csv": Trainer,
    "cpu_efficiency.csv": CpuEfficiency,
    "accessories.csv": Accessory,
    "engine_support.csv": EngineSupport,
    "systems.csv": EdgeSystem,
    "engine_mechanics.csv": EngineMechanics,
    "bands.csv": ErrorBand,
    "quant_recipes.csv": RecipeRow,
    "links_measured.csv": LinkMeasurement,
    "links.csv": LinkLatency,
}
# files a data folder may lack (a copy made before they existed): they load as empty tables
OPTIONAL_FILES = (
    "cpu_efficiency.csv",
    "accessories.csv",
    "engine_support.csv",
    "systems.csv",
    "engine_mechanics.csv",
    "bands.csv",
    "quant_recipes.csv",
    "links_measured.csv",
    "links.csv",
)


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


class Table(list[T]):
    """A file's items in file order, with the row each came from (`rows[i]` is the row of `self[i]`)."""

    rows: list[int]

    def __init__(self) -> None:
        super().__init__()
        self.rows = []

    def add(self, item: T, row: int) -> None:
        self.append(item)
        self.rows.append(row)


def numbered(items: list[T]) -> Iterator[tuple[int, T]]:
    """(row, item) pairs: the file's rows for a Table, else as if the file had no blank rows."""
    rows = getattr(items, "rows", None)
    return iter(zip(rows, items, strict=True)) if rows is not None else enumerate(items, start=2)


def _parse_cell(raw: str, col: Col, delimiter: str = ",") -> object:
    text = raw.strip()
    if col.kind == "str":
        return text
    if col.kind == "list":
        return tuple(part.strip() for part in text.split(";") if part.strip())
    if col.kind == "bool":
        if text not in _BOOL:
            raise ValueError(
                f"{show(text)} is not a boolean; use true/false, yes/no or 1/0 "
                "(lower case; Excel's TRUE/FALSE also work)"
            )
        return _BOOL[text]
    number = parse_number(text, col.kind == "int", delimiter)
    if number < 0:
        raise ValueError(f"{show(text)} is negative; give a positive number")
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
    return f"{show(got)} is not allowed here; use one of: {', '.join(allowed)}{hint}"


def _header(file: CsvFile, columns: dict[str, Col]) -> list[str]:
    """The header's column names: none unknown or twice, every required one present."""
    header = header_names(file, columns)
    missing = [c for c, col in columns.items() if col.required and c not in header]
    if missing:
        raise CatalogError(file.label, file.head.row, missing[0], "required column is missing; add it to the header")
    return header


def _row_values(cells: dict[str, str], columns: dict[str, Col], delimiter: str) -> dict[str, object]:
    """One row's non-empty cells parsed into field values; an empty required cell or a bad value is a RowProblem."""
    values: dict[str, object] = {}
    for column, raw in cells.items():
        col = columns[column]
        if not raw.strip():
            if col.required:
                raise RowProblem(column, "is empty but required; fill it in")
            continue
        problem = text_problem(raw.strip(), column)
        if problem:
            raise RowProblem(column, problem)
        try:
            values[col.field] = _parse_cell(raw, col, delimiter)
        except ValueError as exc:
            raise RowProblem(column, str(exc)) from None
    return values


def _item(spec: type[T], values: dict[str, object]) -> T:
    """The spec object of one row's values; a failed constraint is a RowProblem on its column."""
    try:
        return spec(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else None
        columns: dict[str, Col] = spec.COLUMNS  # type: ignore[attr-defined]
        column = next((name for name, c in columns.items() if c.field == field), field)
        raise RowProblem(column, _problem(err)) from None


def _key(item: BaseModel) -> tuple[str, str]:
    """(column, key) that must be unique in its file: the id, or efficiency.csv's engine and gpu_class."""
    item_id = getattr(item, "id", None)
    if item_id is None and hasattr(item, "tensor_class"):  # quant_recipes.csv: one row per recipe, class and span
        first = getattr(item, "first_n_layers", None)
        span = (
            f" first_n_layers {first}" if first else " more_bits_layers" if getattr(item, "more_bits_layers", 0) else ""
        )
        cls = getattr(item, "tensor_class", "")
        return "tensor_class", f"recipe '{getattr(item, 'recipe', '')}' and tensor_class '{cls}'{span}"
    if item_id is None and hasattr(item, "gpu_vendor"):  # engine_support.csv: one row per engine and vendor
        return (
            "gpu_vendor",
            f"engine '{getattr(item, 'engine', '')}' and gpu_vendor '{getattr(item, 'gpu_vendor', '')}'",
        )
    if item_id is None and not hasattr(item, "gpu_class"):  # cpu_efficiency.csv: one row per engine
        return "engine", f"engine '{getattr(item, 'engine', '')}'"
    if item_id is None:
        return "gpu_class", f"engine '{getattr(item, 'engine', '')}' and gpu_class '{getattr(item, 'gpu_class', '')}'"
    if not SLUG.fullmatch(item_id):
        raise RowProblem("id", f"{show(item_id)} is not a lowercase slug (a-z, 0-9, '.', '_', '-'); rename it")
    return "id", item_id


def read_table(path: Path, spec: type[T]) -> Table[T]:
    """Parse one CSV into spec objects; reject unknown/missing columns, bad cells and duplicate ids."""
    file = read_csv(path, path.name, "catalog file", "check --data (copy the file from the bundled data/)")
    header = _header(file, spec.COLUMNS)  # type: ignore[attr-defined]
    out: Table[T] = Table()
    seen: dict[str, int] = {}
    for record in file.rows:
        try:
            cells = row_cells(file, record, header, pad=False)
            item = _item(spec, _row_values(cells, spec.COLUMNS, file.delimiter))  # type: ignore[attr-defined]
            column, key = _key(item)
            if key in seen:
                what = f"duplicate id '{key}'" if column == "id" else f"a second row for {key}"
                raise RowProblem(column, f"{what} (also row {seen[key]}); keep one row, or rename one")
        except RowProblem as exc:
            raise CatalogError(file.label, record.row, exc.column, exc.problem, record.line) from None
        seen[key] = record.row
        out.add(item, record.row)
    return out
