"""`sizing report` and `sizing recommend --report`: the file is written whole or not at all, bad input is one line
and exit 2, a request no build passes is exit 3 with no file."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from cli_run import run_main
from typer.testing import CliRunner

from sizing.cli import app
from sizing.report import procurement_render

DAY = ["--as-of", "2026-06-01"]


def test_report_has_help():
    import typer.main

    cmd = typer.main.get_command(app).commands["report"]  # type: ignore[attr-defined]
    assert cmd.help and len(cmd.help.split()) >= 3
    for param in cmd.params:
        if param.param_type_name == "option" and param.name != "help":
            assert getattr(param, "help", None), f"report option {param.name} has no help"
    result = CliRunner().invoke(app, ["report", "--help"])
    assert result.exit_code == 0 and "--lang" in result.output and "--tariff" in result.output


@pytest.mark.parametrize(("name", "args"), [("r.md", ["--lang", "zh"]), ("r.html", []), ("r.json", ["--vat", "0.13"])])
def test_report_writes_the_file(priced_dir: Path, tmp_path: Path, capsys, name, args):
    out = tmp_path / name
    code, stdout, err = run_main(["report", "--data", str(priced_dir), *DAY, "--out", str(out), *args], capsys)
    assert code == 0 and not err and stdout.startswith(f"wrote {out}")
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left beside it
    text = out.read_text(encoding="utf-8")
    if name.endswith(".json"):
        data = json.loads(text)
        assert (
            data["vat"] == 0.13 and data["recommended"]["bom"]["total_with_vat"] > data["recommended"]["bom"]["total"]
        )
        assert data["data"] == str(priced_dir) and data["date"]
    elif name.endswith(".html"):
        assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "</html>" in text
    else:
        assert text.startswith("# 采购报告")


def test_training_report(priced_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "lora.md"
    args = ["report", "--task", "lora", "--model", "qwen2.5-7b", "--tokens", "200M", "--data", str(priced_dir)]
    code, _, err = run_main([*args, *DAY, "--out", str(out)], capsys)
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    assert "Cost per run" in text and "Trained tokens/s" in text


def test_recommend_report_option(priced_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "build.json"
    code, stdout, err = run_main(["recommend", "--data", str(priced_dir), *DAY, "--json", "--report", str(out)], capsys)
    assert code == 0 and json.loads(stdout)["options"]  # stdout stays the recommendation's JSON
    assert err.startswith(f"wrote {out}") and json.loads(out.read_text())["recommended"]["rank"] == 1


def test_unwritable_out_fails_in_one_line_and_leaves_nothing(priced_dir: Path, tmp_path: Path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_main(["report", "--data", str(priced_dir), "--out", str(blocker / "r.md")], capsys)
    assert code == 2 and err.startswith("error: cannot write") and err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_a_failed_rename_keeps_the_old_file(priced_dir: Path, tmp_path: Path, capsys, monkeypatch):
    out = tmp_path / "r.md"
    out.write_text("the old report")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(procurement_render.os, "replace", broken)
    code, _, err = run_main(["report", "--data", str(priced_dir), "--out", str(out)], capsys)
    assert code == 2 and "No space left on device" in err and err.count("\n") == 1
    assert out.read_text() == "the old report" and [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_written_file_is_readable_by_others(priced_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "r.md"
    assert run_main(["report", "--data", str(priced_dir), "--out", str(out)], capsys)[0] == 0
    assert os.stat(out).st_mode & 0o044 == 0o044 & ~_umask()  # as open() makes files, not mkstemp's 0600


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{dir}/r.md", "--format", "docx"], "unknown --format 'docx'"),
        (["--out", "{dir}/r.txt"], "cannot tell the format"),
        (["--out", "{dir}/r.md", "--lang", "fr"], "unknown --lang 'fr'"),
        (["--out", "{dir}/r.md", "--vat", "1.5"], "--vat must be less than 1"),
        (["--out", "{dir}/r.md", "--utilisation", "0"], "--utilisation must be more than 0"),
        (["--out", "{dir}/r.md", "--task", "distill"], "--task distill needs --teacher"),
        (["--out", "{dir}"], "is a folder"),
        (["--lang", "zh"], "--out"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path: Path, capsys, args, message):
    argv = ["report", *(a.replace("{dir}", str(tmp_path)) for a in args)]
    code, _, err = run_main(argv, capsys)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not list(tmp_path.iterdir())


def test_recommend_report_checks_the_format_before_searching(tmp_path: Path, capsys):
    code, out, err = run_main(["recommend", "--task", "grpo", "--report", str(tmp_path / "r.txt")], capsys)
    assert code == 2 and not out and "cannot tell the format" in err and not list(tmp_path.iterdir())


DISTILL = ["--task", "distill", "--teacher", "qwen2.5-7b", "--model", "qwen2.5-0.5b", "--tokens", "50M"]


def test_distill_report(priced_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "distill.json"
    code, stdout, err = run_main(["report", *DISTILL, "--data", str(priced_dir), *DAY, "--out", str(out)], capsys)
    assert code == 0 and not err and stdout.startswith(f"wrote {out}"), err
    data = json.loads(out.read_text(encoding="utf-8"))
    d = data["distill"]
    assert data["workload"]["task"] == "distill" and data["rl"] is None
    assert [p["name"] for p in d["phases"]] == ["teacher-labels", "student-training"]
    assert data["recommended"]["ownership"]["run_s"] == pytest.approx(d["total_time_s"])


def test_recommend_grpo_report(priced_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "grpo.md"
    args = ["recommend", "--task", "grpo", "--model", "qwen2.5-0.5b", "--data", str(priced_dir), *DAY]
    code, stdout, err = run_main([*args, "--report", str(out)], capsys)
    assert code == 0 and "GRPO" in stdout and f"wrote {out}" in err, err
    text = out.read_text(encoding="utf-8")
    assert "Roles and where they sit" in text and "Cost per 1,000 steps" in text
    assert [p.name for p in tmp_path.iterdir()] == ["grpo.md"]


def test_recommend_distill_report_in_chinese_html(priced_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "d.html"
    args = ["report", *DISTILL, "--lang", "zh", "--data", str(priced_dir), *DAY, "--out", str(out)]
    code, _, err = run_main(args, capsys)
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    assert "各阶段在此配置上的表现" in text and text.count("<svg") == 5


def test_no_build_is_exit_3_and_no_file(priced_dir: Path, tmp_path: Path, capsys):
    args = ["report", "--model", "405b", "--form-factor", "tower", "--data", str(priced_dir), "--out"]
    code, _, err = run_main([*args, str(tmp_path / "r.md")], capsys)
    assert code == 3 and "no report was written" in err and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "case",
    [
        ({"LANG": "zh_CN.UTF-8"}, [], "zh"),  # the locale, as estimate and recommend read it
        ({"LC_ALL": "zh_CN.UTF-8", "SIZING_LANG": "en"}, [], "en"),  # SIZING_LANG before the locale
        ({"SIZING_LANG": "zh", "LANG": "en_US.UTF-8"}, ["--lang", "en"], "en"),  # --lang before both
        ({"LANG": "C.UTF-8"}, [], "en"),
    ],
)
def test_report_language_follows_lang_then_sizing_lang_then_locale(
    priced_dir: Path, tmp_path: Path, capsys, monkeypatch, case
):
    env, args, lang = case
    for var in ("SIZING_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    out = tmp_path / "r.md"
    code, stdout, _ = run_main(["report", "--data", str(priced_dir), *DAY, "--out", str(out), *args], capsys)
    assert code == 0 and stdout.strip() == f"wrote {out} (md, {lang})"
    assert bool(re.search(r"[\u4e00-\u9fff]", out.read_text(encoding="utf-8"))) == (lang == "zh")
