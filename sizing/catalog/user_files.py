"""A user's scenario CSV (`sizing estimate --scenarios`): each row as a `Request`, or what is wrong with it.

The file is read like a catalog file (`csvfile`: encodings, ';'-separated files, header case and spaces, broken
quotes) and a problem with the file as a whole is a CatalogError. A bad row is a problem of that row only, phrased
with the column the user wrote ("column 'batch' must be at least 1, got -3"); the rows around it still run.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from sizing.specs import TRAINING_OPTIONS, Request, SizingError
from sizing.specs.base import show
from sizing.specs.requests import field_problem, option_conflict, parse_checkpoint_every, parse_duration

from .cells import parse_number, text_problem
from .csvfile import CatalogError, CsvFile, Record, RowProblem, header_names, read_csv, row_cells

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
    *TRAINING_OPTIONS,  # training, distillation and RL rows: one column per CLI option, of the same name
    "student",  # distillation rows (task distill): the model, as --student is
    # CPU and hybrid rows
    "cpu",
    "n_sockets",
    "memory",
    "n_dimms",
    "gpu_layers",
    "threads",
    # latency targets
    "max_ttft_s",
    "min_user_tokens_per_s",
    "dp_attention",  # serving: true or false, as --dp-attention
)
SCENARIO_TEXT = (
    "model",
    "task",
    "engine",
    "precision",
    "kv_precision",
    "gpu",
    "trainer",
    "optimizer",
    "recompute",
    "sharding",
    "offload",
    "lora_targets",
    "packing",
    "cpu",
    "memory",
    "teacher",
    "student",
    "teacher_precision",
    "student_task",
    "mode",
    "placement",
    "rl_offload",
    "reward_model",
)
SCENARIO_BOOL = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}  # lora, dp_attention
SCENARIO_FRACTIONAL = (
    "tokens",
    "epochs",
    "max_ttft_s",
    "min_user_tokens_per_s",
)  # the only columns that need not be whole numbers
# a request field filled from a column of another name
FIELD_COLUMNS = {
    "deadline_s": "deadline",
    "checkpoint_every_steps": "checkpoint_every",
    "checkpoint_every_s": "checkpoint_every",
}


def _column(field: str) -> str:
    """A Request field as the scenario file's column names it in a message: "column 'deadline'"."""
    return f"column '{FIELD_COLUMNS.get(field, field)}'"


def _cell(column: str, text: str, delimiter: str) -> tuple[str, object]:
    """One non-empty cell as (request field, value); a bad cell is a RowProblem."""
    problem = text_problem(text, column)
    if problem:
        raise RowProblem(None, f"column '{column}' {problem}")
    if column in ("lora", "dp_attention"):
        if text.lower() not in SCENARIO_BOOL:
            raise RowProblem(None, f"column '{column}' must be true or false, got {show(text)}")
        return column, SCENARIO_BOOL[text.lower()]
    if column == "deadline":  # 48h, 2d, 1h30m as --deadline takes them, in seconds
        try:
            return "deadline_s", parse_duration(text, "column 'deadline':")
        except SizingError as exc:
            raise RowProblem(None, str(exc)) from None
    if column == "checkpoint_every":  # 1000 (steps), 1000steps, 30m, 2h as --checkpoint-every takes them
        try:
            ((field, value),) = parse_checkpoint_every(text, "column 'checkpoint_every':").items()
        except SizingError as exc:
            raise RowProblem(None, str(exc)) from None
        return field, value
    if column == "tokens" and text[-1:].upper() in "KMBT" and text[:-1].strip():  # 200M, 1.5B as on the CLI
        return column, text
    if column in SCENARIO_TEXT:
        return column, text
    try:
        return column, parse_number(text, column not in SCENARIO_FRACTIONAL, delimiter)
    except ValueError as exc:
        raise RowProblem(None, f"column '{column}': {exc}") from None


def _fields(cells: dict[str, str], delimiter: str) -> dict[str, object]:
    """A row's non-empty cells as request fields, numbers parsed; a bad cell is a RowProblem."""
    if not cells.get("model", "").strip() and not cells.get("student", "").strip():
        raise RowProblem(
            None,
            "column 'model' is empty; every row must name its model (a catalog id such as llama-3-8b, or a size such "
            "as 7b; a distillation row may name its student instead)",
        )
    fields = dict(_cell(column, raw.strip(), delimiter) for column, raw in cells.items() if raw.strip())
    given = {FIELD_COLUMNS.get(field, field) for field in fields}  # the parsed fields as the columns that gave them
    conflict = option_conflict(given, str(fields.get("task", "inference")), lambda column: f"'{column}'")
    if conflict:  # what the command line asks of the options together, asked of the row's cells
        raise RowProblem(*conflict)
    if "student" in fields:  # the student is the model that trains (sizing estimate --student)
        fields["model"] = fields.pop("student")
    return fields


def _scenario(file: CsvFile, record: Record, header: list[str]) -> Request | str:
    try:
        return Request(**_fields(row_cells(file, record, header, pad=True), file.delimiter))
    except RowProblem as exc:
        return exc.problem if exc.column is None else f"column '{exc.column}' {exc.problem}"
    except ValidationError as exc:
        return field_problem(exc.errors()[0], _column)


def read_scenarios(path: Path) -> list[tuple[int, Request | str]]:
    """A user's scenario CSV as (line where the row starts, its request or the row's problem). A file that cannot
    be read, a bad header or a file without rows is a CatalogError for the whole file."""
    file = read_csv(path, str(path), "scenarios file", "check the path")
    header = header_names(file, SCENARIO_COLUMNS)
    if "model" not in header and "student" not in header:
        raise CatalogError(
            file.label,
            file.head.row,
            None,
            f"has no 'model' column; the header needs 'model' and any of: {', '.join(SCENARIO_COLUMNS[1:])}",
            file.head.line,
        )
    if not file.rows:
        raise CatalogError(file.label, None, None, "has a header but no rows; add one scenario per row")
    return [(record.line, _scenario(file, record, header)) for record in file.rows]
