"""The only reader of `data/`: parse each CSV row, check it, convert vendor units once, look names up.

Every problem is a `CatalogError` naming the file, the row (1-based, header = row 1) and the column.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .specs import (
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
SIZE_LIKE = re.compile(r"\d+(\.\d+)?[bm]")  # `7b`, `500m`: reserved for generic model sizes
PARAM_TOLERANCE = 0.02  # DESIGN.md: a stated parameter count may differ from the shape's count by at most 2%

T = TypeVar("T", bound=BaseModel)
# circuits.csv ids sizing/recommend uses when --circuit is not given (towers and workstations; rack servers)
DEFAULT_CIRCUITS = {"120v-15a": "towers and workstations", "rack-208v-30a": "rack servers"}
MAY_BE_EMPTY = ("network.csv", "fx.csv")  # single-node builds need no network parts; USD needs no rate

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
    repo = Path(__file__).resolve().parent.parent / "data"
    if (repo / "models.csv").exists():
        return repo
    try:
        import sizing_data

        return Path(next(iter(sizing_data.__path__)))
    except (ImportError, StopIteration):  # pragma: no cover - broken install
        return repo


# Lower case as data/README.md writes them, plus TRUE/FALSE, which Excel writes when it saves a CSV. Other spellings
# (`Yes`, `True`) are rejected like any value outside its vocabulary.
_BOOL = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False, "TRUE": True, "FALSE": False}


def _parse_cell(raw: str, col: Col) -> object:
    text = raw.strip()
    if col.kind == "str":
        return text
    if col.kind == "list":
        return tuple(part.strip() for part in text.split(";") if part.strip())
    if col.kind == "bool":
        if text not in _BOOL:
            raise ValueError(f"'{text}' is not a boolean; use true/false, yes/no or 1/0 (lower case; Excel's "
                             "TRUE/FALSE also work)")
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


def read_table(path: Path, spec: type[T]) -> list[T]:
    """Parse one CSV into spec objects; reject unknown/missing columns, bad cells and duplicate ids."""
    columns: dict[str, Col] = spec.COLUMNS  # type: ignore[attr-defined]
    field_to_column = {c.field: name for name, c in columns.items()}
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
    header = [h.strip() for h in rows[0]]
    unknown = [h for h in header if h not in columns]
    if unknown:
        raise CatalogError(name, 1, unknown[0], f"unknown column; expected some of: {', '.join(columns)}")
    missing = [c for c, col in columns.items() if col.required and c not in header]
    if missing:
        raise CatalogError(name, 1, missing[0], "required column is missing")
    out: list[T] = []
    seen: set[str] = set()
    for i, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CatalogError(name, i, None, f"has {len(row)} cells, the header has {len(header)}; check quoting")
        values: dict[str, object] = {}
        for column, raw in zip(header, row, strict=True):
            col = columns[column]
            if not raw.strip():
                if col.required:
                    raise CatalogError(name, i, column, "is empty but required")
                continue
            try:
                values[col.field] = _parse_cell(raw, col)
            except ValueError as exc:
                raise CatalogError(name, i, column, str(exc)) from None
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


class Catalog(Base):
    models: dict[str, ModelSpec]
    gpus: dict[str, Gpu]
    precisions: dict[str, Precision]
    engines: dict[str, Engine]
    efficiencies: tuple[Efficiency, ...]
    cpus: dict[str, Cpu]
    dimms: dict[str, Dimm]
    drives: dict[str, Drive]
    psus: dict[str, Psu]
    chassis: dict[str, Chassis]
    network: dict[str, NetworkPart]
    fx: dict[str, FxRate]
    circuits: dict[str, Circuit]
    aliases: dict[str, dict[str, str]]  # table -> alias -> id
    data_dir: str

    # -- lookups ---------------------------------------------------------------------------------------------
    def _find(self, table: str, name: str, what: str) -> str:
        items: dict = getattr(self, table)
        key = name.strip().lower()
        if key in items:
            return key
        if key in self.aliases[table]:
            return self.aliases[table][key]
        names = list(items) + list(self.aliases[table])
        close = difflib.get_close_matches(key, names, n=4, cutoff=0.5)
        hint = f"closest: {', '.join(close)}" if close else f"see `sizing {table}`" if table in ("models", "gpus") else ""
        raise SizingError(f"unknown {what} '{name}'" + (f"; {hint}" if hint else ""))

    def model(self, name: str) -> ModelSpec:
        return self.models[self._find("models", name, "model")]

    def gpu(self, name: str) -> Gpu:
        return self.gpus[self._find("gpus", name, "GPU")]

    def engine(self, name: str) -> Engine:
        return self.engines[self._find("engines", name, "engine")]

    def precision(self, name: str) -> Precision:
        """A weight or KV format. `exl2-4.65bpw` (any bpw) is built from the exl2 template row."""
        match = re.fullmatch(r"exl2[-_](\d+(?:\.\d+)?)(?:bpw)?", name.strip().lower())
        if match and "exl2" in self.precisions:
            bits = float(match.group(1))
            if not 1.0 <= bits <= 16.0:
                raise SizingError(f"exl2 bits per weight must be between 1 and 16, got {bits}")
            template = self.precisions["exl2"]
            return template.model_copy(update={"id": f"exl2-{bits:g}bpw", "name": f"EXL2 {bits:g} bpw",
                                               "weight_bits": bits})
        return self.precisions[self._find("precisions", name, "precision")]

    def default_engine(self, family: str) -> Engine:
        """The engine that runs a precision family when the request names none (engines.csv `default_for_families`;
        the load check guarantees exactly one per family in precisions.csv)."""
        for engine in self.engines.values():
            if family in engine.default_for_families:
                return engine
        raise SizingError(f"no engine in engines.csv is the default for '{family}' weights; name one with --engine")

    def cpu(self, name: str) -> Cpu:
        return self._lookup_plain("cpus", name, "CPU")

    def _lookup_plain(self, table: str, name: str, what: str):
        items: dict = getattr(self, table)
        key = name.strip().lower()
        if key in items:
            return items[key]
        close = difflib.get_close_matches(key, list(items), n=4, cutoff=0.4)
        hint = f"closest: {', '.join(close)}" if close else f"use one of {', '.join(items)}"
        raise SizingError(f"unknown {what} '{name}'; {hint}")

    def circuit(self, name: str) -> Circuit:
        return self._lookup_plain("circuits", name, "circuit")

    def usd_to(self, currency: str) -> FxRate | None:
        """The newest rate from USD to `currency` (None for USD)."""
        if currency.upper() == "USD":
            return None
        rates = [r for r in self.fx.values() if r.from_currency == "USD" and r.to_currency == currency.upper()]
        if not rates:
            raise SizingError(f"no USD/{currency.upper()} rate in fx.csv; add one or use --currency USD")
        return max(rates, key=lambda r: r.rate_date)

    def efficiency(self, engine: str, gpu_class: str) -> Efficiency:
        """The engine's factors for this GPU class, else its any-class row."""
        by_key = {(e.engine, e.gpu_class): e for e in self.efficiencies}
        for key in ((engine, gpu_class), (engine, "*")):
            if key in by_key:
                return by_key[key]
        raise SizingError(f"no efficiency factors for engine '{engine}' in efficiency.csv; add a row for it")


def _alias_map(file: str, items: dict[str, Base]) -> dict[str, str]:
    """alias -> id; an alias may not be another row's id, another row's alias, or look like a model size."""
    aliases: dict[str, str] = {}
    for row, (item_id, item) in enumerate(items.items(), start=2):
        for alias in getattr(item, "aliases", ()):
            key = alias.lower()
            if key in items and key != item_id:
                raise CatalogError(file, row, "aliases", f"alias '{alias}' of '{item_id}' is another row's id")
            if aliases.get(key, item_id) != item_id:
                raise CatalogError(file, row, "aliases", f"alias '{alias}' is used by '{aliases[key]}' and '{item_id}'")
            if file == "models.csv" and SIZE_LIKE.fullmatch(key):
                raise CatalogError(file, row, "aliases", f"alias '{alias}' looks like a model size (`--model 7b`)")
            aliases[key] = item_id
    return aliases


def check_model_params(model: ModelSpec) -> str | None:
    """A problem if the stated parameter count disagrees with the shape's count by more than 2%."""
    derived = model.derived_params
    diff = abs(derived - model.n_params) / model.n_params
    if diff > PARAM_TOLERANCE:
        return (f"states {model.n_params / 1e9:.3f}B parameters but its shape gives {derived / 1e9:.3f}B "
                f"({diff:.1%} apart, limit {PARAM_TOLERANCE:.0%}); fix the shape or the count")
    return None


def check_references(tables: dict[str, list]) -> None:
    """Cross-file checks: every table the tool needs has rows, and every id or value one file names exists in the
    file it points to. Rows are numbered as in the file when it has no blank lines."""
    for file, rows in tables.items():
        if not rows and file not in MAY_BE_EMPTY:
            raise CatalogError(file, None, None, "has a header but no rows; it needs at least one row")
    precisions = {p.id for p in tables["precisions.csv"]}
    engines = {e.id for e in tables["engines.csv"]}
    any_class = {e.engine for e in tables["efficiency.csv"] if e.gpu_class == "*"}
    for i, eff in enumerate(tables["efficiency.csv"], start=2):
        if eff.engine not in engines:
            raise CatalogError("efficiency.csv", i, "engine", f"'{eff.engine}' is not in engines.csv")
        if eff.copied_from is not None and (eff.copied_from not in engines or eff.copied_from == eff.engine):
            raise CatalogError("efficiency.csv", i, "copied_from", f"'{eff.copied_from}' is not another engines id")
    for i, engine in enumerate(tables["engines.csv"], start=2):
        if engine.default_kv_precision not in precisions:
            raise CatalogError("engines.csv", i, "default_kv_precision",
                               f"'{engine.default_kv_precision}' is not in precisions.csv")
        if engine.id not in any_class:
            raise CatalogError("engines.csv", i, "id", f"engine '{engine.id}' has no '*' (any GPU class) row in "
                               "efficiency.csv; add one, or copy another engine's factors into one")
    _check_engine_defaults(tables["engines.csv"], {p.family for p in tables["precisions.csv"]})
    cpus, psu_forms = tables["cpus.csv"], {p.form for p in tables["psus.csv"]}
    for i, cpu in enumerate(cpus, start=2):
        if cpu.pcie_lanes_2s is not None and cpu.max_sockets < 2:
            raise CatalogError("cpus.csv", i, "pcie_lanes_2s", f"'{cpu.id}' is a 1-socket CPU (max_sockets "
                               f"{cpu.max_sockets}); leave pcie_lanes_2s empty")
    for i, box in enumerate(tables["chassis.csv"], start=2):
        if not any(c.socket == box.cpu_socket_type and c.max_sockets >= box.cpu_sockets for c in cpus):
            raise CatalogError("chassis.csv", i, "cpu_socket_type", f"no CPU in cpus.csv has socket "
                               f"'{box.cpu_socket_type}' for a {box.cpu_sockets}-socket board; add one")
        if box.psu_form not in psu_forms:
            raise CatalogError("chassis.csv", i, "psu_form", f"no PSU in psus.csv has form '{box.psu_form}'; add one")
    circuits = {c.id for c in tables["circuits.csv"]}
    for circuit, used_for in DEFAULT_CIRCUITS.items():
        if circuit not in circuits:
            raise CatalogError("circuits.csv", None, "id", f"the default circuit '{circuit}' (used for {used_for} "
                               "when --circuit is not given) is missing; add it back")


def _check_engine_defaults(engines: list[Engine], families: set[str]) -> None:
    """Each precision family has exactly one default engine, which runs it; `fit_like` names another engine that
    itself borrows from nobody (calibrate.py copies a fitted row)."""
    ids = {e.id: e for e in engines}
    owner: dict[str, str] = {}
    for i, engine in enumerate(engines, start=2):
        for family in engine.default_for_families:
            if family in owner:
                raise CatalogError("engines.csv", i, "default_for_families", f"'{family}' already defaults to "
                                   f"'{owner[family]}'; one default engine per precision family")
            if family not in engine.weight_families:
                raise CatalogError("engines.csv", i, "default_for_families",
                                   f"'{engine.id}' does not run '{family}' (not in its weight_families)")
            owner[family] = engine.id
        like = ids.get(engine.fit_like or "")
        if engine.fit_like and (like is None or like.id == engine.id or like.fit_like):
            raise CatalogError("engines.csv", i, "fit_like", f"'{engine.fit_like}' must be another engines id "
                               "whose factors are fitted (an engine without fit_like)")
    missing = sorted(families - set(owner))
    if missing:
        raise CatalogError("engines.csv", None, "default_for_families", f"no engine is the default for precision "
                           f"family '{missing[0]}'; add it to one engine's default_for_families")


@lru_cache(maxsize=8)
def _load(data_dir: str) -> Catalog:
    root = Path(data_dir)
    if not root.is_dir():
        raise SizingError(f"data folder '{data_dir}' does not exist; point --data at a copy of data/")
    tables: dict[str, list] = {}
    for file, spec in TABLES.items():
        tables[file] = read_table(root / file, spec)
    models = {m.id: m for m in tables["models.csv"]}
    for i, model in enumerate(tables["models.csv"], start=2):
        problem = check_model_params(model)
        if problem:
            raise CatalogError("models.csv", i, "params_b", problem)
    check_references(tables)
    gpus = {g.id: g for g in tables["gpus.csv"]}
    precisions = {p.id: p for p in tables["precisions.csv"]}
    engines = {e.id: e for e in tables["engines.csv"]}
    aliases = {
        "models": _alias_map("models.csv", models),
        "gpus": _alias_map("gpus.csv", gpus),
        "precisions": _alias_map("precisions.csv", precisions),
        "engines": _alias_map("engines.csv", engines),
    }
    def by_id(file: str) -> dict:
        return {item.id: item for item in tables[file]}

    return Catalog(models=models, gpus=gpus, precisions=precisions, engines=engines,
                   efficiencies=tuple(tables["efficiency.csv"]), cpus=by_id("cpus.csv"), dimms=by_id("memory.csv"),
                   drives=by_id("drives.csv"), psus=by_id("psus.csv"), chassis=by_id("chassis.csv"),
                   network=by_id("network.csv"), fx=by_id("fx.csv"), circuits=by_id("circuits.csv"), aliases=aliases, data_dir=str(root))


def load(data_dir: str | Path | None = None) -> Catalog:
    """Load and check every catalog file under `data_dir` (default: the bundled data/)."""
    return _load(str(Path(data_dir).resolve()) if data_dir else str(default_data_dir()))


# ------------------------------------------------------------------------------------------- user scenario files
SCENARIO_COLUMNS = ("model", "task", "engine", "precision", "kv_precision", "gpu", "n_gpus", "batch",
                    "prompt_tokens", "new_tokens", "seq_len")
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
        raise SizingError(f"{path.name}: header must use the columns {','.join(SCENARIO_COLUMNS)} "
                          f"(found {','.join(header) or 'none'})")
    rows = ({(k or "").strip(): v for k, v in row.items()} for row in reader)
    return [(line, _scenario_fields(row)) for line, row in enumerate(rows, start=2)]
