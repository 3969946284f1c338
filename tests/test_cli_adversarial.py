"""Hostile and careless command lines: every bad value gets exit 2 (3 only for a valid request no build passes),
exactly one `error:` line on stderr, no traceback, and no output file or folder left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NUMBERS = ["nan", "inf", "-inf", "1e400", "-1", "0", "1" + "0" * 30, "abc", "", "1e3", "4,096", "0x10", " 7 "]
ESTIMATE_INTS = ["--batch", "--gpus", "--prompt-tokens", "--new-tokens"]
RECOMMEND_NUMBERS = ["--users", "--context", "--budget", "--target-tokens-per-s", "--max-gpus"]
NAMES = ["--model", "--gpu", "--engine", "--precision", "--kv-precision"]
RECOMMEND_NAMES = ["--gpu", "--exclude", "--cpu", "--circuit", "--currency", "--form-factor", "--objective"]


def assert_clean(code: int, err: str, allowed: tuple[int, ...] = (0, 2)) -> None:
    assert code in allowed, (code, err)
    assert "Traceback" not in err
    if code:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err


@pytest.mark.parametrize("option", ESTIMATE_INTS)
@pytest.mark.parametrize("value", NUMBERS)
def test_estimate_numbers(option, value, capsys):
    code, _, err = run_main(["estimate", option, value], capsys)
    assert_clean(code, err)
    if value in ("nan", "inf", "-inf", "1e400", "-1", "abc", "", "1e3", "4,096", "0x10", "1" + "0" * 30):
        assert code == 2  # never read as some other number


@pytest.mark.parametrize("option", RECOMMEND_NUMBERS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "-1", "0", "1" + "0" * 30, "abc", ""])
def test_recommend_numbers(option, value, capsys):
    code, _, err = run_main(["recommend", option, value], capsys)
    huge_but_finite = value.startswith("1000") and option in ("--budget", "--target-tokens-per-s")
    cpu_only = option == "--max-gpus" and value == "0"  # --max-gpus 0 asks for CPU-only builds (issue 14)
    assert_clean(code, err, (0, 3) if huge_but_finite or cpu_only else (2,))  # a $1e30 budget is a budget


CONTROL = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40).map(
    lambda s: s + "\n" + "error: forged"
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(NAMES), value=CONTROL)
def test_estimate_names_with_newlines_stay_one_line(option, value, capsys):
    code, _, err = run_main(["estimate", option, value], capsys)
    assert_clean(code, err, (2,))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(RECOMMEND_NAMES), value=CONTROL)
def test_recommend_names_with_newlines_stay_one_line(option, value, capsys):
    code, _, err = run_main(["recommend", option, value], capsys)
    assert_clean(code, err, (2,))


BAD = [
    (["recommend", "--circuit", ""], "--circuit must not be empty"),
    (["recommend", "--cpu", ""], "see data/cpus.csv"),
    (["estimate", "--precision", "exl2"], "needs its bits per weight"),
    (["estimate", "--kv-precision", "gptq-int4"], "cannot keep its KV cache in gptq-int4"),
    (["estimate", "--engine", "llama.cpp", "--precision", "q4_k_m", "--kv-precision", "q4_k_m"], "q8_0"),
    (["recommend", "--context", "8192", "--prompt-tokens", "100"], "give one of them"),
    (["recommend", "--batch", "-3"], "--users (--batch)"),
    (["estimate", "--model", "a\udcff"], "--model holds bytes that are not text"),
    (["catalog", "check", "--data", "/etc/hostname"], "is a file, not a folder"),
    (["estimate", "--model", "x" * 300], "(300 characters) is no catalog name or folder"),
    (["bench", "--compare", "/etc/hostname"], "pass a file that `sizing bench --out` wrote"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a)[:40] for a, _ in BAD])
def test_named_bad_inputs(args, message, capsys):
    code, _, err = run_main(args, capsys)
    assert_clean(code, err, (2,))
    assert message in err


def test_names_ignore_case_like_everywhere_else(capsys):
    code, out, err = run_main(["estimate", "--task", "INFERENCE", "--kv-precision", "FP8"], capsys)
    assert code == 0 and "KV cache fp8" in out, err


def test_bench_rejects_a_bad_request_before_making_its_folder(tmp_path: Path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "new-folder"
    code, _, err = run_main(["bench", "--out", str(out), "--batch", "0", "--quick"], capsys)
    assert_clean(code, err, (2,))
    assert not out.exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_one_line():
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "sizing", "estimate", "--json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()] and "cannot write the output" in done.stderr
