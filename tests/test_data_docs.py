"""data/README.md documents every column of every data file, in that file's section, and the allowed values of the
category columns; it names no column a file lacks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from csv_edit import read_rows

from sizing import catalog as cat
from sizing.specs import base

DATA = Path(__file__).resolve().parent.parent / "data"
README = (DATA / "README.md").read_text()


def section(file: str) -> str:
    """The text under the `## file` or `### file` heading, up to the next heading."""
    match = re.search(rf"^#{{2,3}} {re.escape(file)}\s*$(.*?)(?=^#{{1,3}} |\Z)", README, re.M | re.S)
    assert match, f"data/README.md has no section for {file}"
    return match.group(1)


def documented_columns(text: str) -> set[str]:
    """Column names in the first cell of the section's table rows ("id, name, aliases" lists several)."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            first = line.split("|")[1]
            names.update(n.strip().strip("`") for n in first.split(","))
    return names - {"column", ""}


@pytest.mark.parametrize("file", sorted(cat.TABLES))
def test_every_column_is_documented_in_its_section(file):
    header = read_rows(DATA / file)[0]
    missing = [c for c in header if c not in documented_columns(section(file))]
    assert not missing, f"data/README.md's {file} section does not document {missing}"


@pytest.mark.parametrize("file", sorted(cat.TABLES))
def test_no_documented_column_is_missing_from_the_file(file):
    """A column the README lists must be one the loader knows (it may be absent from the bundled file only when
    optional)."""
    known = set(cat.TABLES[file].COLUMNS)  # type: ignore[attr-defined]
    stale = sorted(documented_columns(section(file)) - known)
    assert not stale, f"data/README.md's {file} section documents columns the loader does not know: {stale}"


def test_every_file_has_a_section():
    for path in DATA.glob("*.csv"):
        assert path.name in cat.TABLES, f"{path.name} is not loaded"
        section(path.name)


VOCABULARIES = [  # (file, column, allowed values) for the category columns
    ("gpus.csv", "vendor", base.GpuVendor),
    ("gpus.csv", "gpu_class", base.GpuClass),
    ("gpus.csv", "software_stack", base.SoftwareStack),
    ("gpus.csv", "form_factor", base.GpuFormFactor),
    ("gpus.csv", "cooling", base.Cooling),
    ("gpus.csv", "nvlink", base.NvLink),
    ("gpus.csv", "power_connector", base.PowerConnector),
    ("cpus.csv", "vendor", base.CpuVendor),
    ("network.csv", "protocol", base.NetProtocol),
    ("precisions.csv", "family", base.PrecisionFamily),
    ("precisions.csv", "compute_dtype", base.ComputeDtype),
    ("engines.csv", "gpu_vendors", base.GpuVendor),
    ("efficiency.csv", "gpu_class", base.GpuClass),
    ("efficiency.csv", "provenance", base.EffFactor),
    ("efficiency.csv", "provenance", base.FactorStatus),
]


@pytest.mark.parametrize(
    ("file", "column", "vocabulary"),
    VOCABULARIES,
    ids=[f"{f}-{c}-{i}" for i, (f, c, _) in enumerate(VOCABULARIES)],
)
def test_allowed_values_are_documented(file, column, vocabulary):
    row = next(
        line for line in section(file).splitlines() if line.startswith("|") and column in documented_columns(line)
    )
    missing = [v for v in get_args(vocabulary) if f"`{v}`" not in row]
    assert not missing, f"data/README.md's {file} `{column}` row does not list {missing}"


def test_price_kinds_are_documented():
    intro = README.split("### What loading checks")[0]
    assert all(f"`{kind}`" in intro for kind in get_args(base.PriceKind))


def test_readme_names_the_specs_package():
    assert "sizing/specs.py" not in README
    assert not re.search(r"\bfive files\b", README)
