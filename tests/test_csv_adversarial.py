"""Adversarial CSV input through the real entry point (`sizing.cli.main`).

Every catalog file and every column of it (each spec's COLUMNS), and the user's scenario file, get hostile values:
non-finite, huge, negative, wrong type, overlong, empty where required, duplicate ids and headers, broken quotes,
line breaks and invisible characters, BOMs, other encodings, binary files, FIFOs. A bad catalog or scenario file
exits 2 with exactly one stderr line starting `error: ` that names the file (and the row and column where there is
one), no traceback and no output; a bad scenario row is one `{"error": "line N: ..."}` JSON line, the other rows go
on. Spreadsheet habits that are unambiguous (BOM, CRLF, header case and spaces, ';' files, trailing separators,
blank rows, thousands separators) load. `BAD_INPUTS` counts the hostile inputs per category.

To stay fast, a catalog file's cases run in one test against the `data_copy` folder, one file replaced at a time,
and every failure of the file is reported together.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cli_run import run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizing import answers
from sizing import catalog as cat
from sizing.catalog.cells import FREE_TEXT
from sizing.catalog.csvfile import MAX_CELL_CHARS, MAX_FILE_BYTES
from sizing.catalog.load import _load as load_cached
from sizing.catalog.tables import OPTIONAL_FILES
from sizing.specs import Col, SizingError

ROW = 2  # every cell case edits the file's first data row
BAD_INPUTS: Counter[str] = Counter()  # category -> hostile inputs tried (hypothesis: examples per run)

NON_FINITE = ["inf", "-inf", "nan", "NaN", "Infinity", "1e400", "-1e400"]
HUGE = ["1" * 201, "9" * 16, "1e16", "1" + "0" * 4400, "1,000,000,000,000,001"]
NEGATIVE = ["-5", "-0.5", "-1,299", "-1e3"]
WRONG_TYPE = ["twenty", "1_000", "0x10", "#DIV/0!", "١٢", "1.2.3", "12 GB", "1,5", "1,2345", "−5", "e5", "--5"]
FRACTION = ["2.5", "0.5", "1e-3"]  # in whole-number columns
NOT_BOOL = ["maybe", "True", "2", "y", "#N/A"]
BREAKS = ["a\nb", "a\r\nb", "a\rb", "a\u2028b", "a\x85b", "a\x0bb", "a\tb"]  # whitespace: fine in free-text columns
INVISIBLE = ["a\x01b", "a\u200bb", "\ufeffa", "a\x7fb", "a\u202eb"]
EMPTY = ["", "  ", " \t "]
OVERLONG = "x" * (MAX_CELL_CHARS + 1)
CELL_EXAMPLES, LINE_EXAMPLES, ROW_EXAMPLES = 30, 20, 30  # hypothesis examples per run (a CLI call each)


# -- running the CLI -------------------------------------------------------------------------------------------


def one_error(code: int, out: str, err: str, *names: str) -> str:
    """Exit 2, nothing on stdout, exactly one stderr line (no character splits it) starting `error: ` and naming
    each of `names`; no traceback."""
    assert "Traceback" not in err
    lines = err.splitlines()  # splits on \r, \x0b, \x1c-\x1e, \x85, \u2028 too
    assert code == 2 and out == "" and len(lines) == 1, (code, out[:300], err[:600])
    assert lines[0].startswith("error: ") and all(n in lines[0] for n in names), (names, lines[0][:600])
    return lines[0]


@contextmanager
def no_hang(seconds: int = 5) -> Iterator[None]:
    """Fail instead of blocking forever (a FIFO opened for reading waits for a writer)."""

    def expire(*_):
        raise TimeoutError(f"blocked for {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    """Rows as CSV text; CRLF as Excel writes it, so a cell holding a bare \\r is quoted too."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


class CatalogCopy:
    """The `data_copy` folder with one file replaced per case; the next case, and the end of the test, put the
    file back. The loader caches a folder's catalog by path, so each replacement clears that cache."""

    def __init__(self, base: Path):
        self.base = base
        self.pristine = {p.name: p.read_bytes() for p in base.glob("*.csv")}
        self.replaced: str | None = None

    def restore(self) -> None:
        if self.replaced is None:
            return
        path = self.base / self.replaced
        if path.is_dir():
            path.rmdir()
        elif os.path.lexists(path):
            path.unlink()
        path.write_bytes(self.pristine[self.replaced])
        self.replaced = None

    def rows(self, file: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(self.text(file), newline="")))

    def text(self, file: str) -> str:
        return self.pristine[file].decode("utf-8")

    def new(self, file: str, write: Callable[[Path], object]) -> Path:
        self.restore()
        path = self.base / file
        path.unlink()
        write(path)
        self.replaced = file
        load_cached.cache_clear()
        return self.base

    def with_text(self, file: str, text: str | bytes) -> Path:
        return self.new(file, lambda p: p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8")))

    def with_cell(self, file: str, column: str, value: str) -> Path:
        rows = self.rows(file)
        rows[ROW - 1][rows[0].index(column)] = value
        return self.with_text(file, csv_text(rows))


@pytest.fixture
def catalog_copy(data_copy: Path) -> Iterator[CatalogCopy]:
    copy = CatalogCopy(data_copy)
    yield copy
    copy.restore()
    load_cached.cache_clear()


def failures_of(cases: list, run: Callable) -> list[str]:
    """Run every case, collecting the failed assertions (a file's cases in one test; all failures reported)."""
    failures = []
    for case in cases:
        try:
            run(*case)
        except AssertionError as exc:
            failures.append(f"{[str(c)[:40] for c in case]}: {str(exc)[:400]}")
    return failures


def check(folder: Path, capsys) -> tuple[int, str, str]:
    return run_main(["catalog", "check", "--data", str(folder)], capsys)


# -- every column of every catalog file --------------------------------------------------------------------------
NUMBER_CATEGORIES = {"non-finite": NON_FINITE, "huge": HUGE, "negative": NEGATIVE, "wrong type": WRONG_TYPE}
TEXT_CATEGORIES = {"line break or invisible character": BREAKS + INVISIBLE, "overlong": [OVERLONG]}


def _column_categories(col: Col, nth: int, first_required: bool) -> dict[str, list[str]]:
    """The hostile categories one column gets. To keep the run short the number categories alternate in pairs
    over a file's number columns, the text ones over its text columns (every file gets every category), and the
    first required column of each kind in a file gets an empty cell."""
    if col.kind in ("int", "float"):
        number = {**NUMBER_CATEGORIES, "wrong type": WRONG_TYPE + (FRACTION if col.kind == "int" else [])}
        names = [("non-finite", "negative"), ("huge", "wrong type")][nth % 2]
        cats = {name: number[name] for name in names}
    elif col.kind == "bool":
        cats = {"wrong type": NOT_BOOL}
    else:
        name = list(TEXT_CATEGORIES)[nth % 2]
        cats = {name: TEXT_CATEGORIES[name]}
    if first_required:
        cats["empty required"] = EMPTY
    return cats


def _valid_in(column: str, value: str) -> bool:
    """A line break in a free-text column (notes, source) is fine; every other hostile cell value is not."""
    odd = [ch for ch in value if not ch.isprintable()]
    in_free_text = column in FREE_TEXT and bool(odd) and all(ch.isspace() for ch in odd)
    return in_free_text and bool(value.strip()) and len(value) <= MAX_CELL_CHARS


def _cell_cases() -> dict[str, list[tuple[str, str, str]]]:
    """file -> (column, category, value) for every column of the file."""
    cases: dict[str, list[tuple[str, str, str]]] = {}
    turn = Counter[str]()
    for file, spec in cat.TABLES.items():
        nth, required = Counter[str](), set()
        for column, col in spec.COLUMNS.items():  # type: ignore[attr-defined]
            kind = "number" if col.kind in ("int", "float") else col.kind
            first_required = col.required and kind not in required
            required |= {kind} if col.required else set()
            nth[kind] += 1
            for category, values in _column_categories(col, nth[kind], first_required).items():
                value = values[turn[category] % len(values)]  # each value in turn, over the columns
                turn[category] += 1
                BAD_INPUTS[f"catalog cell: {category}"] += not _valid_in(column, value)
                cases.setdefault(file, []).append((column, category, value))
    return cases


CELL_CASES = _cell_cases()


@pytest.mark.parametrize("file", cat.TABLES)
def test_hostile_cells(catalog_copy: CatalogCopy, capsys, file: str):
    """Each column of the file in turn holds a hostile value in row 2."""

    def run(column: str, category: str, value: str) -> None:
        code, out, err = check(catalog_copy.with_cell(file, column, value), capsys)
        if _valid_in(column, value):
            assert code == 0 and "catalog OK" in out and err == "", err
        else:
            one_error(code, out, err, f"{file}, row {ROW}", f"column '{column}'")

    failures = failures_of(CELL_CASES[file], run)
    assert not failures, "\n".join(failures)


# -- whole catalog files -------------------------------------------------------------------------------------------
def _replace_line(text: str, n: int, new: Callable[[str], str]) -> str:
    lines = text.split("\n")
    lines[n - 1] = new(lines[n - 1])
    return "\n".join(lines)


def _header_edit(rows: list[list[str]], header: Callable[[list[str]], list[str]], cell: str = "") -> list[list[str]]:
    """The header changed by `header`; every row padded with `cell` (row 2) or '' to its length."""
    head = header(rows[0])
    pad = len(head) - len(rows[0])
    return [head] + [r + [cell if i == 0 else ""] * pad if pad > 0 else r for i, r in enumerate(rows[1:])]


def _without_first_required(rows: list[list[str]], columns: dict[str, Col]) -> list[list[str]]:
    drop = next(i for i, name in enumerate(rows[0]) if columns[name].required)
    return [r[:drop] + r[drop + 1 :] for r in rows]


BAD_FILES: dict[str, tuple[Callable[[CatalogCopy, str], Path], str]] = {
    "fifo": (lambda f, n: f.new(n, os.mkfifo), "is not a regular file"),
    "folder": (lambda f, n: f.new(n, Path.mkdir), "is a folder"),
    "missing": (lambda f, n: f.new(n, lambda p: None), "cannot read"),
    "utf-16": (lambda f, n: f.with_text(n, f.text(n).encode("utf-16")), "UTF-16"),
    "latin-1": (
        lambda f, n: f.with_text(n, _replace_line(f.text(n), 2, lambda ln: ln + "é").encode("latin-1", "replace")),
        "not UTF-8 text (byte 0x",
    ),
    "binary (NUL bytes)": (lambda f, n: f.with_text(n, f.text(n)[:50] + "\x00\x00" + f.text(n)[50:]), "binary"),
    "workbook (.xlsx)": (lambda f, n: f.with_text(n, b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256))), "workbook"),
    "empty (0 bytes)": (lambda f, n: f.with_text(n, ""), "is empty"),
    "blank lines only": (lambda f, n: f.with_text(n, "\n \n\r\n"), "is empty"),
    "over 64 MiB": (lambda f, n: f.new(n, lambda p: os.truncate(_touch(p), MAX_FILE_BYTES + 1)), "over 64 MiB"),
    "unclosed quote": (lambda f, n: f.with_text(n, _replace_line(f.text(n), 3, lambda ln: '"' + ln)), "row 3"),
    "text after a closing quote": (
        lambda f, n: f.with_text(n, _replace_line(f.text(n), 2, lambda ln: '"x"y' + ln)),
        "row 2: has text after the closing quote",
    ),
    "value past the last column": (
        lambda f, n: f.with_text(n, _replace_line(f.text(n), 2, lambda ln: ln + ",extra")),
        "row 2: has a value past the last column",
    ),
    "short row": (lambda f, n: f.with_text(n, _replace_line(f.text(n), 2, lambda ln: ln[:3])), "row 2: has "),
    "duplicate header column": (
        lambda f, n: f.with_text(n, csv_text(_header_edit(f.rows(n), lambda h: h + [h[1].upper()]))),
        "appears twice",
    ),
    "unknown column": (
        lambda f, n: f.with_text(n, csv_text(_header_edit(f.rows(n), lambda h: h + ["colour"]))),
        "row 1, column 'colour': unknown column",
    ),
    "unknown column holding a line break": (
        lambda f, n: f.with_text(n, csv_text(_header_edit(f.rows(n), lambda h: h + ["col\nour"]))),
        "column 'col\\nour': unknown column",
    ),
    "missing required column": (
        lambda f, n: f.with_text(n, csv_text(_without_first_required(f.rows(n), cat.TABLES[n].COLUMNS))),
        "required column is missing",
    ),
    "nameless column with a value": (
        lambda f, n: f.with_text(n, csv_text(_header_edit(f.rows(n), lambda h: h + [""], cell="x"))),
        "row 2: has 'x' in column",
    ),
    "duplicate row": (lambda f, n: f.with_text(n, csv_text(f.rows(n) + [f.rows(n)[1]])), "(also row 2)"),
}


def _touch(path: Path) -> Path:
    path.touch()
    return path


@pytest.mark.parametrize("file", cat.TABLES)
def test_bad_catalog_file(catalog_copy: CatalogCopy, capsys, file: str):
    """Each whole-file problem in turn, in place of the file."""

    key = {
        "efficiency.csv": "column 'gpu_class'",
        "cpu_efficiency.csv": "column 'engine'",
        "engine_support.csv": "column 'gpu_vendor'",
        "quant_recipes.csv": "column 'tensor_class'",  # a recipe's rows are keyed by (recipe, tensor_class)
    }

    def run(case: str) -> None:
        make, message = BAD_FILES[case]
        with no_hang():
            code, out, err = check(make(catalog_copy, file), capsys)
        if case == "missing" and file in OPTIONAL_FILES:  # an older data copy without it still loads
            assert code == 0 and "catalog OK" in out, (code, err)
            return
        line = one_error(code, out, err, file, message)
        if case == "duplicate row":
            assert key.get(file, "column 'id': duplicate id") in line

    failures = failures_of([(case,) for case in BAD_FILES], run)
    assert not failures, "\n".join(failures)


for _case in BAD_FILES:
    BAD_INPUTS[f"catalog file: {_case}"] += len(cat.TABLES)


@pytest.mark.parametrize("file", cat.TABLES)
def test_header_only_file(catalog_copy: CatalogCopy, capsys, file: str):
    """A header without rows is named at load, except where the catalog may be empty (network, fx)."""
    code, out, err = check(catalog_copy.with_text(file, catalog_copy.text(file).split("\n")[0] + "\n"), capsys)
    if file in cat.MAY_BE_EMPTY:
        assert code == 0 and "catalog OK" in out
    else:
        one_error(code, out, err, f"{file}: has a header but no rows")


BAD_INPUTS["catalog file: header only"] += len(cat.TABLES) - len(cat.MAY_BE_EMPTY)


def _grouped(rows: list[list[str]], columns: dict[str, Col], point: str = ".", group: str = ",") -> list[list[str]]:
    """Numbers as a spreadsheet shows them: thousands separated, `point` as the decimal point."""

    def fmt(column: str, cell: str) -> str:
        col = columns[column]
        if col.kind not in ("int", "float") or not cell.strip():
            return cell
        whole, dot, frac = cell.strip().partition(".")
        return f"{int(whole):,}".replace(",", group) + (point + frac if dot else "")

    return [rows[0]] + [[fmt(c, v) for c, v in zip(rows[0], r, strict=True)] for r in rows[1:]]


def _excel(rows: list[list[str]], file: str, delimiter: str = ",") -> str:
    """The file as a spreadsheet saves it: BOM, CRLF, header names in capitals with spaces, a trailing comma after
    every row, thousands separators (decimal commas and no separators in a ';' file), blank rows at the end."""
    point, group = (",", "") if delimiter == ";" else (".", ",")
    rows = _grouped(rows, cat.TABLES[file].COLUMNS, point=point, group=group)  # type: ignore[attr-defined]
    rows = [[f" {name.upper()} " for name in rows[0]]] + rows[1:]
    return "\ufeff" + csv_text([r + [""] for r in rows], delimiter) + "\r\n\r\n"


SPREADSHEET_HABITS: dict[str, Callable[[CatalogCopy, str], Path]] = {  # each case several habits at once
    "Excel (US): BOM, CRLF, header case and spaces, trailing commas, thousands, blank rows": lambda f, n: f.with_text(
        n, _excel(f.rows(n), n)
    ),
    "Excel (Europe): the same, ';'-separated with decimal commas": lambda f, n: f.with_text(
        n, _excel(f.rows(n), n, ";")
    ),
    "tab-separated, LF, blank rows inside": lambda f, n: f.with_text(
        n, csv_text(f.rows(n), "\t").replace("\r\n", "\n").replace("\n", "\n\n", 2)
    ),
    "multi-line notes or source with doubled quotes": lambda f, n: f.with_cell(
        n, next(c for c in f.rows(n)[0] if c in FREE_TEXT), 'first line\nsecond "quoted" line'
    ),
}


@pytest.mark.parametrize("file", cat.TABLES)
def test_spreadsheet_habits_load(catalog_copy: CatalogCopy, capsys, file: str):
    def run(habit: str) -> None:
        code, out, err = check(SPREADSHEET_HABITS[habit](catalog_copy, file), capsys)
        assert code == 0 and "catalog OK" in out and err == "", err

    failures = failures_of([(habit,) for habit in SPREADSHEET_HABITS], run)
    assert not failures, "\n".join(failures)


def test_rows_are_the_files_rows(catalog_copy: CatalogCopy, capsys):
    """After blank rows and a cell spanning lines, an error names the row a spreadsheet shows and the file's line;
    cross-row checks (a chassis socket no CPU has) name the real row too."""
    rows = catalog_copy.rows("gpus.csv")
    rows[1][rows[0].index("notes")] = "two\nlines"
    rows[3][rows[0].index("tdp_w")] = "-1"
    text = csv_text(rows[:2]) + "\r\n\r\n" + csv_text(rows[2:])  # two blank rows after row 2
    line = one_error(
        *check(catalog_copy.with_text("gpus.csv", text), capsys), "gpus.csv, row 6 (line 7), column 'tdp_w'"
    )
    assert "negative" in line
    rows = catalog_copy.rows("chassis.csv")
    rows[2][rows[0].index("cpu_socket_type")] = "lga9999"
    text = csv_text(rows[:2]) + "\r\n" + csv_text(rows[2:])
    one_error(
        *check(catalog_copy.with_text("chassis.csv", text), capsys), "chassis.csv, row 4, column 'cpu_socket_type'"
    )


@settings(max_examples=CELL_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.sampled_from([(f, c) for f, s in cat.TABLES.items() for c in s.COLUMNS]),  # type: ignore[attr-defined]
    value=st.one_of(st.text(max_size=40), st.sampled_from(NON_FINITE + HUGE + WRONG_TYPE + BREAKS + INVISIBLE)),
)
def test_any_cell_is_loaded_or_one_error(catalog_copy: CatalogCopy, capsys, target: tuple[str, str], value: str):
    """Whatever text lands in whatever cell: the catalog loads, or one error line names the file."""
    code, out, err = check(catalog_copy.with_cell(*target, value), capsys)
    assert "Traceback" not in err
    if code == 0:
        assert "catalog OK" in out and err == ""
    else:  # a cross-file check may name the file that refers to the edited one
        assert any(file in one_error(code, out, err) for file in cat.TABLES)


@settings(max_examples=LINE_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=st.sampled_from(list(cat.TABLES)), line=st.text(max_size=60))
def test_any_raw_line_is_loaded_or_one_error(catalog_copy: CatalogCopy, capsys, file: str, line: str):
    """A raw line of any text (quotes, separators, line breaks) in place of row 2."""
    code, out, err = check(
        catalog_copy.with_text(file, _replace_line(catalog_copy.text(file), 2, lambda _: line)), capsys
    )
    assert "Traceback" not in err
    if code != 0:
        assert any(name in one_error(code, out, err) for name in cat.TABLES)


BAD_INPUTS["catalog cell: hypothesis (any text, any column)"] += CELL_EXAMPLES
BAD_INPUTS["catalog file: hypothesis (any raw row)"] += LINE_EXAMPLES


# -- the user's scenario file ------------------------------------------------------------------------------------
GOOD = "llama-3-8b"  # a row naming only its model estimates with every default


def scenarios_file(tmp_path: Path, content: str | bytes, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def estimate(path: Path, capsys) -> tuple[int, str, str]:
    with no_hang():
        return run_main(["estimate", "--scenarios", str(path)], capsys)


def jsonl(code: int, out: str, err: str) -> list[dict]:
    """Exit 0 and nothing on stderr; one JSON object per stdout line (a line break in a value never splits one)."""
    assert code == 0 and err == "", err[:600]
    return [json.loads(line) for line in out.split("\n")[:-1]]


BAD_SCENARIO_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "fifo": (lambda d: _fifo(d / "s.csv"), "is not a regular file"),
    "folder": (lambda d: _mkdir(d / "s.csv"), "is a folder"),
    "missing": (lambda d: d / "s.csv", "cannot read scenarios file"),
    "utf-16": (lambda d: scenarios_file(d, "model,batch\nllama-3-8b,1\n".encode("utf-16")), "UTF-16"),
    "latin-1": (lambda d: scenarios_file(d, "model\nllamé\n".encode("latin-1")), "not UTF-8 text (byte 0xE9 on line 2"),
    "binary (NUL bytes)": (lambda d: scenarios_file(d, b"model\n\x00\x01\x02\n"), "binary"),
    "workbook (.xlsx)": (lambda d: scenarios_file(d, b"PK\x03\x04\x14\x00" + bytes(range(256))), "workbook"),
    "empty (0 bytes)": (lambda d: scenarios_file(d, ""), "is empty"),
    "blank lines only": (lambda d: scenarios_file(d, "\n\r\n  \n"), "is empty"),
    "header only": (lambda d: scenarios_file(d, "model,batch\n"), "has a header but no rows"),
    "over 64 MiB": (lambda d: _big(d / "s.csv"), "over 64 MiB"),
    "no model column": (lambda d: scenarios_file(d, "batch,gpu\n1,h200\n"), "has no 'model' column"),
    "unknown column": (
        lambda d: scenarios_file(d, "model,batchh\nllama-3-8b,1\n"),
        "row 1, column 'batchh': unknown column; did you mean 'batch'?",
    ),
    "unknown column holding a line break": (
        lambda d: scenarios_file(d, 'model,"bat\nch"\nllama-3-8b,1\n'),
        "column 'bat\\nch': unknown column",
    ),
    "overlong header cell": (lambda d: scenarios_file(d, f"model,{OVERLONG}\nx,1\n"), "characters)': unknown column"),
    "duplicate column": (lambda d: scenarios_file(d, "model,Batch,batch \nllama-3-8b,1,2\n"), "appears twice"),
    "unclosed quote": (lambda d: scenarios_file(d, f'model,batch\n{GOOD},1\n"{GOOD},2\n'), "row 3: a quoted cell"),
    "text after a closing quote": (lambda d: scenarios_file(d, f'model\n"{GOOD}"x\n'), "row 2: has text after"),
}


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _big(path: Path) -> Path:
    path.write_text("model\n")
    os.truncate(path, MAX_FILE_BYTES + 1)
    return path


@pytest.mark.parametrize("case", BAD_SCENARIO_FILES)
def test_bad_scenarios_file(tmp_path: Path, capsys, case: str):
    make, message = BAD_SCENARIO_FILES[case]
    path = make(tmp_path)
    one_error(*estimate(path, capsys), str(path), message)


BAD_INPUTS.update({f"scenario file: {case}": 1 for case in BAD_SCENARIO_FILES})

SCENARIO_HABITS = {
    "utf-8 BOM": f"\ufeffmodel,batch\n{GOOD},2\n",
    "CRLF line ends": f"model,batch\r\n{GOOD},2\r\n",
    "header in capitals": f"Model,Batch,N_GPUS\n{GOOD},2,1\n",
    "spaces around names and cells": f" model , batch \n {GOOD} , 2 \n",
    "';'-separated": f"model;batch;prompt_tokens\n{GOOD};2;1024\n",
    "tab-separated": f"model\tbatch\n{GOOD}\t2\n",
    "trailing comma header": f"model,batch,\n{GOOD},2,\n",
    "trailing separators on rows": f"model,batch\n{GOOD},2,,,\n",
    "blank rows": f"model,batch\n\n{GOOD},2\n\n\n",
    "thousands separators": f'model,prompt_tokens,new_tokens\n{GOOD},"4,096","1,024"\n',
    "short rows": f"model,batch,gpu\n{GOOD}\n",
    "task and names in capitals": "model,task,gpu,engine,precision\nLLAMA-3-8B,INFERENCE,RTX-4090,VLLM,BF16\n",
    "seq_len equal to new_tokens (prompt 0)": f"model,new_tokens,seq_len\n{GOOD},128,128\n",
    "quoted cells": f'model,gpu\n"{GOOD}","rtx-4090"\n',
}


@pytest.mark.parametrize("habit", SCENARIO_HABITS)
def test_scenario_spreadsheet_habits(tmp_path: Path, capsys, habit: str):
    lines = jsonl(*estimate(scenarios_file(tmp_path, SCENARIO_HABITS[habit]), capsys))
    assert len(lines) == 1 and "error" not in lines[0], lines


def test_semicolon_file_refuses_an_ambiguous_dot(tmp_path: Path, capsys):
    """In a ';' file (European Excel: decimal commas) '1.024' could be a thousand and 24 or one and a bit."""
    lines = jsonl(*estimate(scenarios_file(tmp_path, f"model;prompt_tokens\n{GOOD};1.024\n{GOOD};1024\n"), capsys))
    assert "line 2: column 'prompt_tokens': '1.024' could be 1024 or 1.024" in lines[0]["error"]
    assert lines[1]["assumptions"]["prompt_tokens"] == 1024


SCENARIO_NUMBERS = {
    "n_gpus": {"over the limit": ["4097", "1,000,000"]},  # 0 is a CPU-only row (tests/test_hybrid_cli.py)
    "batch": {"zero": ["0"], "over the limit": ["1000001"]},
    "prompt_tokens": {"over the limit": ["10000001"]},
    "new_tokens": {"over the limit": ["10,000,001"]},
    "seq_len": {"zero": ["0"], "over the limit": ["10000001"]},
}


def _number_cases() -> list:
    cases = []
    for column, extra in SCENARIO_NUMBERS.items():
        categories = {"non-finite": NON_FINITE, "huge": HUGE, "negative": NEGATIVE, "wrong type": WRONG_TYPE}
        for category, values in {**categories, "fraction": FRACTION, **extra}.items():
            BAD_INPUTS[f"scenario row: {category}"] += len(values)
            cases.append(pytest.param(column, values, id=f"{column}:{category}"))
    return cases


@pytest.mark.parametrize(("column", "values"), _number_cases())
def test_bad_scenario_numbers(tmp_path: Path, capsys, column: str, values: list[str]):
    """Each bad value is its own row's error, naming the line and the column; the good row still runs."""
    path = scenarios_file(tmp_path, csv_text([["model", column], [GOOD, ""]] + [[GOOD, v] for v in values]))
    lines = jsonl(*estimate(path, capsys))
    assert len(lines) == 1 + len(values) and "error" not in lines[0]
    for n, (value, line) in enumerate(zip(values, lines[1:], strict=True), start=3):
        assert line["error"].startswith(f"line {n}: column '{column}'"), (value, line)


SCENARIO_TEXT = ["model", "task", "engine", "precision", "kv_precision", "gpu"]


def _text_cases() -> list:
    cases = []
    for column in SCENARIO_TEXT:
        for category, values in {
            "line break or invisible character": BREAKS + INVISIBLE,
            "overlong": [OVERLONG],
            "unknown name": ["no-such-thing", "x" * 500, '"quoted"'],
        }.items():
            BAD_INPUTS[f"scenario row: {category}"] += len(values)
            cases.append(pytest.param(column, values, id=f"{column}:{category}"))
    return cases


@pytest.mark.parametrize(("column", "values"), _text_cases())
def test_bad_scenario_text(tmp_path: Path, capsys, column: str, values: list[str]):
    rows = [[GOOD if column != "model" else v] + ([v] if column != "model" else []) for v in values]
    header = ["model"] + ([column] if column != "model" else [])
    lines = jsonl(
        *estimate(scenarios_file(tmp_path, csv_text([header, [GOOD] + [""] * (len(header) - 1)] + rows)), capsys)
    )
    assert len(lines) == 1 + len(values) and "error" not in lines[0]
    starts = [3]
    for value in values:
        starts.append(starts[-1] + 1 + len(re.findall(r"\r\n|\r|\n", value)))  # what a text editor counts
    for n, value, line in zip(starts[:-1], values, lines[1:], strict=True):
        assert line["error"].startswith(f"line {n}: "), (value[:40], line["error"][:300])


SCENARIO_ROWS = {  # header, bad row, what the error says
    "empty model": ("model,batch", ",2", "column 'model' is empty; every row must name its model"),
    "blank model": ("model,batch", "  ,2", "column 'model' is empty"),
    "cells past the header": ("model,batch", f"{GOOD},2,extra", "has a value past the last column ('extra'"),
    "value under a nameless column": ("model,,batch", f"{GOOD},x,2", "has 'x' in column 2, which has no name"),
    "seq_len below new_tokens": (
        "model,new_tokens,seq_len",
        f"{GOOD},512,100",
        "seq_len (100) is below new_tokens (512)",
    ),
    "seq_len below the default new_tokens": ("model,seq_len", f"{GOOD},100", "new_tokens (512, the default)"),
    "prompt_tokens and seq_len disagree": (
        "model,prompt_tokens,new_tokens,seq_len",
        f"{GOOD},500,128,4096",
        "is 628, not seq_len (4096)",
    ),
    "a delimiter inside a quoted name": ("model,batch", f'"{GOOD},x",2', "unknown model"),
    "a doubled quote inside a name": ("model,batch", f'"{GOOD}""x",2', "unknown model"),
    "unknown task": ("model,task", f"{GOOD},training", "task 'training' is not estimated yet"),
    "kv precision unknown": ("model,kv_precision", f"{GOOD},fp3", "unknown precision 'fp3'"),
}
BAD_INPUTS.update({f"scenario row: {case}": 1 for case in SCENARIO_ROWS})


@pytest.mark.parametrize("case", SCENARIO_ROWS)
def test_bad_scenario_row(tmp_path: Path, capsys, case: str):
    header, row, message = SCENARIO_ROWS[case]
    good = GOOD + "," * header.count(",")
    lines = jsonl(*estimate(scenarios_file(tmp_path, f"{header}\n{good}\n{row}\n{good}\n"), capsys))
    assert len(lines) == 3 and "error" not in lines[0] and "error" not in lines[2]
    assert lines[1]["error"].startswith("line 3: ") and message in lines[1]["error"], lines[1]


def test_scenario_lines_are_the_files_lines(tmp_path: Path, capsys):
    """After a blank line and a cell spanning lines, a row's error names the line where it starts."""
    text = f'model,engine,batch\n{GOOD},,1\n\n"{GOOD}\nsecond line",,1\n\n{GOOD},,-3\r\n{GOOD},,x\n'
    lines = jsonl(*estimate(scenarios_file(tmp_path, text), capsys))
    assert [line.get("error", "ok")[:7] for line in lines] == ["ok", "line 4:", "line 7:", "line 8:"]
    assert lines[2]["error"] == "line 7: column 'batch' must be at least 1, got -3"


def test_scenario_failure_tells_the_cli_when_no_row_ran(tmp_path: Path, catalog):
    """The exit code rule: 0 when a row was estimated, 2 when none was (`scenario_failure` says which)."""
    bad = scenarios_file(tmp_path, "model,batch\nno-such-model,1\nllama-3-8b,0\n", "bad.csv")
    results = list(answers.run_scenarios(catalog, bad))
    assert len(results) == 2 and all(isinstance(r, str) for r in results)
    assert "none of the 2 scenario rows" in (answers.scenario_failure(results) or "")
    mixed = scenarios_file(tmp_path, "model,batch\nno-such-model,1\nllama-3-8b,1\n", "mixed.csv")
    assert answers.scenario_failure(list(answers.run_scenarios(catalog, mixed))) is None
    with pytest.raises(SizingError, match="has a header but no rows"):
        list(answers.run_scenarios(catalog, scenarios_file(tmp_path, "model\n", "empty.csv")))


@settings(max_examples=ROW_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    column=st.sampled_from(list(cat.SCENARIO_COLUMNS)),
    value=st.one_of(st.text(max_size=40), st.sampled_from(NON_FINITE + HUGE + WRONG_TYPE + BREAKS + INVISIBLE)),
    raw=st.text(max_size=60),
)
def test_any_scenario_row_is_one_json_line_or_one_error(tmp_path_factory, capsys, column: str, value: str, raw: str):
    """A cell of any text in any column, then a raw line of any text: each row gives a JSON line and the good
    row its estimate, or (broken quotes in the raw line) the file gives one error line."""
    rows = csv_text([["model", column] if column != "model" else ["model"], [GOOD] + [""] * (column != "model")])
    rows += csv_text([[GOOD, value] if column != "model" else [value]])
    path = scenarios_file(tmp_path_factory.mktemp("s"), rows + raw + "\n")
    code, out, err = estimate(path, capsys)
    assert "Traceback" not in err
    if code == 0:
        lines = jsonl(code, out, err)
        assert "error" not in lines[0]  # the hostile row may be blank (skipped) or swallowed by the raw line
    else:
        one_error(code, out, err, str(path))


BAD_INPUTS["scenario row: hypothesis (any text, any column, any raw line)"] += ROW_EXAMPLES
