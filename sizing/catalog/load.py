"""Loading every catalog file under a data folder, once per folder."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sizing.specs import (
    SizingError,
)

from .checks import _alias_map, check_model_params, check_references
from .recipes import build_recipes
from .store import Catalog
from .tables import OPTIONAL_FILES, TABLES, CatalogError, Table, default_data_dir, numbered, read_table


@lru_cache(maxsize=8)
def _load(data_dir: str) -> Catalog:
    root = Path(data_dir)
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise SizingError(f"data folder '{data_dir}' {what}; point --data at a copy of data/")
    tables: dict[str, list] = {}
    for file, spec in TABLES.items():
        missing = file in OPTIONAL_FILES and not (root / file).exists()
        tables[file] = Table() if missing else read_table(root / file, spec)
    models = {m.id: m for m in tables["models.csv"]}
    for i, model in numbered(tables["models.csv"]):
        problem = check_model_params(model)
        if problem:
            raise CatalogError("models.csv", i, "params_b", problem)
    check_references(tables)
    gpus = {g.id: g for g in tables["gpus.csv"]}
    precisions = {p.id: p for p in tables["precisions.csv"]}
    support: dict[str, list] = {}
    for row in tables["engine_support.csv"]:
        support.setdefault(row.engine, []).append(row)
    engines = {
        e.id: e.model_copy(update={"vendor_support": tuple(support[e.id])}) if e.id in support else e
        for e in tables["engines.csv"]
    }
    aliases = {
        "models": _alias_map("models.csv", tables["models.csv"]),
        "gpus": _alias_map("gpus.csv", tables["gpus.csv"]),
        "precisions": _alias_map("precisions.csv", tables["precisions.csv"]),
        "engines": _alias_map("engines.csv", tables["engines.csv"]),
        "trainers": _alias_map("trainers.csv", tables["trainers.csv"]),
    }

    def by_id(file: str) -> dict:
        return {item.id: item for item in tables[file]}

    return Catalog(
        models=models,
        gpus=gpus,
        precisions=precisions,
        engines=engines,
        efficiencies=tuple(tables["efficiency.csv"]),
        cpus=by_id("cpus.csv"),
        dimms=by_id("memory.csv"),
        drives=by_id("drives.csv"),
        psus=by_id("psus.csv"),
        chassis=by_id("chassis.csv"),
        network=by_id("network.csv"),
        fx=by_id("fx.csv"),
        circuits=by_id("circuits.csv"),
        trainers=by_id("trainers.csv"),
        cpu_efficiencies=tuple(tables["cpu_efficiency.csv"]),
        accessories=by_id("accessories.csv"),
        systems=by_id("systems.csv"),
        mechanics=tuple(tables["engine_mechanics.csv"]),
        bands=tuple(tables["bands.csv"]),
        recipes=build_recipes(tables["quant_recipes.csv"], precisions, aliases["precisions"], frozenset(engines)),
        links=by_id("links.csv"),
        link_measurements=tuple(tables["links_measured.csv"]),
        aliases=aliases,
        data_dir=str(root),
    )


def load(data_dir: str | Path | None = None) -> Catalog:
    """Load and check every catalog file under `data_dir` (default: the bundled data/)."""
    return _load(str(Path(data_dir).resolve()) if data_dir else str(default_data_dir()))
