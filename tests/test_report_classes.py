"""`sizing report` and the build classes (issue 14): --build-class hybrid writes the GPU server's report with what
stays in host RAM; CPU-only and edge answers (ClassOption, no GPU server) get their own Markdown report
(report/procurement_class.py): host RAM and channels or the box's pool, the box's power and noise, ownership."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import run_main

from sizing.report import ReportOptions, build_class_report, render_class
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


@pytest.mark.parametrize(
    ("args", "cls"),
    [
        (["--model", "deepseek-r1-distill-qwen-7b", "--max-gpus", "0"], "cpu"),
        (["--model", "qwen2.5-1.5b", "--build-class", "edge"], "edge"),
    ],
)
def test_cli_writes_class_reports_in_markdown_only(tmp_path: Path, capsys, args, cls):
    out = tmp_path / "r.md"
    code, stdout, err = run_main(["report", *args, "-o", str(out)], capsys)
    assert code == 0, err
    assert f"{cls} build" in stdout and out.read_text(encoding="utf-8").startswith("# Procurement report")
    html = tmp_path / "r.html"
    code, _, err = run_main(["report", *args, "-o", str(html)], capsys)
    assert code == 2 and not html.exists()
    assert len(err.strip().splitlines()) == 1 and "Markdown for now" in err


def test_bad_build_class_is_bad_input(tmp_path: Path, capsys):
    code, _, err = run_main(
        ["report", "--model", "7b", "--build-class", "gpu-ish", "-o", str(tmp_path / "r.md")], capsys
    )
    assert code == 2 and "--build-class gpu-ish is not a build class" in err
