"""The spreadsheet's plan sheet for a distillation or RL report: the plan's tables as the report shows them, and
the cost per run as formulas over its inputs (hardware, wall draw, run hours, tariff, working hours), so a buyer who
edits an input sees the cost follow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .procurement import HOURS_PER_YEAR, ProcurementReport
from .procurement_build import SECONDS_PER_HOUR
from .procurement_view import View

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

COST_ROWS = 7  # the cost block: hardware, wall kW, run hours, tariff, working hours, energy per run, cost per run


def plan_sheet(ws: Worksheet, r: ProcurementReport, f: View, money: str) -> int:
    """Write the plan sheet; the row of its cost-per-run formula (column B)."""
    from openpyxl.styles import Font

    from .procurement_xlsx import set_value

    row = 1
    for heading, (head, rows) in f.plan_tables(r):
        ws.cell(row=row, column=1, value=heading).font = Font(bold=True)
        row += 1
        for i, h in enumerate(head):
            ws.cell(row=row, column=i + 1, value=h).font = Font(bold=True)
        row += 1
        for values in rows:
            for i, v in enumerate(values):
                set_value(ws.cell(row=row, column=i + 1), v)
            row += 1
        row += 1
    for line in f.plan_lines(r):
        set_value(ws.cell(row=row, column=1), line)
        row += 1
    row += 1
    b = r.recommended
    o = b.ownership
    run = "tco.steps_" if r.rl is not None else "tco."
    years = f.num(r.years, 1 if r.years % 1 else 0)
    first = row
    # the cost of one run (procurement_build.ownership): its energy at the wall + the hardware's share of the
    # working hours over the period
    cells = [
        (f.t("tco.hardware_vat" if r.vat is not None else "tco.hardware"), o.hardware, money),
        (f.t("xlsx.wall_kw"), b.facilities.wall_w / 1000, "0.000"),
        (f.t("xlsx.run_hours"), (o.run_s or 0) / SECONDS_PER_HOUR, "0.000"),
        (f.t("xlsx.tariff"), r.tariff, money),
        (f.t("xlsx.busy_hours", years=years), r.years * HOURS_PER_YEAR * r.utilisation, "#,##0.0"),
    ]
    for label, value, fmt in cells:
        ws.cell(row=row, column=1, value=label)
        ws.cell(row=row, column=2, value=value).number_format = fmt
        row += 1
    hw, kw, hours, tariff, busy = (f"B{first + i}" for i in range(5))
    ws.cell(row=row, column=1, value=f.t("tco.energy_per_run"))
    ws.cell(row=row, column=2, value=f"=ROUND({kw}*{hours}*{tariff},4)").number_format = money
    energy = f"B{row}"
    row += 1
    ws.cell(row=row, column=1, value=f.t(run + "per_run")).font = Font(bold=True)
    cost = ws.cell(row=row, column=2, value=f"=ROUND({energy}+{hw}*{hours}/{busy},4)")
    cost.number_format, cost.font = money, Font(bold=True)
    ws.column_dimensions["A"].width = 44
    for col in "BCDEFGHI":
        ws.column_dimensions[col].width = 20
    return row
