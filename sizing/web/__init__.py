"""The web calculator (`sizing serve`; extra `sizing[web]`): FastAPI over the library, nothing computed twice."""

from __future__ import annotations

from sizing.specs import SizingError

INSTALL = "pip install 'sizing[web]'"


def require() -> None:
    """One line saying how to install the web extra, where FastAPI, uvicorn or python-multipart is missing."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(m) is None]
    if missing:
        raise SizingError(f"sizing serve needs {', '.join(missing)}; install the web extra: {INSTALL}")
