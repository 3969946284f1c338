"""The command line: each command parses, calls one library function, renders. Errors are one line, exit 2."""

from . import bench_cmd, listing, report_cmd, serve_cmd, work  # noqa: F401  # their commands register on the app
from .base import app, main

__all__ = ["app", "main"]
