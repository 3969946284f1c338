"""The XLSX report (sizing/report/procurement_xlsx.py): re-read with openpyxl, every formula evaluated here from its
cell references (a small evaluator of the functions the workbook uses), and the results compared with the JSON
report's totals to the cent; a buyer's edit of a quantity or a price moves the totals; unpriced parts leave the
grand total empty as the JSON leaves it null; the options and assumptions sheets; Chinese words from the catalog."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from cli_run import run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizing import answers
from sizing.report import ReportOptions, build_report, render, render_file, report_of
from sizing.report.procurement_format import messages
from sizing.report.procurement_plans import recommendation_of
from sizing.report.procurement_xlsx import option_rows
from sizing.scenarios import recommend
from sizing.specs import RecommendRequest

openpyxl = pytest.importorskip("openpyxl")
from openpyxl.formula.tokenizer import Token, Tokenizer  # noqa: E402

DAY = "2026-06-01"
CASES = {
    "7b": (RecommendRequest(model="7b", as_of=DAY), ReportOptions(date=DAY)),
    "lora-cny-vat": (
        RecommendRequest(model="qwen2.5-7b", task="lora", tokens=2e8, currency="CNY", as_of=DAY),
        ReportOptions(date=DAY, vat=0.13, tariff=0.8),
    ),
}
PLANS = {  # distillation and RL: the builds of the plan, costed per run
    "distill": RecommendRequest(model="qwen2.5-0.5b", task="distill", teacher="qwen2.5-7b", tokens=5e7, as_of=DAY),
    "grpo": RecommendRequest(model="qwen2.5-0.5b", task="grpo", as_of=DAY),
}
CENT = 0.005  # both sides round to cents: they agree to within half a cent


class Sheet:
    """A worksheet's formulas evaluated from their cell references (SUM, ROUND, IF, ISNUMBER, COUNTBLANK, the
    arithmetic, comparison and & operators): what a spreadsheet shows. ROUND is Python's round, as the JSON's."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.memo: dict[str, Any] = {}

    def value(self, ref: str) -> Any:
        ref = ref.replace("$", "")
        if ref not in self.memo:
            cell = self.ws[ref]
            if cell.data_type == "f":
                self.memo[ref] = self.formula(str(cell.value))
            else:
                self.memo[ref] = cell.value
        return self.memo[ref]

    def formula(self, text: str) -> Any:
        saved = getattr(self, "tokens", []), getattr(self, "i", 0)  # a reference evaluates its formula first
        tokens = [t for t in Tokenizer(text).items if t.type != Token.WSPACE]
        self.tokens, self.i = tokens, 0
        out = self.compare()
        assert self.i == len(tokens), f"unparsed tail in {text}"
        self.tokens, self.i = saved
        return out

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        self.i += 1
        return self.tokens[self.i - 1]

    def infix(self, ops: tuple[str, ...]) -> str | None:
        t = self.peek()
        return t.value if t is not None and t.type == Token.OP_IN and t.value in ops else None

    def compare(self) -> Any:
        left = self.concat()
        while op := self.infix(("=", "<>", "<", ">", "<=", ">=")):
            self.take()
            right = self.concat()
            left = {
                "=": left == right,
                "<>": left != right,
                "<": left < right,
                ">": left > right,
                "<=": left <= right,
                ">=": left >= right,
            }[op]
        return left

    def concat(self) -> Any:
        left = self.additive()
        while self.infix(("&",)):
            self.take()
            left = text_of(left) + text_of(self.additive())
        return left

    def additive(self) -> Any:
        left = self.term()
        while op := self.infix(("+", "-")):
            self.take()
            right = self.term()
            left = number_of(left) + number_of(right) if op == "+" else number_of(left) - number_of(right)
        return left

    def term(self) -> Any:
        left = self.unary()
        while op := self.infix(("*", "/")):
            self.take()
            right = self.unary()
            left = number_of(left) * number_of(right) if op == "*" else number_of(left) / number_of(right)
        return left

    def unary(self) -> Any:
        t = self.peek()
        if t is not None and t.type == Token.OP_PRE:
            self.take()
            value = number_of(self.unary())
            return -value if t.value == "-" else value
        return self.primary()

    def operand(self, t: Token) -> Any:
        if t.subtype == Token.NUMBER:
            return float(t.value)
        if t.subtype == Token.TEXT:
            return t.value[1:-1].replace('""', '"')
        if t.subtype == Token.LOGICAL:
            return t.value.upper() == "TRUE"
        return Range(self, t.value) if ":" in t.value else self.value(t.value)

    def primary(self) -> Any:
        t = self.take()
        if t.type == Token.OPERAND:
            return self.operand(t)
        if t.type == Token.PAREN and t.subtype == Token.OPEN:
            inner = self.compare()
            assert self.take().subtype == Token.CLOSE
            return inner
        if t.type == Token.FUNC and t.subtype == Token.OPEN:
            name, args = t.value[:-1].upper(), []
            while not (self.peek().type == Token.FUNC and self.peek().subtype == Token.CLOSE):
                args.append(self.compare())
                if self.peek().type == Token.SEP:
                    self.take()
            self.take()
            return FUNCTIONS[name](*args)
        raise AssertionError(f"unexpected token {t.value!r}")


class Range:
    def __init__(self, sheet: Sheet, ref: str) -> None:
        from openpyxl.utils.cell import range_boundaries

        c1, r1, c2, r2 = range_boundaries(ref.replace("$", ""))
        from openpyxl.utils import get_column_letter

        self.values = [sheet.value(f"{get_column_letter(c)}{r}") for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def number_of(v: Any) -> float:
    if v is None:
        return 0.0
    assert is_number(v), f"not a number: {v!r}"
    return float(v)


def text_of(v: Any) -> str:
    if is_number(v):
        return str(int(v)) if float(v).is_integer() else str(v)
    return "" if v is None else str(v)


def _sum(*args: Any) -> float:
    total = 0.0
    for a in args:
        if isinstance(a, Range):
            total += sum(v for v in a.values if is_number(v))
        else:
            total += number_of(a)
    return total


FUNCTIONS = {
    "SUM": _sum,
    "ROUND": lambda x, n: round(number_of(x), int(number_of(n))),
    "IF": lambda cond, yes, no=False: yes if cond else no,
    "ISNUMBER": is_number,
    "COUNTBLANK": lambda r: sum(v is None or v == "" for v in r.values),
}


def test_the_evaluator_reads_excel_formulas():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["A2"], ws["B1"] = 3, 2.5, None
    ws["C1"] = '=IF(ISNUMBER(A2),ROUND(A1*A2,2),"")'
    ws["C2"] = '=IF(COUNTBLANK(B1:B1)=0,"",COUNTBLANK(A1:B2)&" unpriced, ""ok""")'
    ws["C3"] = "=SUM(A1:A2,C1)-(2*-1)"
    s = Sheet(ws)
    assert s.value("C1") == 7.5 and s.value("C2") == '2 unpriced, "ok"' and s.value("C3") == 15.0


@pytest.fixture(scope="module")
def cases(priced, snapshot):
    out = {}
    for name, (req, opts) in CASES.items():
        r = recommend(priced, req)
        out[name] = (r, build_report(r, opts))
    r = recommend(snapshot, RecommendRequest(model="7b", as_of=DAY))  # the frozen catalog leaves parts unpriced
    out["unpriced"] = (r, build_report(r, ReportOptions(date=DAY)))
    for name, req in PLANS.items():
        found = answers.recommend(priced, req)
        out[name] = (recommendation_of(found), report_of(found, ReportOptions(date=DAY)))
    return out


def workbook(case, lang: str = "en"):
    r, report = case
    data = render_file(report, "xlsx", lang, option_rows(r, report.fx_rate))
    assert data[:2] == b"PK"  # a zip container
    return openpyxl.load_workbook(io.BytesIO(data))


def blocks(ws, lang: str = "en") -> list[int]:
    """The header rows of the BOM blocks (the row with the column titles)."""
    part = messages(lang)["col.part"]
    return [row for row in range(1, ws.max_row + 1) if ws[f"A{row}"].value == part]


def read_block(ws, header: int, bom: dict, lang: str = "en") -> dict:
    """One block's evaluated figures, its layout checked against the catalog's labels on the way."""
    m, s = messages(lang), Sheet(ws)
    n, k = len(bom["lines"]), len(bom["by_kind"])
    lines = [
        (ws[f"B{r}"].value, ws[f"C{r}"].value, ws[f"D{r}"].value, s.value(f"E{r}"))
        for r in range(header + 1, header + 1 + n)
    ]
    subtotals = {ws[f"A{r}"].value: s.value(f"E{r}") for r in range(header + 1 + n, header + 1 + n + k)}
    at = header + 1 + n + k
    labels = [ws[f"A{r}"].value for r in range(at, at + 3)]
    assert labels == [m["bom.priced_subtotal"], m["xlsx.unpriced_parts"], m["bom.grand_total"]]
    out = {
        "lines": lines,
        "subtotals": subtotals,
        "priced": s.value(f"E{at}"),
        "n_unpriced": s.value(f"E{at + 1}"),
        "total": s.value(f"E{at + 2}"),
        "note": s.value(f"J{at + 2}"),
    }
    if bom["vat_rate"] is not None:
        assert ws[f"A{at + 4}"].value == m["xlsx.vat"] and ws[f"A{at + 5}"].value == m["bom.total_vat"]
        out["vat"], out["with_vat"] = s.value(f"E{at + 4}"), s.value(f"E{at + 5}")
    return out


@pytest.mark.parametrize(
    ("name", "lang"), [("7b", "en"), ("lora-cny-vat", "zh"), ("unpriced", "en"), ("distill", "zh"), ("grpo", "en")]
)
def test_formulas_give_the_json_totals(cases, name, lang):
    wb = workbook(cases[name], lang)
    ws = wb.worksheets[0]
    out = json.loads(render(cases[name][1], "json", lang))
    builds = [b for b in (out["recommended"], out["runner_up"]) if b]
    headers = blocks(ws, lang)
    assert len(headers) == len(builds) == 2
    m = messages(lang)
    for header, b in zip(headers, builds, strict=True):
        bom, got = b["bom"], read_block(ws, header, b["bom"], lang)
        want = sorted(
            (ln["name"], ln["quantity"], ln["unit_price"], ln["line_total"] if ln["line_total"] is not None else "")
            for ln in bom["lines"]
        )
        assert sorted(got["lines"], key=str) == sorted(want, key=str)
        for k in bom["by_kind"]:
            kind = m.get(f"kind.{k['kind']}", k["kind"])
            assert got["subtotals"][m["bom.subtotal_kind"].format(kind=kind)] == pytest.approx(k["amount"], abs=CENT)
        assert got["priced"] == pytest.approx(bom["priced_subtotal"], abs=CENT)
        assert got["n_unpriced"] == len(bom["unpriced"])
        if bom["total"] is None:  # the JSON's null: an empty cell and a note that says why
            assert got["total"] == "" and str(len(bom["unpriced"])) in got["note"]
        else:
            assert got["total"] == pytest.approx(bom["total"], abs=CENT) and got["note"] == ""
        if bom["vat_rate"] is not None:
            assert got["vat"] == pytest.approx(bom["vat"], abs=CENT)
            assert got["with_vat"] == pytest.approx(bom["total_with_vat"], abs=CENT)
    if name == "unpriced":
        assert out["recommended"]["bom"]["unpriced"]  # the case does test a missing price


@pytest.fixture(scope="module")
def priced_book(cases):
    return workbook(cases["7b"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_buyers_edits_move_the_totals(priced_book, data):
    """Any quantities and cent prices typed in: every total is the rounded sum of the rounded lines."""
    ws = priced_book.worksheets[0]
    header = blocks(ws)[0]
    first, row = header + 1, header + 1
    while ws[f"D{row}"].value is not None or ws[f"C{row}"].value is not None:
        row += 1
    last = row - 1
    expected = 0.0
    for r in range(first, last + 1):
        qty = data.draw(st.integers(1, 64), label=f"qty{r}")
        cents = data.draw(st.integers(1, 10_000_000), label=f"price{r}")
        ws[f"C{r}"], ws[f"D{r}"] = qty, cents / 100
        expected += round(qty * cents / 100, 2)
    n_kinds = sum(1 for r in range(row, row + 20) if str(ws[f"E{r}"].value).startswith("=SUM("))
    grand = row + n_kinds + 2
    assert ws[f"A{grand}"].value == "Grand total"
    assert Sheet(ws).value(f"E{grand}") == pytest.approx(round(expected, 2), abs=CENT)


def test_filling_the_missing_price_completes_the_total(cases):
    wb = workbook(cases["unpriced"])
    ws = wb.worksheets[0]
    header = blocks(ws)[0]
    bom = cases["unpriced"][1].recommended.bom
    n, k = len(bom.lines), len(bom.by_kind)
    grand = header + 1 + n + k + 2
    assert Sheet(ws).value(f"E{grand}") == ""
    added = 0.0
    for r in range(header + 1, header + 1 + n):
        if ws[f"D{r}"].value is None:
            ws[f"D{r}"] = 100.0
            added += round(100.0 * ws[f"C{r}"].value, 2)
    s = Sheet(ws)
    assert s.value(f"E{grand}") == pytest.approx(bom.priced_subtotal + added, abs=CENT) and s.value(f"J{grand}") == ""


def test_options_sheet_lists_every_ranked_option(cases):
    r, report = cases["7b"]
    ws = workbook(cases["7b"]).worksheets[1]
    assert ws.title == "Options" and ws.max_row == 1 + len(r.options) == 1 + report.n_options
    header = [c.value for c in ws[1]]
    assert header[:4] == ["Rank", "Build", "GPUs", "Price before VAT"] and "Wall draw (W)" in header
    for point in report.chart:  # the report's chart: the same price and speed for the same rank
        row = [c.value for c in ws[point.rank + 1]]
        assert row[0] == point.rank and row[3] == pytest.approx(point.price, abs=CENT)
        assert row[5] == pytest.approx(point.throughput, abs=0.05)
    watts = [ws.cell(row=i, column=9).value for i in range(2, ws.max_row + 1)]
    assert all(w > 100 for w in watts)  # a server draws more than 100 W at the wall


def test_assumptions_sheet(cases):
    r, report = cases["7b"]
    ws = workbook(cases["7b"]).worksheets[2]
    rows = {ws[f"A{i}"].value: ws[f"B{i}"].value for i in range(2, ws.max_row + 1)}
    w = report.workload
    assert rows["Engine"] == w.engine_name and rows["Launch command"] == report.recommended.launch
    assert w.precision in rows["Precision"] and str(w.users) == rows["Concurrent users"]
    assert f"{w.prompt_tokens + w.new_tokens:,}" in rows["Context per user"]
    assert rows["Price ages judged on"] == DAY and rows["Catalog"] == "the bundled data/ folder"
    assert "Command" in rows and "Tool version" in rows


def test_chinese_workbook(cases):
    wb = workbook(cases["lora-cny-vat"], "zh")
    zh = messages("zh")
    assert wb.sheetnames == [zh["xlsx.sheet.bom"], zh["xlsx.sheet.options"], zh["xlsx.sheet.assumptions"]]
    ws = wb.worksheets[0]
    assert ws["A1"].value == zh["title"] and '"¥"' in ws[f"E{blocks(ws, 'zh')[0] + 1}"].number_format


def test_a_name_that_looks_like_a_formula_stays_text(cases):
    r, report = cases["7b"]
    bom = report.recommended.bom
    evil = '=HYPERLINK("http://x","y")'
    lines = (bom.lines[0].model_copy(update={"name": evil}), *bom.lines[1:])
    hostile = report.model_copy(
        update={"recommended": report.recommended.model_copy(update={"bom": bom.model_copy(update={"lines": lines})})}
    )
    wb = openpyxl.load_workbook(io.BytesIO(render_file(hostile, "xlsx", "en", option_rows(r, report.fx_rate))))
    ws = wb.worksheets[0]
    cell = ws[f"B{blocks(ws)[0] + 1}"]
    assert cell.value == evil and cell.data_type == "s"


def test_cli_writes_xlsx(priced_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "quote.bin"
    args = ["report", "--data", str(priced_dir), "--as-of", DAY, "--format", "xlsx", "--out", str(out)]
    code, stdout, err = run_main(args, capsys)
    assert code == 0 and not err and stdout.startswith(f"wrote {out} (xlsx, en)")
    assert [p.name for p in tmp_path.iterdir()] == ["quote.bin"]
    assert openpyxl.load_workbook(io.BytesIO(out.read_bytes())).sheetnames == ["BOM", "Options", "Assumptions"]
    rec = tmp_path / "build.xlsx"
    code, _, err = run_main(["recommend", "--data", str(priced_dir), "--as-of", DAY, "--report", str(rec)], capsys)
    assert code == 0 and err.startswith(f"wrote {rec} (xlsx, en)") and openpyxl.load_workbook(rec).sheetnames


def test_training_options_sheet_shows_trained_tokens(cases):
    r, report = cases["lora-cny-vat"]
    ws = workbook(cases["lora-cny-vat"]).worksheets[1]
    header = [c.value for c in ws[1]]
    assert "Trained tokens/s" in header and "Decode per user (tok/s)" not in header
    column = header.index("Trained tokens/s") + 1
    assert ws.cell(row=2, column=column).value == pytest.approx(r.options[0].estimate.throughput_tokens_per_s, abs=0.05)
    assert ws.cell(row=2, column=header.index("Price before VAT") + 1).value == pytest.approx(
        report.chart[0].price, abs=CENT
    )


def test_libreoffice_computes_the_same_totals(tmp_path: Path, capsys):
    """Where LibreOffice is installed (not required: the evaluator above is the CI check), a real spreadsheet opens
    the workbook of a build with unpriced parts and VAT, computes every formula, and shows the JSON's figures."""
    import csv
    import shutil
    import subprocess

    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice not installed")
    args = [
        "report",
        "--data",
        str(Path(__file__).parent / "catalog"),
        "--model",
        "7b",
        "--as-of",
        DAY,
        "--vat",
        "0.13",
    ]
    for ext in ("xlsx", "json"):
        code, _, err = run_main([*args, "--out", str(tmp_path / f"r.{ext}")], capsys)
        assert code == 0, err
    profile = (tmp_path / "lo-profile").as_uri()
    subprocess.run(
        [soffice, "--headless", f"-env:UserInstallation={profile}", "--convert-to", "csv", "--outdir", str(tmp_path)]
        + [str(tmp_path / "r.xlsx")],
        capture_output=True,
        timeout=180,
        check=True,
    )
    rows = list(csv.reader((tmp_path / "r.csv").read_text(encoding="utf-8", errors="replace").splitlines()))
    shown: dict[str, list[str]] = {}
    for row in rows:
        if row and row[0]:
            shown.setdefault(row[0], []).append(row[4])
    builds = [json.loads((tmp_path / "r.json").read_text())[k]["bom"] for k in ("recommended", "runner_up")]
    assert builds[0]["unpriced"]  # the case has a part without a price
    for i, bom in enumerate(builds):
        assert float(shown["Priced subtotal (a lower bound)"][i]) == pytest.approx(bom["priced_subtotal"], abs=CENT)
        assert float(shown["VAT"][i]) == pytest.approx(bom["vat"], abs=CENT)
        for label, key in (("Grand total", "total"), ("Total with VAT", "total_with_vat")):
            cell = shown[label][i]
            assert (cell == "") if bom[key] is None else float(cell) == pytest.approx(bom[key], abs=CENT)


@pytest.mark.parametrize(("name", "lang"), [("distill", "en"), ("grpo", "zh")])
def test_plan_sheet_cost_per_run_formula_gives_the_json(cases, name, lang):
    """The plan sheet's cost per run (a distillation's every phase, or 1,000 RL steps) evaluated from its inputs
    equals the JSON's; the sheet carries the plan's tables."""
    wb = workbook(cases[name], lang)
    m = messages(lang)
    ws = wb[m["xlsx.sheet.plan"]]
    out = json.loads(render(cases[name][1], "json", lang))
    own = out["recommended"]["ownership"]
    label = m["tco.steps_per_run" if name == "grpo" else "tco.per_run"]
    rows = {ws[f"A{r}"].value: r for r in range(1, ws.max_row + 1)}
    s = Sheet(ws)
    assert s.value(f"B{rows[label]}") == pytest.approx(own["cost_per_run"], abs=1e-4)
    assert s.value(f"B{rows[m['tco.energy_per_run']]}") == pytest.approx(own["energy_per_run"], abs=1e-4)
    headings = [m["h.phases"], m["h.modes"]] if name == "distill" else [m["h.roles"], m["h.step"]]
    assert all(h in rows for h in headings)


def test_inference_workbook_has_no_plan_sheet(cases):
    assert messages("en")["xlsx.sheet.plan"] not in workbook(cases["7b"]).sheetnames


CLASS_REQUESTS = {  # a CPU-only server and an edge box (report/procurement_class.py), on the bundled data/
    "cpu": RecommendRequest(model="deepseek-r1-distill-qwen-7b", max_gpus=0, as_of=DAY),
    "edge": RecommendRequest(model="qwen2.5-1.5b", build_class="edge", as_of=DAY),
}


@pytest.mark.parametrize(("cls", "lang"), [("cpu", "en"), ("edge", "zh")])
def test_class_report_formulas_give_the_json_totals(catalog, cls, lang):
    """The class workbook's BOM formulas, evaluated, equal the class report's JSON bill to the cent (every line, each
    kind's subtotal, the priced subtotal and the grand total), and the grand total is the build's price; the
    assumptions sheet carries the tool version, and a buyer's edit of a quantity moves the total."""
    from sizing.report import build_class_report, class_file, render_class

    rep = build_class_report(recommend(catalog, CLASS_REQUESTS[cls]), ReportOptions(date=DAY))
    wb = openpyxl.load_workbook(io.BytesIO(class_file(rep, "xlsx", lang)))
    ws, m = wb.worksheets[0], messages(lang)
    out = json.loads(render_class(rep, lang, "json"))
    builds = [b for b in (out["recommended"], out["runner_up"]) if b]
    headers = blocks(ws, lang)
    assert len(headers) == len(builds) >= 1
    for header, b in zip(headers, builds, strict=True):
        bom, got = b["bom"], read_block(ws, header, b["bom"], lang)
        want = [(ln["name"], ln["quantity"], ln["unit_price"], ln["line_total"]) for ln in bom["lines"]]
        assert sorted(got["lines"], key=str) == sorted(want, key=str)
        for k in bom["by_kind"]:
            kind = m.get(f"kind.{k['kind']}", k["kind"])
            assert got["subtotals"][m["bom.subtotal_kind"].format(kind=kind)] == pytest.approx(k["amount"], abs=CENT)
        assert got["priced"] == pytest.approx(bom["priced_subtotal"], abs=CENT)
        assert got["total"] == pytest.approx(bom["total"], abs=CENT) and bom["total"] is not None
        assert got["total"] == pytest.approx(b["total"], abs=CENT * len(bom["lines"]))  # unrounded price, per line
    values = [wb.worksheets[1].cell(row=i, column=2).value for i in range(1, wb.worksheets[1].max_row + 1)]
    assert f"sizing {rep.version}" in values and m["xlsx.sheet.assumptions"] == wb.worksheets[1].title
    first = headers[0] + 1  # a buyer orders two of the first line: the grand total grows by its line total
    before = read_block(ws, headers[0], builds[0]["bom"], lang)
    ws[f"C{first}"] = 2 * ws[f"C{first}"].value
    after = read_block(ws, headers[0], builds[0]["bom"], lang)
    assert after["total"] == pytest.approx(before["total"] + before["lines"][0][3], abs=CENT)
