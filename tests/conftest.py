from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sizing import catalog as cat

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="session")
def catalog() -> cat.Catalog:
    return cat.load(DATA)


@pytest.fixture()
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
