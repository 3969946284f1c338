"""Running the real entry point in-process, as a user's shell would: the exit code and both streams."""

from __future__ import annotations

from sizing.cli import main


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    """`sizing ARGS` through main(), which turns every error into one line and an exit code."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
