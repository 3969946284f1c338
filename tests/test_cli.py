"""Every command: help exists, output, exit codes, bad input as one line with exit 2 and no traceback."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import run_main
from typer.testing import CliRunner

from sizing.cli import app

runner = CliRunner()
COMMANDS = [
    ["estimate"],
    ["recommend"],
    ["bench"],
    ["models"],
    ["gpus"],
    ["catalog"],
    ["catalog", "check"],
    ["validate"],
    ["calibrate"],
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    """Fails when a command lacks a docstring or an option lacks help text."""
    import typer.main

    group = typer.main.get_command(app)
    cmd = group
    for name in command:
        cmd = cmd.commands[name]
    assert cmd.help and len(cmd.help.split()) >= 3, f"{command} has no docstring"
    for param in cmd.params:
        if param.param_type_name == "option" and param.name != "help":
            assert getattr(param, "help", None), f"{command} option {param.name} has no help"
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and cmd.help.split()[0] in result.output


def test_estimate_default_is_readable(capsys):
    code, out, _ = run_main(["estimate", "--model", "7b"], capsys)
    assert code == 0
    assert "Memory per GPU" in out and "decode" in out and "generic dense GQA decoder" in out


def test_estimate_json_interface(capsys):
    code, out, _ = run_main(
        [
            "estimate",
            "--model",
            "llama-3-8b",
            "--engine",
            "llama.cpp",
            "--precision",
            "q4_k_m",
            "--gpu",
            "rtx-4090",
            "--gpus",
            "1",
            "--batch",
            "1",
            "--prompt-tokens",
            "512",
            "--new-tokens",
            "128",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    obj = json.loads(out)
    assert obj["fits"] is True
    assert set(obj["memory"]["breakdown"]) == {
        "weights_bytes",
        "kv_cache_bytes",
        "activations_bytes",
        "gradients_bytes",
        "optimizer_bytes",
        "overhead_bytes",
    }
    assert sum(obj["memory"]["breakdown"].values()) == pytest.approx(obj["memory"]["per_gpu_bytes"], abs=8)
    for key in (
        "prefill_tokens_per_s",
        "decode_tokens_per_s",
        "decode_tokens_per_s_total",
        "e2e_tokens_per_s",
        "time_to_first_token_s",
    ):
        assert obj["speed"][key] > 0
    assert obj["assumptions"]["engine"] == "llama.cpp"


def test_scenarios_jsonl_in_order_with_errors(tmp_path: Path, capsys):
    csv = tmp_path / "s.csv"
    csv.write_text(
        "model,task,engine,precision,kv_precision,gpu,n_gpus,batch,prompt_tokens,new_tokens,seq_len\n"
        "llama-3-8b,inference,vllm,bf16,,rtx-4090,1,1,512,128,\n"
        "no-such-model,,,,,,,,,,\n"
        "qwen2.5-7b,,,,,a100-80gb,1,4,,,4096\n"
        "llama-3-8b,,,,,rtx-4090,1,-3,,,\n"
    )
    code, out, _ = run_main(["estimate", "--scenarios", str(csv)], capsys)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 4
    assert lines[0]["fits"] is True
    assert "error" in lines[1] and "no-such-model" in lines[1]["error"]
    assert lines[2]["assumptions"]["prompt_tokens"] == 4096 - 512
    assert "error" in lines[3] and "batch" in lines[3]["error"]


def test_models_and_gpus_tables(capsys):
    code, out, _ = run_main(["models", "qwen2.5"], capsys)
    assert code == 0 and "qwen2.5-72b" in out and "llama" not in out
    code, out, _ = run_main(["gpus", "4090"], capsys)
    assert code == 0 and "rtx-4090" in out and "165.2" in out


def test_catalog_check(capsys):
    code, out, _ = run_main(["catalog", "check"], capsys)
    assert code == 0 and "catalog OK" in out


BAD_INPUT = [
    (["estimate", "--model", "llama-9b-nope"], "unknown model"),
    (["estimate", "--batch", "-1"], "--batch must be at least 1"),
    (["estimate", "--batch=0"], "--batch must be at least 1"),
    (["estimate", "--gpus", "0"], "needs the host CPU: give --cpu"),  # --gpus 0 is a CPU-only run
    (["estimate", "--gpus=-1"], "--gpus must be at least 0"),
    (["estimate", "--new-tokens=-5"], "--new-tokens must be at least 0"),
    (["estimate", "--batch", "99999999999999999999"], "--batch must be at most 1,000,000"),
    (["estimate", "--engine", ""], "--engine must not be empty"),
    (["estimate", "--model", "0b"], "outside 0.1B-5000B"),
    (["estimate", "--gpu", "rtx-9090"], "unknown GPU"),
    (["estimate", "--engine", "llama.cpp", "--precision", "awq-int4"], "does not run"),
    (["estimate", "--precision", "int3"], "unknown precision"),
    (["estimate", "--batch", "lots"], "Invalid value for '--batch'"),
    (["estimate", "--bogus"], "No such option: --bogus"),
    (["estimate", "--scenarios", "/no/such/file.csv"], "cannot read scenarios file"),
    (["estimate", "--data", "/no/such/dir"], "does not exist"),
    (["recommend", "--gpu", "rtx-4090,rtx-9090"], "unknown GPU 'rtx-9090'"),
    (["recommend", "--users", "-2"], "--users (--batch) must be at least 1"),
    (["recommend", "--users=0"], "--users (--batch) must be at least 1"),
    (["recommend", "--budget", "nan"], "--budget must be a finite number"),
    (["recommend", "--budget", "-5"], "--budget must be more than 0, got -5"),
    (["recommend", "--target-tokens-per-s", "-1"], "--target-tokens-per-s must be more than 0"),
    (["recommend", "--gpu", ""], "--gpu is empty"),
    (["recommend", "--max-gpus=-1"], "--max-gpus must be at least 0"),
    (["recommend", "--circuit", "110v"], "unknown circuit"),
    (["recommend", "--objective", "fastest"], "--objective must be"),
    (["recommend", "--cpu", "xeon-silver-9999"], "unknown CPU"),
    (["recommend", "--context", "100", "--new-tokens", "512"], "--context 100 must exceed"),
    (["estimate", "--model", "./missing/folder"], "does not exist"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    code, out, err = run_main(args, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""


def test_broken_data_csv(data_copy: Path, capsys):
    with (data_copy / "gpus.csv").open("a") as fh:
        fh.write("rtx-broken,Broken,,nvidia,ada,geforce,twenty\n")
    code, _, err = run_main(["estimate", "--data", str(data_copy)], capsys)
    assert code == 2 and "gpus.csv, row" in err and len(err.strip().splitlines()) == 1


def test_malformed_config_json(tmp_path: Path, capsys):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{not json")
    code, _, err = run_main(["estimate", "--model", str(tmp_path / "m")], capsys)
    assert code == 2 and "not valid JSON" in err


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "sizing", "estimate", "--batch", "0"], capture_output=True, text=True
    )
    assert result.returncode == 2 and result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_recommend_default_one_glance(capsys):
    code, out, _ = run_main(["recommend", "--model", "7b"], capsys)
    assert code == 0
    assert "Top 5 of" in out and "(#1 is recommended)" in out and "Recommended:" in out and "Rejected" in out
    table = out.split("Recommended:")[0]
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("│ 1 "))
    row = [lines[start], *itertools.takewhile(lambda ln: ln.startswith("│   "), lines[start + 1 :])]  # wrapped
    first = " ".join(ln.split("│")[2].strip() for ln in row if ln.count("│") > 2)  # its GPU cell, unwrapped
    _, js, _ = run_main(["recommend", "--model", "7b", "--json"], capsys)
    best = json.loads(js)["options"][0]
    assert f"{best['n_gpus']} x {best['gpu'][:10]}" in first  # the first row is the recommended build
    assert "first token 1" in table and "catalog_gap" not in out


def test_recommend_top_and_bom(capsys):
    code, out, _ = run_main(["recommend", "--model", "7b", "--top", "8", "--bom"], capsys)
    assert code == 0 and "Top 8 of" in out
    assert sum(1 for line in out.splitlines() if line.startswith("│ ") and line[2].isdigit()) == 8
    snapshot = str(Path(__file__).parent / "catalog")
    args = ["recommend", "--model", "7b", "--gpu", "rtx-3090", "--bom", "--data", snapshot, "--as-of", "2026-12-02"]
    _, new, _ = run_main(args, capsys)
    gpu_line = next(line for line in new.split("Bill of materials")[1].splitlines() if "RTX 3090" in line)
    assert "unpriced" in gpu_line and "--used allows" in gpu_line  # a used-only price is not a new price
    _, used, _ = run_main([*args, "--used"], capsys)
    bom = used.split("Bill of materials")[1]
    gpu_line = next(line for line in bom.splitlines() if "RTX 3090" in line)
    assert "$700" in gpu_line and "used 2026" in gpu_line  # each line's price, kind and date
    assert "msrp 2023-10-16 STALE" in bom  # the i9-14900K's launch price is over 18 months old


def test_recommend_json_interface(capsys):
    code, out, _ = run_main(
        ["recommend", "--model", "llama-3-8b", "--users", "1", "--gpu", "rtx-4090", "--json"], capsys
    )
    assert code == 0
    obj = json.loads(out)
    opt = obj["options"][0]
    assert {
        "gpu",
        "n_gpus",
        "n_nodes",
        "chassis",
        "parts",
        "total_price_usd",
        "totals",
        "power",
        "memory",
        "speed",
        "findings",
    } <= set(opt)
    assert {"kind", "id", "name", "quantity", "unit_price_usd"} <= set(opt["parts"][0])
    assert set(opt["totals"]) >= {"vram_bytes", "ram_bytes", "cpu_cores", "storage_bytes"}
    assert set(opt["power"]) >= {"sustained_w", "psu_w", "wall_w"}
    assert {"rule", "ok", "need", "have", "message", "message_key", "params"} == set(opt["findings"][0])
    assert all(f["ok"] for f in opt["findings"])
    assert all(not f["ok"] for r in obj["rejected"] for f in r["findings"])
    assert obj["workload"]["model"] == "llama-3-8b"


def test_recommend_nothing_fits_names_the_way_out(priced_dir, capsys):
    args = ["recommend", "--model", "llama-3-70b", "--users", "1", "--budget", "1000", "--data", str(priced_dir)]
    code, out, err = run_main(args, capsys)
    assert code == 3  # a valid request that no build passes: not the bad-input code 2
    assert "raise --budget" in err and len(err.strip().splitlines()) == 1
    assert "No build passes" in out


def test_recommend_broken_data(data_copy: Path, capsys):
    with (data_copy / "psus.csv").open("a") as fh:
        fh.write("broken-psu,Broken,atx,true,-1000\n")
    code, _, err = run_main(["recommend", "--data", str(data_copy)], capsys)
    assert code == 2 and "psus.csv, row" in err


def test_scenarios_cells_must_be_whole_numbers(tmp_path: Path, capsys):
    csv = tmp_path / "s.csv"
    csv.write_text(
        "\ufeffmodel,batch,prompt_tokens\nllama-3-8b,inf,\nllama-3-8b,2.5,\nllama-3-8b,2,100\n",
        encoding="utf-8",
    )
    code, out, _ = run_main(["estimate", "--scenarios", str(csv)], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and "whole number" in lines[0]["error"] and "whole number" in lines[1]["error"]
    assert lines[2]["assumptions"]["batch"] == 2  # the BOM Excel writes did not break the header


@pytest.mark.parametrize("value", ['"auto"', "[8]", "0.5", "-3"])
def test_malformed_config_values(tmp_path: Path, capsys, value):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(
        '{"model_type": "mixtral", "hidden_size": 4096, "num_attention_heads": 32, "num_hidden_layers": 32, '
        f'"vocab_size": 32000, "intermediate_size": 14336, "num_local_experts": {value}, "num_experts_per_tok": 2}}'
    )
    code, _, err = run_main(["estimate", "--model", str(folder)], capsys)
    assert code == 2 and "num_local_experts" in err and "Traceback" not in err


def test_bench_compare_saved_results(capsys):
    code, out, _ = run_main(["bench", "--compare", str(Path(__file__).parent.parent / "data" / "benchmarks")], capsys)
    assert code == 0 and "NVIDIA H200" in out and "decode_tokens_per_s" in out and "ratio" in out


def test_bench_quick_on_this_machine(tmp_path: Path, capsys):
    pytest.importorskip("torch")
    code, out, _ = run_main(["bench", "--model", "0.3b", "--quick", "--out", str(tmp_path)], capsys)
    assert code == 0 and "prefill_tokens_per_s" in out
    assert [p.name for p in tmp_path.iterdir()] == ["cpu__0.3b.json"]


def test_bench_unwritable_out(tmp_path: Path, capsys):
    pytest.importorskip("torch")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_main(["bench", "--model", "0.3b", "--quick", "--out", str(blocker / "sub")], capsys)
    assert code == 2 and "cannot write" in err and not (blocker / "sub").exists()


def test_scenario_file_exit_code_rule(tmp_path: Path, capsys):
    """README: per-row errors are JSON lines; exit 0 when any row is estimated, 2 (one stderr line) when none is."""
    bad = tmp_path / "bad.csv"
    bad.write_text("model,batch\nno-such-model,1\nllama-3-8b,-3\n")
    code, out, err = run_main(["estimate", "--scenarios", str(bad)], capsys)
    assert code == 2 and len(out.splitlines()) == 2 and len(err.splitlines()) == 1
    good = tmp_path / "good.csv"
    good.write_text("model,batch\nno-such-model,1\nllama-3-8b,1\n")
    code, out, err = run_main(["estimate", "--scenarios", str(good)], capsys)
    assert code == 0 and len(out.splitlines()) == 2 and not err


def test_report_takes_every_request_option_of_recommend():
    """`sizing report --model M [recommend options]` (README): both commands take the request options of
    cli/shared.py, so any flag that shapes the recommendation (--tp, --max-ttft-s, --speculative, ...) shapes the
    report too; each command adds only its own output flags."""
    import typer.main

    commands = {c.name: c for c in typer.main.get_command(app).commands.values()}  # type: ignore[attr-defined]

    def flags(name: str) -> set[str]:
        return {opt for p in commands[name].params for opt in p.opts}

    rec, rep, est = flags("recommend"), flags("report"), flags("estimate")
    assert {"--tp", "--max-ttft-s", "--speculative", "--checkpoint-every", "--offline", "--steps"} <= rec & rep
    assert rec - rep == {"--top", "--bom", "--json", "--report"}
    assert rep - rec == {"--out", "-o", "--format", "--vat", "--tariff", "--utilisation", "--years"}
    shared = {"--trainer", "--rl-offload", "--teacher", "--packing", "--max-ttft-s", "--draft-model", "--ep"}
    assert shared <= est & rec  # estimate takes the same training and serving options (cli/shared.py)
