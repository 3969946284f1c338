"""Helpers for tests that break one cell, row or file of a copy of data/ (the `data_copy` fixture)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def row_key(header: list[str], row: list[str]) -> str:
    """The row's id; `engine/gpu_class` in efficiency.csv."""
    return f"{row[0]}/{row[1]}" if header[:2] == ["engine", "gpu_class"] else row[0]


def set_cell(path: Path, key: str, column: str, value: str) -> int:
    """Set one cell of the row whose key is `key`; return its 1-based row number (header = 1)."""
    rows = read_rows(path)
    header = rows[0]
    for i, row in enumerate(rows[1:], start=2):
        if row_key(header, row) == key:
            row[header.index(column)] = value
            write_rows(path, rows)
            return i
    raise AssertionError(f"no row {key} in {path.name}")


def get_cell(path: Path, key: str, column: str) -> str:
    rows = read_rows(path)
    header = rows[0]
    return next(r[header.index(column)] for r in rows[1:] if row_key(header, r) == key)


def drop_rows(path: Path, drop: Callable[[dict[str, str]], bool]) -> int:
    """Remove the rows for which `drop(row as a dict)` is true; return how many went."""
    rows = read_rows(path)
    header = rows[0]
    kept = [rows[0]] + [r for r in rows[1:] if not drop(dict(zip(header, r, strict=True)))]
    write_rows(path, kept)
    return len(rows) - len(kept)


def row_number(path: Path, key: str) -> int:
    rows = read_rows(path)
    return next(i for i, r in enumerate(rows[1:], start=2) if row_key(rows[0], r) == key)
