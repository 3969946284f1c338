"""`sizing estimate` with the host as a device: the options, the text and JSON they print, scenario-file rows with
the host columns, and bad host input as one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest
from cli_run import run_main

from sizing.specs import HostBound

CPU_ONLY = ["estimate", "--model", "llama-3-8b", "--precision", "q4_k_m", "--gpus", "0", "--cpu", "epyc-9354"]
KT = [
    "estimate",
    "--model",
    "deepseek-v3",
    "--precision",
    "q4_k_m",
    "--engine",
    "ktransformers",
    "--gpu",
    "rtx-4090-d",
    "--cpu",
    "xeon-gold-6454s",
    "--sockets",
    "2",
    "--memory",
    "ddr5-4800-rdimm-64gb",
    "--dimms",
    "16",
]


def test_help_names_the_host_options(capsys):
    code, out, _ = run_main(["estimate", "--help"], capsys)
    assert code == 0
    for option in ("--cpu", "--sockets", "--memory", "--dimms", "--offload", "--gpu-layers", "--threads"):
        assert option in out


def test_cpu_only_json(capsys):
    code, out, err = run_main([*CPU_ONLY, "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["memory"]["host_bytes"] > 4 * 2**30 and d["memory"]["per_gpu_bytes"] == 0
    assert d["assumptions"]["gpu"] is None and d["assumptions"]["n_gpus"] == 0
    assert d["assumptions"]["bound"] in get_args(HostBound)
    assert d["assumptions"]["host"]["offload"] == "cpu" and d["assumptions"]["host"]["n_dimms"] == 12
    assert set(d["speed"]) >= {"decode_tokens_per_s", "prefill_tokens_per_s", "decode_bound"}  # speed keeps its keys


def test_hybrid_text_names_the_host_and_the_bound(capsys):
    code, out, err = run_main(KT, capsys)
    assert code == 0, err
    assert "Host: 2 x Intel Xeon Gold 6454S, 16 x DDR5-4800" in out and "routed experts in RAM" in out
    assert "decode bound: host_memory" in out and "RAM needed" in out and "-> fits" in out
    assert "copies the host weights to each of the 2 sockets" in out


def test_cpu_only_text_has_no_gpu_memory_line(capsys):
    code, out, _ = run_main(CPU_ONLY, capsys)
    assert code == 0 and "on the CPU alone" in out and "Memory per GPU" not in out


def test_gpu_only_json_has_no_host_keys(capsys):
    code, out, _ = run_main(["estimate", "--model", "llama-3-8b", "--json"], capsys)
    d = json.loads(out)
    assert code == 0 and "host_bytes" not in d["memory"] and "host" not in d["assumptions"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--offload", "bogus"], "--offload must be"),
        (["--dimms", "0"], "--dimms must be at least 1"),
        (["--sockets", "0"], "--sockets must be at least 1"),
        (["--gpu-layers", "-1"], "--gpu-layers must be at least 0"),
        (["--cpu", "xeon-9999"], "unknown CPU"),
        (["--memory", "ddr9"], "unknown memory (DIMM)"),
    ],
)
def test_bad_host_input_is_one_line_exit_2(args, message, capsys):
    code, _, err = run_main([*CPU_ONLY, *args], capsys)
    assert code == 2 and err.startswith("error: ") and message in err and len(err.splitlines()) == 1


def test_scenario_rows_with_host_columns(tmp_path: Path, capsys):
    path = tmp_path / "s.csv"
    path.write_text(
        "model,precision,engine,gpu,n_gpus,cpu,n_sockets,memory,n_dimms,offload,gpu_layers,threads\n"
        "llama-3-8b,q4_k_m,,,0,epyc-9354,,,,,,\n"
        "llama-3-70b,q4_k_m,llama.cpp,rtx-4090,1,epyc-9354,1,ddr5-4800-rdimm-32gb,12,layers,40,\n"
        "deepseek-r1,q4_k_m,ktransformers,rtx-4090,1,xeon-gold-6454s,2,ddr5-4800-rdimm-64gb,16,experts,,64\n"
        "llama-3-8b,q4_k_m,,,0,,,,,,,\n"
        "7b,bf16,,,,,,,,optimizer,,\n"
    )
    code, out, _ = run_main(["estimate", "--scenarios", str(path)], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 5
    assert lines[0]["assumptions"]["host"]["offload"] == "cpu"
    assert lines[1]["assumptions"]["host"]["gpu_layers"] == 40 and lines[1]["memory"]["ram_bytes"] == 12 * 32 * 2**30
    assert lines[2]["assumptions"]["host"]["threads"] == 64 and lines[2]["assumptions"]["bound"] == "host_memory"
    assert "line 5:" in lines[3]["error"] and "--cpu" in lines[3]["error"]
    assert "line 6:" in lines[4]["error"] and "training offload" in lines[4]["error"]
