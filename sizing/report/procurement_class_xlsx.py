"""The class report (a CPU-only server or an edge box, procurement_class.py) as an XLSX workbook: a bill-of-materials
sheet per build whose line totals, subtotals per kind and grand total are spreadsheet formulas, written by the GPU
report's BomSheet (procurement_xlsx.py) from the build's Bom (ClassFacts.bom), and an assumptions sheet. Every word
comes from the message catalog."""

from __future__ import annotations

from .procurement_class import ClassFacts, ClassReport
from .procurement_view import View
from .procurement_xlsx import BomSheet, _money_format, assumptions_sheet, workbook_file


def class_assumption_rows(r: ClassReport, f: View) -> list[tuple[str, str]]:
    """The workload, the build's figures a buyer checks against a quote, the terms of the cost of ownership and the
    report's metadata."""
    b = r.recommended
    rows = [
        (f.t("as.model"), r.model_name),
        (f.t("as.engine"), r.engine),
        (f.t("as.precision"), r.precision),
        (f.t("as.users"), str(r.users)),
        (
            f.t("as.context"),
            f.t(
                "as.context_value",
                context=f.num(r.prompt_tokens + r.new_tokens),
                prompt=f.num(r.prompt_tokens),
                new=f.num(r.new_tokens),
            ),
        ),
        (f.t("as.objective"), f.t(f"objective.{r.objective}") if f.has(f"objective.{r.objective}") else r.objective),
        (f.t("cls.power"), f.watts(b.power_w)),
        (f.t("cls.decode_total"), f.rate(b.decode_tokens_per_s_total)),
    ]
    if b.launch:
        rows.append((f.t("xlsx.launch"), b.launch))
    dates = sorted({ln.price_date for x in (b, r.runner_up) if x for ln in x.lines if ln.price_date})
    rows += [
        (f.t("xlsx.currency"), r.currency),
        (f.t("xlsx.fx"), f"{r.fx_rate} {r.currency}/USD" if r.currency != "USD" else "-"),
        (f.t("xlsx.tariff"), f"{f.small_money(r.tariff)} ({r.tariff_source})"),
        (f.t("xlsx.utilisation"), f.pct(r.utilisation)),
        (f.t("xlsx.years"), f.num(r.years, 1 if r.years % 1 else 0)),
        (f.t("xlsx.catalog"), r.data or f.t("xlsx.catalog_bundled")),
        (f.t("xlsx.price_dates"), f"{dates[0]} - {dates[-1]}" if dates else "-"),
        (f.t("xlsx.version"), f"{r.tool} {r.version}"),
        (f.t("xlsx.date"), r.date or "-"),
        (f.t("meta.command"), r.command or "-"),
    ]
    return rows


def class_workbook_bytes(report: ClassReport, lang: str) -> bytes:
    """The class report as an .xlsx file: the BOM sheet (recommended build, then the runner-up) and assumptions."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    f = View(lang, report.currency)
    wb = Workbook()
    ws = wb.active
    ws.title = f.t("xlsx.sheet.bom")
    sheet = BomSheet(ws, f, _money_format(report.currency))
    sheet.put("A", f.t("cls.title", cls=f.t(f"cls.kind.{report.recommended.build_class}")), bold=True)
    sheet.put("B", f.t("meta.model", model=report.model_name))
    sheet.row += 1
    sheet.put("A", f.t("meta.currency", currency=report.currency))
    sheet.put("B", f.t("xlsx.edit_hint"))
    sheet.row += 2
    builds: list[ClassFacts] = [x for x in (report.recommended, report.runner_up) if x is not None]
    for x in builds:
        sheet.heading(f.t("h.bom_recommended" if x.rank == 1 else "h.bom_runner_up"), x.name)
        sheet.bill(x.bom)
    if report.runner_up is None:
        sheet.put("A", f.t("bom.no_runner_up"))
    sheet.widths()
    ws["A1"].font = Font(bold=True, size=14)
    assumptions_sheet(wb.create_sheet(f.t("xlsx.sheet.assumptions")), f, class_assumption_rows(report, f))
    return workbook_file(wb)
