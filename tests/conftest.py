from __future__ import annotations

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
