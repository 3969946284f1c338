"""The PDF report (sizing/report/procurement_pdf.py): the HTML printed by headless Chromium to A4, its first page
rendered to PNG by pdftoppm; without Chromium (or with one that fails) one line, exit 2, no file. The printing tests
skip only where Chromium is missing and SIZING_REQUIRE_BROWSER is unset (.ci/run sets it: in CI they cannot skip)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cli_run import run_main

from sizing.report import procurement_pdf

DAY = ["--as-of", "2026-06-01"]
A4_IN = (8.27, 11.69)  # ISO 216: 210 x 297 mm


def tools() -> dict[str, str | None]:
    return {
        "chromium": procurement_pdf.find_chromium(),
        "pdftoppm": shutil.which("pdftoppm"),
        "pdfinfo": shutil.which("pdfinfo"),
    }


def need_tools() -> dict[str, str]:
    found = tools()
    missing = [name for name, path in found.items() if path is None]
    if missing:
        if os.environ.get("SIZING_REQUIRE_BROWSER"):
            pytest.fail(f"SIZING_REQUIRE_BROWSER is set but {', '.join(missing)} is missing")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install chromium poppler-utils)")
    return {k: v for k, v in found.items() if v is not None}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def ink(pgm: Path) -> float:
    """Share of the page's pixels that are not white (a binary PGM from pdftoppm -gray)."""
    data = pgm.read_bytes()
    magic, width, height, _maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P5"
    body = pixels[: int(width) * int(height)]
    return sum(1 for b in body if b < 200) / len(body)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pdf_report_prints_to_a4_and_its_first_page_renders(priced_dir: Path, tmp_path: Path, capsys, lang):
    found = need_tools()
    out = tmp_path / "report.pdf"
    code, stdout, err = run_main(["report", "--data", str(priced_dir), *DAY, "--lang", lang, "--out", str(out)], capsys)
    assert code == 0 and not err and stdout.startswith(f"wrote {out} (pdf, {lang})")
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]  # no temporary file beside it
    assert out.read_bytes().startswith(b"%PDF-")
    info = subprocess.run([found["pdfinfo"], str(out)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info, info
    pages = int(next(ln.split()[-1] for ln in info.splitlines() if ln.startswith("Pages:")))
    assert pages >= 3  # eight sections, tables and charts do not fit on two A4 pages
    dpi = 60
    subprocess.run([found["pdftoppm"], "-png", "-r", str(dpi), "-f", "1", "-l", "1", str(out), str(tmp_path / "p")])
    png = next(tmp_path.glob("p*.png"))
    width, height = png_size(png)
    assert abs(width - A4_IN[0] * dpi) <= 2 and abs(height - A4_IN[1] * dpi) <= 2
    assert png.stat().st_size > 15_000  # text and tables, not a blank page
    subprocess.run([found["pdftoppm"], "-gray", "-r", "30", "-f", "1", "-l", "1", str(out), str(tmp_path / "g")])
    share = ink(next(tmp_path.glob("g*.pgm")))
    assert 0.01 < share < 0.5, share  # printed text on white paper


def test_no_chromium_is_one_line_and_no_file(priced_dir: Path, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv(procurement_pdf.ENV, str(tmp_path / "no-such-browser"))
    for argv in (
        ["report", "--data", str(priced_dir), "--out", str(tmp_path / "r.pdf")],
        ["report", "--data", str(priced_dir), "--format", "pdf", "--out", str(tmp_path / "r.md")],
        ["recommend", "--data", str(priced_dir), "--report", str(tmp_path / "r.pdf")],
    ):
        code, stdout, err = run_main(argv, capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith("error: PDF reports need headless Chromium") and "apt-get install chromium" in err
        assert not stdout and not list(tmp_path.iterdir())  # refused before the search, nothing written


def test_a_failing_chromium_is_one_line_and_no_file(priced_dir: Path, tmp_path: Path, capsys, monkeypatch):
    false = shutil.which("false")
    if false is None:
        pytest.skip("no false(1) on PATH")
    monkeypatch.setenv(procurement_pdf.ENV, false)
    out = tmp_path / "r.pdf"
    code, _, err = run_main(["report", "--data", str(priced_dir), *DAY, "--out", str(out)], capsys)
    assert code == 2 and err.startswith("error: Chromium could not print the report") and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_unwritable_pdf_out_fails_cleanly(priced_dir: Path, tmp_path: Path, capsys):
    need_tools()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_main(["report", "--data", str(priced_dir), *DAY, "--out", str(blocker / "r.pdf")], capsys)
    assert code == 2 and err.startswith("error: cannot write") and err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
