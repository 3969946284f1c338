"""`sizing validate --report FILE`: the acceptance report rendered from a fixed saved result (a real `validate --quick
--save` run on a 2-core CPU against tests/fixtures/bench/recommend_llama-3-70b_h100.json), goldens in Markdown and
HTML, English and Chinese (regenerated only with --regen-golden), and the CLI's handling of the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sizing import report
from sizing.report.acceptance import BUILD_CHECKS
from sizing.report.procurement_format import messages
from sizing.specs import SizingError

FIX = Path(__file__).parent / "fixtures" / "bench"
GOLDEN = Path(__file__).parent / "golden"
SAVED = FIX / "validate_cpu_quick.json"


@pytest.fixture(scope="module")
def saved() -> dict:
    return json.loads(SAVED.read_text(encoding="utf-8"))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_acceptance_report_golden(saved, request, fmt, lang):
    text = report.render_acceptance(saved, fmt, lang)
    path = GOLDEN / f"acceptance-cpu-{lang}.{fmt}"
    if request.config.getoption("--regen-golden"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}; run pytest --regen-golden and review it"
    assert path.read_text(encoding="utf-8") == text, f"{path.name} changed; review, then pytest --regen-golden"


def test_the_report_has_every_figure_its_verdict_and_the_build_check(saved):
    text = report.render_acceptance(saved, "md", "en")
    for m in saved["measurements"]:
        assert f"| {m['name']} |" in text
    assert "falls short" in text and not saved["ok"]  # this 2-core CPU is not the saved 8 x H100 build
    measured_part, build_part = text.split("## Against the saved build")
    assert "| gpu_model |" in build_part and "| gpu_model |" not in measured_part
    assert "| matmul_f32 |" in measured_part
    fails = sum(1 for m in saved["measurements"] if m["ok"] is False)
    assert text.count("| FAIL |") == fails
    ratio = next(m for m in saved["measurements"] if m["name"] == "cpu_cores")["ratio"]
    assert f"| {ratio * 100:,.0f}% |" in text


def test_a_passing_validation_says_so_and_values_are_escaped():
    result = {
        "device": {"cpu": "Test <CPU> | x", "gpus": []},
        "measurements": [
            {
                "name": "matmul_f32",
                "measured": 2e11,
                "estimated": 2e11,
                "unit": "FLOP/s",
                "ratio": 1.0,
                "ok": True,
                "basis": "a | b",
            }
        ],
        "ok": True,
        "notes": ["<script>"],
    }
    md = report.render_acceptance(result, "md", "en")
    assert "delivers every figure" in md and "a \\| b" in md and "Test \\<CPU\\> \\| x" in md
    assert "200.00 GFLOP/s" in md and "| 100% | pass |" in md
    html = report.render_acceptance(result, "html", "zh")
    assert "&lt;script&gt;" in html and "<script>" not in html and "通过" in html


def test_every_report_word_is_in_both_languages():
    for key in [k for k in messages("en") if k.startswith("acc.")]:
        assert key in messages("zh"), key
    assert {k for k in messages("zh") if k.startswith("acc.")} == {k for k in messages("en") if k.startswith("acc.")}
    assert "serve_decode" in BUILD_CHECKS and "matmul_f32" not in BUILD_CHECKS


@pytest.mark.parametrize("bad", [{}, {"device": {}, "ok": True}, {"device": {}, "ok": True, "measurements": [{}]}])
def test_what_is_not_a_validation_is_a_one_line_error(bad):
    with pytest.raises(SizingError, match="not a `sizing validate"):
        report.render_acceptance(bad, "md")


@pytest.mark.parametrize("name", ["report.pdf", "report.xlsx", "report", "report.json"])
def test_only_markdown_and_html_are_acceptance_formats(tmp_path, name):
    with pytest.raises(SizingError, match=r"\.md or \.html"):
        report.acceptance_format(tmp_path / name)
    assert (
        report.acceptance_format(tmp_path / "a.MD") == "md" and report.acceptance_format(tmp_path / "a.htm") == "html"
    )


def test_cli_rejects_a_bad_report_file_before_measuring(tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    from cli_run import run_main

    from sizing.bench import validate as v

    def never(*_a, **_k):
        raise AssertionError("measured before checking --report")

    monkeypatch.setattr(v, "validate", never)
    for args in (["--report", str(tmp_path / "r.pdf")], ["--report", str(tmp_path / "r.md"), "--lang", "fr"]):
        code, _, err = run_main(["validate", "--quick", *args], capsys)
        assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_cli_writes_the_report_and_exits_by_the_verdict(tmp_path, capsys, monkeypatch, lang):
    pytest.importorskip("torch")
    from cli_run import run_main

    from sizing.bench import validate as v
    from sizing.bench.build_check import Check

    short = v.Validation(
        device={"cpu": "x", "gpus": []}, checks=(Check(name="a", measured=1.0, estimated=2.0, ratio=0.5, ok=False),)
    )
    monkeypatch.setattr(v, "validate", lambda *_a, **_k: short)
    out = tmp_path / "acceptance.html"
    code, _, err = run_main(["validate", "--quick", "--report", str(out), "--lang", lang], capsys)
    assert code == 1 and f"wrote {out} (html, {lang})" in err
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and ("不通过" if lang == "zh" else "FAIL") in text
    assert not list(tmp_path.glob("*.tmp"))
    code, _, err = run_main(["validate", "--quick", "--report", str(tmp_path / "missing" / "a.md")], capsys)
    assert code == 2 and "does not exist" in err and not (tmp_path / "missing").exists()
    from sizing.report import procurement_render

    def full_disk(*_a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(procurement_render.os, "replace", full_disk)
    code, _, err = run_main(["validate", "--quick", "--report", str(tmp_path / "b.md")], capsys)
    assert code == 2 and "cannot write" in err and "No space" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acceptance.html"]  # no half-written file, no temp file


def test_progress_keeps_each_finished_step_with_its_time(capsys):
    with report.validate_progress("sizing validate") as say:
        say("matmul")
        say("decoder")
    err = capsys.readouterr().err
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    assert [ln.split(":")[0] for ln in lines] == ["matmul", "decoder"] and all(ln.endswith(" s") for ln in lines)
