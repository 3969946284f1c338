"""Reading a CSV file that a person may have saved from a spreadsheet, for the catalog and the scenario files alike.

Accepted because it is unambiguous: a UTF-8 BOM, a header in another case or with spaces around names, a file
separated by ';' (European Excel) or tabs, detected when the header only splits on that character, nameless
columns and trailing separators whose cells are all empty, blank rows. Refused with the file, row and column: a
path that is not a regular file (a named pipe would block), other encodings, binary files, broken quotes, cells
over `MAX_CELL_CHARS`, duplicate or unknown column names, values past the last column.

Rows are numbered as a spreadsheet numbers them (header = row 1, blank rows counted); `line` is where the row
starts in the file, which differs after a cell that spans lines.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import stat
from collections.abc import Collection
from pathlib import Path
from typing import NamedTuple

from sizing.specs import SizingError
from sizing.specs.base import one_line, show

MAX_FILE_BYTES = 64 * 2**20  # a catalog or scenario file is kilobytes; more is the wrong file
MAX_CELL_CHARS = 131_072  # the csv module's own limit, enforced here so the message names the row and column
SAVE_AS = "save it as 'CSV UTF-8 (Comma delimited)' (Excel: File > Save As)"


class CatalogError(SizingError):
    """A problem in a CSV file, as one line: `file, row N (line M), column 'X': problem; fix`."""

    def __init__(self, file: str, row: int | None, column: str | None, problem: str, line: int | None = None):
        where = one_line(file) + (f", row {row}" if row else "") + (f" (line {line})" if line and line != row else "")
        if column is not None:
            where += f", column {show(column)}"
        if len(problem) > 600:  # a value quoted by a validator: keep the start and the fix at the end
            problem = problem[:300] + " … " + problem[-300:]
        super().__init__(f"{where}: {one_line(problem)}")


class RowProblem(Exception):
    """What is wrong with one row: a phrase about `column` ('is empty; ...'), or about the row when it is None."""

    def __init__(self, column: str | None, problem: str):
        super().__init__(problem)
        self.column = column
        self.problem = problem


class Record(NamedTuple):
    row: int  # as a spreadsheet numbers it: header = 1, blank rows counted, a cell spanning lines is one row
    line: int  # the file's line where the row starts
    cells: list[str]


class CsvFile(NamedTuple):
    label: str  # how messages name the file
    delimiter: str
    head: Record  # the header: the first row that is not blank
    rows: list[Record]  # the data rows, blank ones left out


def read_csv(path: Path, label: str, what: str, hint: str) -> CsvFile:
    """Parse a CSV file; every problem with the file as a whole is a CatalogError. `what` and `hint` complete
    the message for a file that cannot be read ('cannot read catalog file (...); check --data')."""
    text = _text(path, label, what, hint)
    delimiter = _delimiter(text)
    records = [r for r in _records(text, delimiter, label) if any(cell.strip() for cell in r.cells)]
    if not records:
        raise CatalogError(label, None, None, "is empty; it needs a header row naming its columns")
    return CsvFile(label, delimiter, records[0], records[1:])


def _text(path: Path, label: str, what: str, hint: str) -> str:
    """The file's text, checked to be a regular file (before opening: a named pipe blocks) of UTF-8 text."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise CatalogError(label, None, None, f"is a folder, not a CSV file; {hint}")
        if not stat.S_ISREG(info.st_mode):
            raise CatalogError(label, None, None, f"is not a regular file (a named pipe or device); {hint}")
        if info.st_size > MAX_FILE_BYTES:
            raise CatalogError(label, None, None, f"is {info.st_size:,} bytes, over 64 MiB: not a {what}; {hint}")
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(label, None, None, f"cannot read {what} ({exc.strerror or exc}); {hint}") from None
    return _decode(data, label)


def _decode(data: bytes, label: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise CatalogError(label, None, None, f"is UTF-16 text, not UTF-8; {SAVE_AS}")
    if data.startswith(b"PK\x03\x04"):
        raise CatalogError(label, None, None, f"is a workbook (.xlsx, .ods) or another zip file, not CSV; {SAVE_AS}")
    if b"\x00" in data:
        raise CatalogError(label, None, None, f"is binary (it holds NUL bytes), not CSV text; {SAVE_AS}")
    try:
        return data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CatalogError(
            label,
            None,
            None,
            f"is not UTF-8 text (byte 0x{data[exc.start]:02X} on line {line}; Latin-1 or Windows-1252?); "
            f"{SAVE_AS}, or convert it: iconv -f cp1252 -t utf-8",
        ) from None


def _delimiter(text: str) -> str:
    """',' unless the header only splits on ';' (European Excel saves CSV so) or a tab (Excel's "Text")."""
    first = re.match(r"[^\r\n]*", text.lstrip()).group()  # type: ignore[union-attr]
    try:
        cells = next(csv.reader([first]), [])
    except csv.Error:  # a header cell past the csv module's limit: _records names it
        return ","
    if len(cells) == 1:
        for other in (";", "\t"):
            if other in cells[0]:
                return other
    return ","


def _records(text: str, delimiter: str, label: str) -> list[Record]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[Record] = []
    line = 0  # the last line read so far
    limit = csv.field_size_limit(max(len(text) + 1, MAX_CELL_CHARS))  # cells are measured in row_cells
    try:
        for cells in reader:
            records.append(Record(len(records) + 1, line + 1, cells))
            line = reader.line_num
    except csv.Error as exc:
        raise CatalogError(label, len(records) + 1, None, _csv_problem(str(exc)), line=line + 1) from None
    finally:
        csv.field_size_limit(limit)
    return records


def _csv_problem(message: str) -> str:
    if "unexpected end of data" in message:
        return 'a quoted cell that starts in this row is never closed; add its closing quote (")'
    if "expected after" in message:
        return 'has text after the closing quote of a cell; quote the whole cell and double any quote inside it ("")'
    return f"is not valid CSV ({message}); check the quotes"


def normalize(name: str) -> str:
    """A header name as it is matched: without surrounding spaces or BOMs, in lower case."""
    return name.strip().strip("\ufeff").strip().lower()


def header_names(file: CsvFile, known: Collection[str]) -> list[str]:
    """The header's names, normalized; '' for a nameless column. Unknown and repeated names are errors."""
    names = [normalize(cell) for cell in file.head.cells]
    row, line = file.head.row, file.head.line
    for i, name in enumerate(names):
        if name and name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise CatalogError(
                file.label,
                row,
                file.head.cells[i].strip(),
                f"unknown column; {hint}use some of: {', '.join(known)}",
                line,
            )
        if name and name in names[:i]:
            first = names.index(name) + 1
            raise CatalogError(
                file.label, row, name, f"appears twice (columns {first} and {i + 1}); delete one of them", line
            )
    return names


def row_cells(file: CsvFile, record: Record, header: list[str], pad: bool) -> dict[str, str]:
    """One row's cells by column name. Cells past the header and under nameless columns must be empty; a short
    row is an error unless `pad` (then its missing cells are empty)."""
    cells = record.cells
    if len(cells) == len(header) and "" not in header and max(map(len, cells), default=0) <= MAX_CELL_CHARS:
        return dict(zip(header, cells, strict=True))  # the usual row: nothing to check here
    extra = next((i for i in range(len(header), len(cells)) if cells[i].strip()), None)
    if extra is not None:
        raise RowProblem(
            None,
            f"has a value past the last column ({show(cells[extra])} in column {extra + 1}, the header has "
            f"{len(header)}); quote any cell that holds a '{file.delimiter}', or delete the value",
        )
    if len(cells) < len(header) and not pad:
        raise RowProblem(
            None,
            f"has {len(cells)} cells, the header has {len(header)}; quote any cell that holds a '{file.delimiter}'",
        )
    values: dict[str, str] = {}
    for i, name in enumerate(header):
        value = cells[i] if i < len(cells) else ""
        if not name and value.strip():
            raise RowProblem(
                None, f"has {show(value)} in column {i + 1}, which has no name; name the column or delete the value"
            )
        if len(value) > MAX_CELL_CHARS:
            raise RowProblem(name, f"is {len(value):,} characters long, over {MAX_CELL_CHARS:,}; shorten it")
        if name:
            values[name] = value
    return values
