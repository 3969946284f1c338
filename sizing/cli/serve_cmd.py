"""`sizing serve`: the web calculator on this machine (parse, start the app, say who can reach it)."""

from __future__ import annotations

from pathlib import Path

import typer

from sizing.specs import SizingError

from .base import app
from .options import DataOpt

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def reach(host: str, port: int) -> str:
    """The startup line: the address and who can open it."""
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    if host in LOCAL_HOSTS:
        return f"sizing serve: {url} (this machine only; --host 0.0.0.0 opens it to the network)"
    return f"sizing serve: {url} (reachable by every machine that can reach this one on port {port}; no login)"


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every network interface)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    data: Path | None = DataOpt,
) -> None:
    """The web calculator: the form, the ranked builds, the reports and a JSON API (docs at /docs)."""
    from sizing import web  # imported by the command that uses it

    web.require()
    import uvicorn

    from sizing.web.app import create_app

    application = create_app(data)
    _check_free(host, port)
    typer.echo(reach(host, port))
    uvicorn.run(application, host=host, port=port, log_level="warning", workers=1)


def _check_free(host: str, port: int) -> None:
    """Bind once before uvicorn does, so a port in use or an address that is not this machine's is one line and
    exit 2 (uvicorn itself logs and exits 1)."""
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise SizingError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port or --host"
        ) from None
