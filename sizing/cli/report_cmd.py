"""`sizing report`: the procurement document of a recommendation (Markdown, HTML, XLSX, JSON or PDF, English or
Chinese)."""

from __future__ import annotations

import datetime as dt
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from sizing import catalog as cat
from sizing import report
from sizing.specs import Recommendation

from .base import EXIT_NO_BUILD, app, fail
from .options import DataOpt, recommend_request
from .shared import RECOMMEND_OPTIONS, with_options

if TYPE_CHECKING:
    from sizing.answers import AnyRecommendation


def command_line() -> str | None:
    """The command as typed, when this process is the `sizing` program (not a test or a script)."""
    program = Path(sys.argv[0]).name if sys.argv else ""
    return "sizing " + shlex.join(sys.argv[1:]) if program in ("sizing", "__main__.py") else None


def _metadata(data: Path | None) -> dict:
    """The report's date (today), the command line and the catalog folder."""
    return {"date": dt.date.today().isoformat(), "command": command_line(), "data": str(data) if data else None}


@app.command("report")
@with_options(*RECOMMEND_OPTIONS)
def report_command(
    out: Path = typer.Option(..., "--out", "-o", help="The file to write (.md, .html, .xlsx, .json or .pdf)."),
    fmt: str | None = typer.Option(
        None, "--format", help="md, html, xlsx, json or pdf (default: from --out's extension; pdf needs Chromium)."
    ),
    lang: str | None = typer.Option(
        None,
        "--lang",
        help="Language of the document: en or zh (Simplified Chinese); default from SIZING_LANG, else a zh locale "
        "(LC_ALL, LC_MESSAGES, LANG) gives zh, as for estimate and recommend.",
    ),
    vat: float | None = typer.Option(None, help="VAT rate added to the priced parts, e.g. 0.13 (default: none)."),
    tariff: float | None = typer.Option(
        None, help="Energy price in --currency per kWh (default: 0.12 USD/kWh converted, a US median)."
    ),
    utilisation: float = typer.Option(0.6, help="Share of the year the machine works at full load (0-1]."),
    years: float = typer.Option(3.0, help="Years of ownership for the cost of ownership."),
    data: Path | None = DataOpt,
    **request: Any,
) -> None:
    """Write the procurement report of the recommended build: bill of materials, power, cost of ownership, risks
    (inference, training, distillation and RL requests alike)."""
    fmt_key, lang_key = report.parse_format(fmt, out), report.term_lang(lang)
    report.check_format(fmt_key)
    options = report.ReportOptions(vat=vat, tariff=tariff, utilisation=utilisation, years=years, **_metadata(data))
    req = recommend_request(request)
    from sizing import answers  # imported by the command that uses it: `sizing recommend` starts faster

    result = answers.recommend(cat.load(data), req)
    if isinstance(result, Recommendation) and not result.options and result.classes:
        # a CPU-only server or an edge box: its own report
        report.save_class_report(result, out, fmt_key, lang_key, options)
        typer.echo(f"wrote {out} ({fmt_key}, {lang_key}, {result.classes[0].build_class} build)")
        return
    if not answers.has_build(result):
        fail("no build passes every rule, so no report was written; " + answers.ways_out(result), EXIT_NO_BUILD)
    report.save_report(result, out, fmt_key, lang_key, options)
    typer.echo(f"wrote {out} ({fmt_key}, {lang_key})")


def write_recommend_report(result: AnyRecommendation, out: Path, data: Path | None, lang: str = "en") -> None:
    """`sizing recommend ... --report FILE`: the report in the format of FILE's extension, in the terminal's
    language (--lang), the defaults."""
    options = report.ReportOptions(**_metadata(data))
    fmt = report.parse_format(None, out)
    report.save_report(result, out, fmt, lang, options)
    typer.echo(f"wrote {out} ({fmt}, {lang})", err=True)
