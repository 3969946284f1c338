"""`sizing report` and the build classes (issue 14): --build-class hybrid writes the GPU server's report with what
stays in host RAM; CPU-only and edge answers (ClassOption, no GPU server) are refused in one line with the best
build named and no file written, until the report has sections for them."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import run_main

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


@pytest.mark.parametrize(
    ("args", "cls"),
    [
        (["--model", "deepseek-r1-distill-qwen-7b", "--max-gpus", "0"], "cpu"),
        (["--model", "qwen2.5-1.5b", "--build-class", "edge"], "edge"),
    ],
)
def test_class_only_answers_are_refused_in_one_line(tmp_path: Path, capsys, args, cls):
    out = tmp_path / "r.md"
    code, stdout, err = run_main(["report", *args, "-o", str(out)], capsys)
    assert code == 3 and not out.exists()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"the best {cls} build is" in lines[0] and "sizing recommend" in lines[0]


def test_bad_build_class_is_bad_input(tmp_path: Path, capsys):
    code, _, err = run_main(
        ["report", "--model", "7b", "--build-class", "gpu-ish", "-o", str(tmp_path / "r.md")], capsys
    )
    assert code == 2 and "--build-class gpu-ish is not a build class" in err
