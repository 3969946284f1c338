"""The command line's frame: the app, the one-line errors and exit codes, and `main`."""

from __future__ import annotations

import contextlib
import os
import sys

import typer
from pydantic import ValidationError

from sizing.specs import SizingError
from sizing.specs.requests import invalid_message

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Size AI servers: memory, speed and hardware for running, fine-tuning or distilling LLMs.",
)
catalog_app = typer.Typer(no_args_is_help=True, help="Inspect and validate the data catalogs.")
app.add_typer(catalog_app, name="catalog")

EXIT_BAD_INPUT = 2  # the request or the data is wrong: one line says what and how to fix it
EXIT_NO_BUILD = 3  # a valid request that no build passes: the ways out say what would


def one_line(text: str) -> str:
    """The text with every control character (a newline in a name the user typed) shown escaped, so an error is
    always one line and cannot forge a second one."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """One line on stderr, exit code 2 (3: no build passes), no traceback."""
    typer.echo(f"error: {one_line(message)}", err=True)
    raise SystemExit(code)


def output_failed(exc: OSError) -> None:
    """stdout could not take the output (a full disk, a closed pipe), or a path failed that the library did not
    name: one line, exit 2. stdout is pointed at /dev/null first, so the interpreter's last flush of what is left
    cannot print a second error."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    reason = exc.strerror or exc.__class__.__name__
    if exc.filename:  # a path the library did not turn into its own error
        fail(f"cannot use '{exc.filename}' ({reason}); check the path")
    fail(f"cannot write the output ({reason}); free space or write somewhere else")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, prog_name="sizing", standalone_mode=False)
    except SizingError as exc:
        fail(str(exc))
    except ValidationError as exc:
        fail(invalid_message(exc))
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except OSError as exc:  # the library turns every file it reads into a SizingError: this is our own output
        output_failed(exc)
    except Exception as exc:  # click's usage errors (typer may vendor click): one line, exit 2
        if hasattr(exc, "format_message"):
            message = " ".join(exc.format_message().split())
            if not message:  # `sizing` alone: the help was printed
                raise SystemExit(0) from None
            fail(message)
        raise
