from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from sizing import catalog as cat

DATA = Path(__file__).resolve().parent.parent / "data"
SNAPSHOT = Path(__file__).resolve().parent / "catalog"  # frozen copy of data/ for scenario and golden tests


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true", help="rewrite tests/golden/ from today's outputs")


@pytest.fixture(scope="session")
def catalog() -> cat.Catalog:
    return cat.load(DATA)


@pytest.fixture(scope="session")
def snapshot() -> cat.Catalog:
    """The frozen catalog under tests/catalog/: scenario expectations do not move with data/ edits."""
    return cat.load(SNAPSHOT)


# Test prices for the parts the frozen snapshot leaves unpriced, so that the budget and ranking mechanics can be
# tested on complete totals. TEST FIXTURE values, not prices: never shipped in data/.
TEST_PRICES = {
    "gpus.csv": lambda r: 1_000 + 10 * float(r["tdp_w"]),
    "cpus.csv": lambda r: 40 * int(r["cores"]),
    "memory.csv": lambda r: 5 * float(r["capacity_gb"]),
    "drives.csv": lambda r: 60 * float(r["capacity_tb"]),
    "psus.csv": lambda r: 0.25 * float(r["watts_continuous"]),
    "chassis.csv": lambda r: 400 + 600 * int(r["max_gpus"]),
    "network.csv": lambda r: 1_500 if r["kind"] == "nic" else 15_000,
}


def fill_prices(folder: Path) -> None:
    """Give every unpriced part in `folder` a TEST FIXTURE price (see TEST_PRICES)."""
    for name, price in TEST_PRICES.items():
        path = folder / name
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for row in rows:
            if not row["price_usd"]:
                row.update(
                    price_usd=f"{price(row):.2f}",
                    price_date="2026-12",
                    price_kind="estimate",
                    price_source="TEST FIXTURE (tests/conftest.py)",
                )
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


@pytest.fixture(scope="session")
def priced_dir(tmp_path_factory) -> Path:
    """The frozen snapshot with every part priced (test prices where it has none)."""
    target = tmp_path_factory.mktemp("priced") / "data"
    shutil.copytree(SNAPSHOT, target)
    fill_prices(target)
    return target


@pytest.fixture(scope="session")
def priced(priced_dir: Path) -> cat.Catalog:
    return cat.load(priced_dir)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of data/ for tests that break a file."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if has_gpu:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
