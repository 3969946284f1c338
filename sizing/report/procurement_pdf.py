"""The procurement report as PDF: the HTML report printed to A4 by headless Chromium (the page's own `@page` rule
sets the paper and margins). Chromium is found on PATH or at $SIZING_CHROMIUM; where it is missing the report fails
in one line that says how to install it, before anything is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sizing.specs import SizingError

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
ENV = "SIZING_CHROMIUM"
TIMEOUT_S = 120.0
# Headless Chromium with nothing but the page: no sandbox (containers and root), no GPU, no network services, a
# fresh profile per run. PRINT_FLAGS only when printing: no header or footer (date, title, URL) on the pages (that
# flag crashes the renderer of a page kept open over the DevTools pipe, Chromium 156).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
)
PRINT_FLAGS = ("--no-pdf-header-footer",)
INSTALL = (
    "install it (Debian/Ubuntu: apt-get install chromium; Fedora: dnf install chromium; macOS: brew install --cask "
    f"chromium) or set {ENV} to its path, or write --format html and print that"
)


def find_chromium() -> str | None:
    """$SIZING_CHROMIUM when it names a program, else the first of NAMES on PATH."""
    given = os.environ.get(ENV)
    if given:
        return shutil.which(given)
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    path = find_chromium()
    if path is None:
        where = f"{ENV}={os.environ[ENV]!r} is not a program" if os.environ.get(ENV) else "no Chromium on PATH"
        raise SizingError(f"PDF reports need headless Chromium ({where}); {INSTALL}")
    return path


def chromium_command(browser: str, profile: Path, *extra: str) -> list[str]:
    """The command line of one headless Chromium run with a fresh profile folder."""
    return [browser, *FLAGS, f"--user-data-dir={profile}", *extra]


def html_to_pdf(html: str, timeout_s: float = TIMEOUT_S) -> bytes:
    """The HTML page printed by headless Chromium: the PDF's bytes. One-line SizingError when Chromium is missing,
    fails, or prints nothing."""
    browser = require_chromium()
    with tempfile.TemporaryDirectory(prefix="sizing-pdf-") as tmp:
        folder = Path(tmp)
        page, pdf, profile = folder / "report.html", folder / "report.pdf", folder / "profile"
        page.write_text(html, encoding="utf-8")
        cmd = chromium_command(browser, profile, *PRINT_FLAGS, f"--print-to-pdf={pdf}", page.as_uri())
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise SizingError(
                f"Chromium did not print the report within {timeout_s:.0f} s; try --format html"
            ) from None
        except OSError as exc:
            raise SizingError(f"cannot run Chromium at {browser} ({exc.strerror or exc}); {INSTALL}") from None
        if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
            said = [ln for ln in done.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
            last = said[-1].strip() if said else "no output"
            raise SizingError(
                f"Chromium could not print the report (exit {done.returncode}: {last}); try --format html"
            )
        data = pdf.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise SizingError("Chromium wrote something that is not a PDF; try --format html")
    return data
