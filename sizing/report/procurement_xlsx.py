"""The procurement report as an XLSX workbook (openpyxl): a bill-of-materials sheet whose line totals, subtotals per
kind of part and totals are spreadsheet formulas (a buyer edits a quantity or a unit price and every total follows),
an options sheet with every passing build, and an assumptions sheet. Every word comes from the message catalog.

The formulas mirror the JSON report (procurement_build.bom): a line total is ROUND(quantity x unit price, 2), a kind's
subtotal the sum of its lines, the grand total the sum of the subtotals only while every line has a price (else empty,
like the JSON's null), VAT ROUND(priced subtotal x rate, 2) and the total with VAT the grand total plus VAT."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sizing.specs import Base, NonNegFloat, PosInt, Recommendation

from .procurement import Bom, BomLine, BuildFacts, ProcurementReport
from .procurement_format import SYMBOLS
from .procurement_view import View

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

# columns of a bill of materials block
COLUMNS = (
    ("col.part", 16),
    ("col.model", 44),
    ("col.qty", 7),
    ("col.unit_price", 13),
    ("col.line_total", 14),
    ("col.price_kind", 11),
    ("col.price_date", 12),
    ("col.price_source", 48),
    ("xlsx.col.stale", 10),
    ("xlsx.col.note", 40),
)
QTY, PRICE, TOTAL, NOTE = "C", "D", "E", "J"
HEADING_FILL = "EEF2F8"


class OptionRow(Base):
    """One passing build as the options sheet lists it: price in the report's currency before VAT (the priced
    parts, a lower bound, while a part is unpriced), speed and power (all nodes)."""

    rank: PosInt
    gpu: str
    n_gpus: PosInt  # all nodes
    n_nodes: PosInt
    chassis: str
    price: NonNegFloat
    complete: bool
    throughput: NonNegFloat  # decoded tokens/s over all users, or trained tokens/s
    decode_per_user: NonNegFloat | None = None
    sustained_w: NonNegFloat
    wall_w: NonNegFloat


def option_rows(r: Recommendation, fx_rate: float) -> tuple[OptionRow, ...]:
    """Every ranked option of the recommendation, priced like the report's chart (procurement_build.chart)."""
    rows = []
    for i, o in enumerate(r.options):
        b, k = o.build, o.build.n_nodes
        price_usd = o.total_price_usd if o.total_price_usd is not None else o.subtotal_usd
        speed = o.estimate.speed
        rows.append(
            OptionRow(
                rank=i + 1,
                gpu=b.gpu.name,
                n_gpus=b.n_gpus * k,
                n_nodes=k,
                chassis=b.chassis.name,
                price=round(price_usd * fx_rate, 2),
                complete=o.total_price_usd is not None,
                throughput=o.estimate.throughput_tokens_per_s,
                decode_per_user=speed.decode_tokens_per_s if speed and o.estimate.training is None else None,
                sustained_w=o.power.sustained_w * k,
                wall_w=o.power.wall_w * k,
            )
        )
    return tuple(rows)


def set_value(cell: Any, value: Any) -> None:
    """A cell's value as data: text that starts with '=' stays text (a model name is never a formula), and
    characters XML cannot hold are dropped."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.value = value
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"


def _text(s: str) -> str:
    """A string inside a formula: quotes doubled."""
    return '"' + s.replace('"', '""') + '"'


def _message_formula(f: View, key: str, count: str, **params: Any) -> str:
    """A catalog message with its {n} filled by the formula `count`, as a string expression."""
    marker = "\x00"
    before, _, after = f.t(key, n=marker, **params).partition(marker)
    parts = [p for p in (_text(before) if before else "", count, _text(after) if after else "") if p]
    return "&".join(parts)


class BomSheet:
    """Writes one or more bill-of-materials blocks on a sheet, row after row."""

    def __init__(self, ws: Worksheet, f: View, money_format: str) -> None:
        self.ws, self.f, self.money = ws, f, money_format
        self.row = 1

    def put(self, col: str, value: Any, *, fmt: str | None = None, bold: bool = False, formula: bool = False) -> None:
        """A value (text stays text, even one that starts with '='), or with `formula` a formula of ours."""
        from openpyxl.styles import Font

        cell = self.ws[f"{col}{self.row}"]
        if formula:
            cell.value = value
        else:
            set_value(cell, value)
        if fmt:
            cell.number_format = fmt
        if bold:
            cell.font = Font(bold=True)

    def calc(self, col: str, formula: str, *, fmt: str | None = None, bold: bool = False) -> None:
        self.put(col, formula, fmt=fmt, bold=bold, formula=True)

    def line(self, ln: BomLine) -> None:
        f, r = self.f, self.row
        self.put("A", f.kind(ln.kind))
        self.put("B", ln.name)
        self.put(QTY, ln.quantity, fmt="0")
        self.put(PRICE, ln.unit_price, fmt=self.money)  # None: an empty cell the buyer may fill
        self.calc(TOTAL, f'=IF(ISNUMBER({PRICE}{r}),ROUND({QTY}{r}*{PRICE}{r},2),"")', fmt=self.money)
        self.put("F", f.price_kind(ln.price_kind))
        self.put("G", ln.price_date or "")
        self.put("H", ln.price_source or "")
        self.put("I", f.t("xlsx.yes") if ln.stale else f.t("xlsx.no"))
        flags = f.flags(ln)
        self.put(NOTE, "" if flags == "-" else flags)

    def header(self, x: BuildFacts) -> None:
        self.heading(self.f.t("h.bom_recommended" if x.rank == 1 else "h.bom_runner_up"), self.f.label(x))

    def heading(self, title: str, label: str) -> None:
        """A block's title and label, then the row of column titles."""
        from openpyxl.styles import PatternFill

        f = self.f
        self.put("A", title, bold=True)
        self.put("B", label)
        self.row += 1
        fill = PatternFill("solid", fgColor=HEADING_FILL)
        for i, (key, _) in enumerate(COLUMNS):
            col = chr(ord("A") + i)
            self.put(col, f.t(key), bold=True)
            self.ws[f"{col}{self.row}"].fill = fill
        self.row += 1

    def kinds(self, bom: Bom) -> list[str]:
        """The lines, each kind's together, then a subtotal row per kind; the subtotals' cells."""
        spans: list[tuple[str, int, int]] = []  # kind, first row, last row
        for k in bom.by_kind:
            start = self.row
            for ln in (ln for ln in bom.lines if ln.kind == k.kind):
                self.line(ln)
                self.row += 1
            spans.append((k.kind, start, self.row - 1))
        subtotals = []
        for kind, a, b in spans:
            self.put("A", self.f.t("bom.subtotal_kind", kind=self.f.kind(kind)))
            self.calc(TOTAL, f"=SUM({TOTAL}{a}:{TOTAL}{b})", fmt=self.money)
            blanks = f"COUNTBLANK({PRICE}{a}:{PRICE}{b})"
            self.calc(NOTE, f'=IF({blanks}=0,"",{_message_formula(self.f, "bom.n_unpriced", blanks)})')
            subtotals.append(f"{TOTAL}{self.row}")
            self.row += 1
        return subtotals

    def totals(self, bom: Bom, first: int, last: int, subtotals: list[str]) -> None:
        """Priced subtotal, unpriced parts, grand total (empty while a part is unpriced), VAT where asked."""
        f = self.f
        priced = self.row
        self.put("A", f.t("bom.priced_subtotal"))
        self.calc(TOTAL, f"=ROUND(SUM({TOTAL}{first}:{TOTAL}{last}),2)", fmt=self.money)
        self.row += 1
        unpriced = self.row
        self.put("A", f.t("xlsx.unpriced_parts"))
        self.calc(TOTAL, f"=COUNTBLANK({PRICE}{first}:{PRICE}{last})", fmt="0")
        self.row += 1
        grand = self.row
        self.put("A", f.t("bom.grand_total"), bold=True)
        self.calc(TOTAL, f'=IF({TOTAL}{unpriced}=0,ROUND(SUM({",".join(subtotals)}),2),"")', fmt=self.money, bold=True)
        no_total = _message_formula(f, "bom.no_total", f"{TOTAL}{unpriced}")
        self.calc(NOTE, f'=IF({TOTAL}{unpriced}=0,"",{no_total})')
        self.row += 1
        if bom.vat_rate is None:
            return
        rate = self.row
        self.put("A", f.t("xlsx.vat_rate"))
        self.put(TOTAL, bom.vat_rate, fmt="0.0%")
        self.row += 1
        vat = self.row
        self.put("A", f.t("xlsx.vat"))
        self.calc(TOTAL, f"=ROUND({TOTAL}{priced}*{TOTAL}{rate},2)", fmt=self.money)
        self.row += 1
        self.put("A", f.t("bom.total_vat"), bold=True)
        with_vat = f'=IF(ISNUMBER({TOTAL}{grand}),ROUND({TOTAL}{grand}+{TOTAL}{vat},2),"")'
        self.calc(TOTAL, with_vat, fmt=self.money, bold=True)
        self.row += 1

    def block(self, x: BuildFacts) -> None:
        """One build's bill of materials, a blank row after it."""
        self.header(x)
        self.bill(x.bom)

    def bill(self, bom: Bom) -> None:
        """A bill's lines, subtotals and totals under a heading, a blank row after it."""
        first = self.row
        subtotals = self.kinds(bom)
        last = first + len(bom.lines) - 1
        self.totals(bom, first, last, subtotals)
        self.row += 1

    def widths(self) -> None:
        for i, (_, width) in enumerate(COLUMNS):
            self.ws.column_dimensions[chr(ord("A") + i)].width = width


def _print_a4(ws: Worksheet) -> None:
    """Printed on A4 landscape, every column on the page's width."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0


def _money_format(currency: str) -> str:
    symbol = SYMBOLS.get(currency)
    return f'"{symbol}"#,##0.00' if symbol else f'#,##0.00 "{currency}"'


def _options_sheet(ws: Worksheet, r: ProcurementReport, f: View, options: Sequence[OptionRow], money: str) -> None:
    from openpyxl.styles import Font

    training = r.workload.task != "inference"
    headers = [
        ("xlsx.col.rank", 6),
        ("col.build", 48),
        ("xlsx.col.n_gpus", 8),
        ("xlsx.col.price_ex_vat", 15),
        ("xlsx.col.complete", 12),
        ("xlsx.col.throughput_training" if training else "xlsx.col.throughput_inference", 18),
        ("xlsx.col.decode_user", 18),
        ("xlsx.col.sustained_w", 16),
        ("xlsx.col.wall_w", 14),
    ]
    if training:
        headers.pop(6)
    for i, (key, width) in enumerate(headers):
        col = chr(ord("A") + i)
        ws[f"{col}1"] = f.t(key)
        ws[f"{col}1"].font = Font(bold=True)
        ws.column_dimensions[col].width = width
    for row, o in enumerate(options, start=2):
        key = "build.label_nodes" if o.n_nodes > 1 else "build.label"
        values: list[tuple[Any, str | None]] = [
            (o.rank, "0"),
            (f.t(key, n=o.n_gpus, gpu=o.gpu, chassis=o.chassis, nodes=o.n_nodes), None),
            (o.n_gpus, "0"),
            (o.price, money),
            (f.t("xlsx.yes") if o.complete else f.t("xlsx.no"), None),
            (round(o.throughput, 1), "#,##0.0"),
            (None if o.decode_per_user is None else round(o.decode_per_user, 1), "#,##0.0"),
            (round(o.sustained_w), "#,##0"),
            (round(o.wall_w), "#,##0"),
        ]
        if training:
            values.pop(6)
        for i, (value, fmt) in enumerate(values):
            cell = ws.cell(row=row, column=i + 1)
            set_value(cell, value)
            if fmt:
                cell.number_format = fmt
    ws.freeze_panes = "A2"


def assumption_rows(r: ProcurementReport, f: View) -> list[tuple[str, str]]:
    """The assumptions table of the report, then the terms and metadata a buyer's spreadsheet should keep."""
    rows = list(f.assumption_rows(r))
    b = r.recommended
    if b.launch:
        rows.append((f.t("xlsx.launch"), b.launch))
    dates = sorted({ln.price_date for x in (b, r.runner_up) if x for ln in x.bom.lines if ln.price_date})
    fx = f"{r.fx_rate} {r.currency}/USD ({r.fx_date or '-'}, {r.fx_source or '-'})" if r.currency != "USD" else "-"
    rows += [
        (f.t("xlsx.currency"), r.currency),
        (f.t("xlsx.fx"), fx),
        (f.t("xlsx.vat_rate"), f.pct(r.vat) if r.vat is not None else "-"),
        (f.t("xlsx.tariff"), f"{f.small_money(r.tariff)} ({r.tariff_source})"),
        (f.t("xlsx.utilisation"), f.pct(r.utilisation)),
        (f.t("xlsx.years"), f.num(r.years, 1 if r.years % 1 else 0)),
        (f.t("xlsx.catalog"), r.data or f.t("xlsx.catalog_bundled")),
        (f.t("xlsx.price_dates"), f"{dates[0]} - {dates[-1]}" if dates else "-"),
        (f.t("xlsx.as_of"), r.as_of or "-"),
        (f.t("xlsx.version"), f"{r.tool} {r.version}"),
        (f.t("xlsx.date"), r.date or "-"),
        (f.t("meta.command"), r.command or "-"),
    ]
    return rows


def workbook_bytes(report: ProcurementReport, lang: str, options: Sequence[OptionRow]) -> bytes:
    """The report as an .xlsx file: BOM (recommended and runner-up), options, plan (distillation and RL: the
    phases or roles, and the cost per run as formulas) and assumptions sheets."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    f = View(lang, report.currency)
    money = _money_format(report.currency)
    wb = Workbook()
    ws = wb.active
    ws.title = f.t("xlsx.sheet.bom")
    sheet = BomSheet(ws, f, money)
    sheet.put("A", f.t("title"), bold=True)
    sheet.put("B", f.t("meta.model", model=report.model_name))
    sheet.row += 1
    sheet.put("A", f.t("meta.currency", currency=report.currency))
    sheet.put("B", f.t("xlsx.edit_hint"))
    sheet.row += 2
    for x in (report.recommended, report.runner_up):
        if x is not None:
            sheet.block(x)
    if report.runner_up is None:
        sheet.put("A", f.t("bom.no_runner_up"))
    sheet.widths()
    ws["A1"].font = Font(bold=True, size=14)

    _options_sheet(wb.create_sheet(f.t("xlsx.sheet.options")), report, f, options, money)
    if report.distill is not None or report.rl is not None:
        from .procurement_xlsx_plan import plan_sheet

        plan_sheet(wb.create_sheet(f.t("xlsx.sheet.plan")), report, f, money)

    assumptions_sheet(wb.create_sheet(f.t("xlsx.sheet.assumptions")), f, assumption_rows(report, f))
    return workbook_file(wb)


def assumptions_sheet(ws: Worksheet, f: View, rows: Sequence[tuple[str, str]]) -> None:
    """Two columns, figure and value, the values wrapped."""
    from openpyxl.styles import Alignment, Font

    ws["A1"], ws["B1"] = f.t("col.figure"), f.t("col.value")
    ws["A1"].font = ws["B1"].font = Font(bold=True)
    for row, (label, value) in enumerate(rows, start=2):
        set_value(ws.cell(row=row, column=1), label)
        set_value(ws.cell(row=row, column=2), value)
        ws.cell(row=row, column=2).alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 100


def workbook_file(wb: Any) -> bytes:
    """Every sheet printed on A4, every formula computed on opening (no cached values): the .xlsx file's bytes."""
    for each in wb.worksheets:
        _print_a4(each)
    wb.calculation.fullCalcOnLoad = True
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
