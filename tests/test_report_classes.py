"""`sizing report` and the build classes (issue 14): --build-class hybrid writes the GPU server's report with what
stays in host RAM; CPU-only and edge answers (ClassOption, no GPU server) get their own report
(report/procurement_class.py) in every format and language: host RAM and channels or the box's pool, the box's power
and noise, ownership."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from cli_run import run_main

import sizing
from sizing import catalog as cat
from sizing.report import ReportOptions, build_class_report, procurement_pdf, render_class
from sizing.report.procurement_format import messages
from sizing.scenarios import recommend
from sizing.specs import RecommendRequest

GOLDEN = Path(__file__).parent / "golden"
DAY = "2026-06-01"
HYBRID = ["--model", "llama-3-70b", "--precision", "q4_k_m", "--build-class", "hybrid"]


@pytest.mark.parametrize(("lang", "ext", "words"), [("en", "md", "Kept in host RAM"), ("zh", "html", "主机内存")])
def test_hybrid_report_shows_host_ram(tmp_path: Path, capsys, lang, ext, words):
    out = tmp_path / f"hybrid.{ext}"
    code, _, err = run_main(["report", *HYBRID, "--lang", lang, "-o", str(out)], capsys)
    assert code == 0, err
    text = out.read_text()
    assert words in text and "GiB" in text
    assert lang != "en" or "--offload layers" in text  # the hybrid reasons: layers on the GPU, the rest in RAM


def test_gpu_report_has_no_host_ram_line(tmp_path: Path, capsys):
    out = tmp_path / "gpu.md"
    code, _, err = run_main(["report", "--model", "qwen2.5-7b", "--gpu", "rtx-4090", "-o", str(out)], capsys)
    assert code == 0, err
    assert "Kept in host RAM" not in out.read_text()


CLASS_CASES = {
    "cpu": {"model": "deepseek-r1-distill-qwen-7b", "max_gpus": 0},
    "edge": {"model": "qwen2.5-1.5b", "build_class": "edge"},
}


@pytest.mark.parametrize("cls", sorted(CLASS_CASES))
def test_class_report_golden(catalog, request, cls):
    """The CPU-only and edge reports in Markdown, English, on the bundled data/ (systems.csv and cpu_efficiency.csv
    are not in the frozen snapshot), dated so the golden does not move with the calendar; regenerated only with
    --regen-golden."""
    r = recommend(catalog, RecommendRequest(**CLASS_CASES[cls]))
    assert not r.options and r.classes and r.classes[0].build_class == cls
    text = render_class(build_class_report(r, ReportOptions(date=DAY)), "en")
    path = GOLDEN / f"procurement-{cls}-en.md"
    if request.config.getoption("--regen-golden"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}; run pytest --regen-golden and review it"
    assert path.read_text(encoding="utf-8") == text, f"{path.name} changed; review, then pytest --regen-golden"


def test_class_report_sections(catalog):
    """A CPU-only report shows host RAM and its channels, not a GPU memory chart; an edge report the box's pool,
    its own power; both the bill's total is the sum of its priced lines, and the cost of ownership adds the
    energy of the box's draw."""
    cpu = build_class_report(recommend(catalog, RecommendRequest(**CLASS_CASES["cpu"])), ReportOptions(date=DAY))
    b = cpu.recommended
    assert b.build_class == "cpu" and b.channels_populated == b.channels_total > 0 and b.need_bytes < b.memory_bytes
    text = render_class(cpu, "en")
    assert "Host RAM" in text and "memory channels populated" in text and "per GPU" not in text
    assert b.total == pytest.approx(sum(ln.line_total or 0.0 for ln in b.lines))
    assert b.tco_total == pytest.approx(b.hardware + b.energy_cost_year * cpu.years)
    assert b.energy_kwh_year == pytest.approx(b.power_w / 1000 * 8760 * cpu.utilisation)
    edge = build_class_report(recommend(catalog, RecommendRequest(**CLASS_CASES["edge"])), ReportOptions(date=DAY))
    e = edge.recommended
    assert e.build_class == "edge" and "The box's memory" in render_class(edge, "en")
    assert "设备内存" in render_class(edge, "zh")


@pytest.mark.parametrize(("cls", "lang"), [(c, lang) for c in sorted(CLASS_CASES) for lang in ("en", "zh")])
def test_class_report_html_golden(catalog, request, cls, lang):
    """The CPU-only and edge reports as HTML in English and Chinese, on the bundled data/, dated; regenerated only
    with --regen-golden."""
    r = recommend(catalog, RecommendRequest(**CLASS_CASES[cls]))
    text = render_class(build_class_report(r, ReportOptions(date=DAY)), lang, "html")
    path = GOLDEN / f"procurement-{cls}-{lang}.html"
    if request.config.getoption("--regen-golden"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}; run pytest --regen-golden and review it"
    assert path.read_text(encoding="utf-8") == text, f"{path.name} changed; review, then pytest --regen-golden"


def test_class_html_has_the_markdown_sections(catalog):
    """The HTML shows what the Markdown shows: the BOM table with the total of its priced lines, the memory, speed,
    power and ownership sections; one self-contained page (no scripts, no external assets)."""
    rep = build_class_report(recommend(catalog, RecommendRequest(**CLASS_CASES["cpu"])), ReportOptions(date=DAY))
    html, md = render_class(rep, "en", "html"), render_class(rep, "en")
    b = rep.recommended
    assert b.total is not None and b.bom.total == pytest.approx(b.total, abs=0.01 * len(b.lines))
    assert '<table class="bom">' in html and "Grand total" in html and f"${b.bom.total:,.2f}" in html
    for key in ("Host RAM", "memory channels populated", "Decode per user", "Draw at full load", "per million"):
        assert key in md and key in html, key
    assert "<script" not in html.lower() and "http" not in html.split("<body>")[0]


@pytest.fixture(scope="module")
def hostile_edge(tmp_path_factory) -> Path:
    """The bundled data/ with the edge case's model carrying script tags in an alias and its name."""
    folder = tmp_path_factory.mktemp("hostile-edge") / "data"
    shutil.copytree(Path(__file__).resolve().parent.parent / "data", folder)
    path = folder / "models.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["id"] == CLASS_CASES["edge"]["model"]:
            row["aliases"] += ";<script>alert(1)</script>"
            row["name"] = 'Qwen <script>alert("x")</script> 1.5B'
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return folder


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_script_in_a_model_alias_renders_inert_in_the_class_html(hostile_edge, lang):
    req = RecommendRequest(model="<script>alert(1)</script>", build_class="edge")
    rep = build_class_report(recommend(cat.load(hostile_edge), req), ReportOptions(date=DAY))
    assert "<script>" in rep.model_name
    html = render_class(rep, lang, "html")
    assert "<script" not in html.lower() and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    md = render_class(rep, lang)
    assert not re.search(r"(?<!\\)<script", md) and r"\<script\>" in md


CLI_CASES = {
    "cpu": ["--model", "deepseek-r1-distill-qwen-7b", "--max-gpus", "0"],
    "edge": ["--model", "qwen2.5-1.5b", "--build-class", "edge"],
}


@pytest.mark.parametrize(
    ("fmt", "cls", "lang"),
    [("md", "cpu", "en"), ("html", "edge", "zh"), ("json", "cpu", "zh"), ("xlsx", "edge", "en"), ("pdf", "cpu", "zh")],
)
def test_cli_writes_class_reports_in_every_format(tmp_path: Path, capsys, monkeypatch, fmt, cls, lang):
    if fmt == "pdf" and procurement_pdf.find_chromium() is None:
        pytest.skip("Chromium not installed (apt-get install chromium)")
    out = tmp_path / f"r.{fmt}"
    # the report records the command line when the program is `sizing` (report_cmd.command_line), not under pytest
    monkeypatch.setattr("sys.argv", ["sizing", "report", *CLI_CASES[cls]])
    code, stdout, err = run_main(["report", *CLI_CASES[cls], "--lang", lang, "-o", str(out)], capsys)
    assert code == 0, err
    assert f"({fmt}, {lang}, {cls} build)" in stdout
    title = messages(lang)["cls.title"].format(cls=messages(lang)[f"cls.kind.{cls}"])
    data = out.read_bytes()
    if fmt == "md":
        assert data.decode("utf-8").startswith(f"# {title}")
    elif fmt == "html":
        text = data.decode("utf-8")
        assert text.startswith("<!DOCTYPE html>") and f"<h1>{title}</h1>" in text and '<table class="bom">' in text
    elif fmt == "json":
        doc = json.loads(data)
        assert doc["lang"] == lang and doc["tool"] == "sizing" and doc["version"] == sizing.__version__
        assert doc["date"] and doc["command"].startswith("sizing") and doc["recommended"]["build_class"] == cls
        assert doc["recommended"]["bom"]["total"] == pytest.approx(doc["recommended"]["total"], abs=0.05)
    elif fmt == "xlsx":
        openpyxl = pytest.importorskip("openpyxl")
        wb = openpyxl.load_workbook(io.BytesIO(data))
        assert [ws.title for ws in wb.worksheets] == [
            messages(lang)["xlsx.sheet.bom"],
            messages(lang)["xlsx.sheet.assumptions"],
        ]
        assert wb.worksheets[0]["A1"].value == title
    else:
        assert data.startswith(b"%PDF-") and len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left behind


def test_class_report_to_an_unwritable_folder_is_one_line(tmp_path: Path, capsys):
    out = tmp_path / "missing" / "r.html"
    code, _, err = run_main(["report", *CLI_CASES["edge"], "-o", str(out)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "cannot write" in err and not out.exists()


def test_bad_build_class_is_bad_input(tmp_path: Path, capsys):
    code, _, err = run_main(
        ["report", "--model", "7b", "--build-class", "gpu-ish", "-o", str(tmp_path / "r.md")], capsys
    )
    assert code == 2 and "--build-class gpu-ish is not a build class" in err
