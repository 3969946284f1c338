"""A calibrated copy of a data folder: `sizing calibrate` hands its fitted efficiency rows here, and this module
(the catalog being the only module that reads or writes data files) writes them into the user's own folder, which
`--data DIR` then loads like any other. The shipped data/ is never written: one machine's measurements must not
change everyone's defaults."""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sizing.specs import Base, Efficiency, SizingError

from .csvfile import CatalogError, RowProblem, header_names, read_csv, row_cells
from .load import _load, load
from .tables import TABLES, default_data_dir

EFFICIENCY = "efficiency.csv"


def efficiency_cells(eff: Efficiency) -> dict[str, str]:
    """One efficiency.csv row in the file's own units and spelling (layer_overhead_us in microseconds, lists
    joined by ';', provenance as factor=status)."""
    cells: dict[str, str] = {}
    for column, col in Efficiency.COLUMNS.items():
        value = getattr(eff, col.field)
        if value is None:
            cells[column] = ""
        elif column == "provenance":
            cells[column] = ";".join(f"{factor}={status}" for factor, status in value)
        elif col.kind == "list":
            cells[column] = ";".join(value)
        elif col.kind == "float":
            cells[column] = f"{value / col.scale:.{2 if col.scale != 1 else 4}f}"
        else:
            cells[column] = str(value)
    return cells


def _merged(text: str, rows: Sequence[Efficiency]) -> str:
    """efficiency.csv's text with each calibrated (engine, gpu_class) row replacing its namesake in place, or
    appended when the file has none; every other row is kept as it was."""
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or Efficiency.COLUMNS)
    new: dict[tuple[str, str], dict[str, str]] = {(r.engine, r.gpu_class): efficiency_cells(r) for r in rows}
    out = []
    for row in reader:
        out.append(new.pop((row.get("engine") or "", row.get("gpu_class") or ""), row))
    out += new.values()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(out)
    return buf.getvalue()


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def write_calibration(rows: Sequence[Efficiency], source_dir: Path | str, out_dir: Path | str) -> Path:
    """Write `rows` into `out_dir`'s efficiency.csv and return its path. A folder that does not exist (or is empty)
    becomes a copy of `source_dir`'s catalog files first; an existing data folder is updated in place. The result
    is loaded and checked before it replaces anything, so a failure leaves the old folder as it was."""
    source, out = Path(source_dir), Path(out_dir)
    if _same(out, default_data_dir()):
        raise SizingError(f"{out} is the shipped data folder; calibrate into a folder of your own with --out DIR")
    if out.exists() and not out.is_dir():
        raise SizingError(f"--out {out} is a file; pass a folder (it becomes your calibrated copy of data/)")
    fresh = not out.exists() or not any(out.iterdir())
    if not fresh and not (out / EFFICIENCY).is_file():
        raise SizingError(f"{out} is neither empty nor a data folder (no {EFFICIENCY}); pick another --out")
    base = source if fresh else out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as exc:
        raise SizingError(f"cannot write {out} ({exc.strerror or exc}); pick another --out") from None
    try:
        for name in [*TABLES, "README.md"]:
            if (base / name).is_file():
                shutil.copyfile(base / name, stage / name)
        text = (base / EFFICIENCY).read_text(encoding="utf-8")
        (stage / EFFICIENCY).write_text(_merged(text, rows), encoding="utf-8")
        load(stage)  # the calibrated copy must load like any data folder before it replaces one
        if fresh:
            if out.exists():
                out.rmdir()
            os.replace(stage, out)
        else:
            os.replace(stage / EFFICIENCY, out / EFFICIENCY)
    except OSError as exc:
        raise SizingError(f"cannot write {out} ({exc.strerror or exc}); pick another --out") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        _load.cache_clear()  # the folder's catalog changed under its cached path
    return out / EFFICIENCY


# ------------------------------------------------------------------------------- measured.csv-style user files
MEASURED_COLUMNS = (
    "row_id", "source_key", "model", "engine", "task", "precision", "kv_precision", "batch", "prompt_tokens",
    "new_tokens", "seq_len", "gpu", "n_gpus", "metric", "value", "unit", "memory_basis", "trust", "notes", "source",
)  # fmt: skip  # ../shared/reference/measured.csv's header
MEASURED_REQUIRED = ("model", "engine", "gpu", "metric", "value")
SPEED_METRICS = ("decode_tokens_per_s", "prefill_tokens_per_s")


class MeasuredRow(Base):
    """One single-GPU inference speed a user measured (a measured.csv row)."""

    line: int
    model: str
    engine: str
    precision: str
    kv_precision: str | None = None
    batch: int
    prompt_tokens: int
    new_tokens: int
    gpu: str
    metric: str
    value: float


def _int(cells: dict[str, str], column: str, default: int, least: int) -> int:
    text = (cells.get(column) or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < least:
        raise RowProblem(column, f"must be a whole number of at least {least}, got {text!r}")
    return int(text)


def _measured_row(cells: dict[str, str], line: int) -> MeasuredRow | None:
    """The row, or None when it is not a single-GPU inference speed of trust other than suspect."""
    if (cells.get("task") or "inference").strip() != "inference" or cells.get("trust", "").strip() == "suspect":
        return None
    if cells["metric"].strip() not in SPEED_METRICS or _int(cells, "n_gpus", 1, 1) != 1:
        return None
    try:
        value = float(cells["value"])
    except ValueError:
        raise RowProblem("value", f"must be a number, got {cells['value']!r}") from None
    if not value > 0 or value == float("inf"):
        raise RowProblem("value", f"must be a positive number, got {cells['value']!r}")
    return MeasuredRow(
        line=line,
        model=cells["model"].strip(),
        engine=cells["engine"].strip(),
        precision=(cells.get("precision") or "bf16").strip(),
        kv_precision=(cells.get("kv_precision") or "").strip() or None,
        batch=_int(cells, "batch", 1, 1),
        prompt_tokens=_int(cells, "prompt_tokens", 0, 0),
        new_tokens=_int(cells, "new_tokens", 0, 0),
        gpu=cells["gpu"].strip(),
        metric=cells["metric"].strip(),
        value=value,
    )


def read_measured(path: Path | str) -> tuple[list[MeasuredRow], int]:
    """A measured.csv-style file: its single-GPU inference speed rows, and how many other rows it skipped. Any bad
    cell is a CatalogError naming the file, row and column."""
    file = read_csv(Path(path), str(path), "measurements file", "check the path")
    header = header_names(file, MEASURED_COLUMNS)
    missing = [c for c in MEASURED_REQUIRED if c not in header]
    if missing:
        raise CatalogError(
            file.label, file.head.row, None, f"has no {', '.join(missing)} column; add it", file.head.line
        )
    rows, skipped = [], 0
    for record in file.rows:
        try:
            row = _measured_row(row_cells(file, record, header, pad=True), record.line)
        except RowProblem as exc:
            raise CatalogError(file.label, record.row, exc.column, exc.problem, record.line) from None
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    return rows, skipped
