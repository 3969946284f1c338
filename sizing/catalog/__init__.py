"""The only reader of `data/`: `tables` parses each CSV row, checks it and converts vendor units once; `checks`
checks across rows and files; `store` is the loaded `Catalog` with its name lookups; `load` reads a data folder
once; `user_files` reads a user's scenario CSV. Every problem is a `CatalogError` naming the file, the row (1-based,
header = row 1) and the column."""

from .checks import DEFAULT_CIRCUITS, MAY_BE_EMPTY, check_model_params, check_references
from .load import load
from .store import Catalog
from .tables import TABLES, CatalogError, default_data_dir, read_table
from .user_files import SCENARIO_COLUMNS, read_scenarios
from .writer import add_model

__all__ = [
    "add_model",
    "DEFAULT_CIRCUITS",
    "MAY_BE_EMPTY",
    "SCENARIO_COLUMNS",
    "TABLES",
    "Catalog",
    "CatalogError",
    "check_model_params",
    "check_references",
    "default_data_dir",
    "load",
    "read_scenarios",
    "read_table",
]
