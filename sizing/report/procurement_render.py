"""Rendering a ProcurementReport: Markdown and HTML from the jinja2 templates in templates/ (StrictUndefined; HTML
autoescaped, Markdown escaped by `finalize`), JSON from the model, XLSX with openpyxl (procurement_xlsx), PDF as the
HTML printed by headless Chromium (procurement_pdf); every string from the language's message catalog
(templates/i18n/LANG.json); the file written through a temporary file in the same folder, then renamed."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sizing.specs import SizingError

from .procurement import FORMATS, LANGS, ProcurementReport, ReportOptions
from .procurement_format import templates_dir
from .procurement_plans import AnyRecommendation, recommendation_of, report_of
from .procurement_view import View
from .procurement_xlsx import OptionRow, option_rows

EXTENSIONS = {
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".xlsx": "xlsx",
    ".pdf": "pdf",
}
TEXT_FORMATS = ("md", "html", "json")
LANG_ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "zh": "zh", "zh-cn": "zh", "zh-hans": "zh", "zh-sg": "zh"}


def parse_lang(text: str) -> str:
    lang = LANG_ALIASES.get(text.strip().lower().replace("_", "-"))
    if lang is None:
        raise SizingError(f"unknown --lang '{text}'; use {' or '.join(LANGS)}")
    return lang


def parse_format(fmt: str | None, out: Path | None) -> str:
    """--format, else the output file's extension: md, html, xlsx, json or pdf."""
    if out is not None and out.is_dir():
        raise SizingError(f"--out '{out}' is a folder; name a file, e.g. {out / 'report.html'}")
    if fmt is None:
        suffix = out.suffix.lower() if out is not None else ""
        if suffix not in EXTENSIONS:
            raise SizingError(
                f"cannot tell the format from '{out}'; end the file in .md, .html, .xlsx, .json or .pdf "
                "or give --format"
            )
        fmt = EXTENSIONS[suffix]
    key = fmt.strip().lower()
    if key not in FORMATS:
        raise SizingError(f"unknown --format '{fmt}'; use {', '.join(FORMATS)}")
    return key


class Raw(str):
    """Text Markdown shows literally (inside a code block): not escaped, backticks and line breaks removed."""


MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\<>|*`[]"} | {"\n": " ", "\r": " "})


def _md_finalize(value: Any) -> Any:
    if isinstance(value, Raw):
        return str(value)
    return str(value).translate(MD_SPECIAL) if isinstance(value, str) else value


def _raw(value: Any) -> Raw:
    return Raw(str(value).replace("`", "'").replace("\n", " ").replace("\r", " "))


def _environment(fmt: str) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=fmt == "html",
        finalize=_md_finalize if fmt == "md" else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(report: ProcurementReport, fmt: str, lang: str = "en") -> str:
    """The report as Markdown, HTML or JSON, its words in `lang`."""
    if fmt not in TEXT_FORMATS:
        raise SizingError(f"--format {fmt} is a binary file; use render_file")
    if fmt == "json":
        return json.dumps({"lang": lang, **report.model_dump(mode="json")}, indent=1, ensure_ascii=False) + "\n"
    f = View(lang, report.currency)
    env = _environment(fmt)
    context: dict[str, Any] = {"r": report, "f": f, "t": f.t, "raw": _raw, "lang": lang}
    if fmt == "html":
        from markupsafe import Markup

        from .procurement_svg import memory_chart, options_chart, phase_charts

        builds = [b for b in (report.recommended, report.runner_up) if b is not None]
        context["svg"] = {
            "memory": [Markup(memory_chart(b, f)) for b in builds],
            "options": Markup(options_chart(report, f)),
            "phases": [Markup(chart) for chart in phase_charts(report, f)],
        }
    return str(env.get_template(f"procurement.{fmt}").render(**context))


def check_format(fmt: str) -> None:
    """Fail now, before the search, when the format needs a program that is missing (PDF: Chromium)."""
    if fmt == "pdf":
        from .procurement_pdf import require_chromium

        require_chromium()


def render_file(report: ProcurementReport, fmt: str, lang: str, options: Sequence[OptionRow]) -> bytes:
    """The report's file in any format: text formats as UTF-8, XLSX (`options`: the options sheet's rows,
    procurement_xlsx.option_rows of the recommendation) and PDF (the HTML printed by Chromium)."""
    if fmt == "xlsx":
        from .procurement_xlsx import workbook_bytes

        return workbook_bytes(report, lang, options)
    if fmt == "pdf":
        from .procurement_pdf import html_to_pdf

        return html_to_pdf(render(report, "html", lang))
    return render(report, fmt, lang).encode("utf-8")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_report(text: str | bytes, out: Path) -> None:
    """Write through a temporary file in the same folder, then rename: a reader never sees half a report, and a
    failure leaves nothing behind. One-line SizingError when the folder cannot take it."""
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise SizingError(f"'{out}' is a folder; name a file, e.g. {out / 'report.html'}")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would have made it (mkstemp makes 0600)
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise SizingError(f"cannot write '{out}' ({reason}); check that the folder exists and is writable") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def save_report(
    r: AnyRecommendation,
    out: Path,
    fmt: str | None = None,
    lang: str = "en",
    options: ReportOptions | None = None,
) -> ProcurementReport:
    """Build the report of any recommendation (builds, a distillation or an RL loop), render it in `fmt` (default:
    from `out`'s extension) and `lang`, and write it to `out` whole or not at all."""
    fmt_key, lang_key = parse_format(fmt, out), parse_lang(lang)
    check_format(fmt_key)
    built = report_of(r, options)
    write_report(render_file(built, fmt_key, lang_key, option_rows(recommendation_of(r), built.fx_rate)), out)
    return built
