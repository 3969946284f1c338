"""Scenario files with training, distillation and RL rows (`sizing estimate --scenarios`): each row answers as
`sizing estimate --json` does for its task; the distillation and RL columns parse and fail one row at a time."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_run import run_main

from sizing import answers, report
from sizing.catalog.user_files import SCENARIO_COLUMNS
from sizing.specs import TRAINING_OPTIONS

HEADER = "model,task,gpu,n_gpus,batch,seq_len,tokens,epochs,lora_rank,teacher,student,mode,group_size,lora,steps\n"
ROWS = (
    "qwen2.5-1.5b,lora,rtx-4090,1,1,2048,100M,2,16,,,,,,\n"
    ",distill,h100-sxm,1,,,200M,,,qwen2.5-7b,qwen2.5-1.5b,offline,,,\n"
    "qwen2.5-7b,grpo,h100-sxm,8,,,,,,,,,4,true,100\n"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lines(tmp_path_factory, catalog) -> list[dict]:
    """The JSON lines `sizing estimate --scenarios` prints for the three rows (report.scenario_line of each)."""
    path = write(tmp_path_factory.mktemp("scenarios"), HEADER + ROWS)
    results = list(answers.run_scenarios(catalog, path))
    return [json.loads(report.scenario_line(r)) for r in results]


def test_the_cli_prints_one_line_per_row(tmp_path, capsys, lines):
    code, out, err = run_main(["estimate", "--scenarios", str(write(tmp_path, HEADER + ROWS))], capsys)
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == lines


def test_a_training_row_has_its_speed_and_run_time(lines):
    row = lines[0]
    assert row["speed"]["train_tokens_per_s"] > 0
    assert row["time"]["total_s"] == pytest.approx(row["time"]["train_s"] + row["time"]["checkpoint"]["added_s"], 1e-3)
    # 100M tokens x 2 epochs at the row's speed (the run time is tokens x epochs / speed, plus checkpoint stalls)
    assert row["time"]["train_s"] == pytest.approx(2e8 / row["speed"]["train_tokens_per_s"], rel=0.01)
    assert row["training"]["setup"]["lora_rank"] == 16


def test_a_distill_row_names_its_student_and_gets_the_phases(lines):
    row = lines[1]
    (plan,) = row["plans"]  # mode offline: that mode alone
    assert plan["mode"] == "offline" and plan["student"] == "qwen2.5-1.5b" and plan["teacher"] == "qwen2.5-7b"
    assert [(p["name"], p["task"]) for p in plan["phases"]] == [
        ("teacher-labels", "inference"),
        ("student-training", "full-finetune"),
    ]
    # top-k storage = tokens x k x 6 bytes (a 2-byte log-prob and a 4-byte id: Qwen's vocabulary is over 65,536)
    assert plan["storage_bytes"] == 200_000_000 * 20 * 6


def test_an_rl_row_gets_its_roles_and_its_run(lines):
    row = lines[2]
    assert row["algo"] == "grpo" and row["setup"]["group_size"] == 4
    assert {r["name"] for r in row["roles"]} == {"policy", "reference", "rollout"}
    assert row["update"]["memory"]["breakdown"]["optimizer_bytes"] < row["memory"]["per_gpu_bytes"]
    assert row["time"]["n_steps"] == 100
    assert row["time"]["total_s"] == pytest.approx(100 * row["time"]["step_s"], rel=1e-3)


def test_the_rl_row_is_what_estimate_json_prints_for_it(lines, capsys):
    args = ["estimate", "--task", "grpo", "--model", "qwen2.5-7b", "--gpu", "h100-sxm", "--gpus", "8"]
    code, out, _ = run_main([*args, "--group-size", "4", "--lora", "--steps", "100", "--json"], capsys)
    assert code == 0 and json.loads(out) == lines[2]


def test_a_bad_lora_cell_fails_its_row_only(tmp_path, catalog):
    path = write(tmp_path, HEADER + ROWS + "qwen2.5-7b,grpo,h100-sxm,8,,,,,,,,,4,maybe,100\n")
    results = list(answers.run_scenarios(catalog, path))
    assert results[-1] == "line 5: column 'lora' must be true or false, got 'maybe'"
    assert answers.scenario_failure(results) is None  # the other rows ran


RL_OFFLOAD_ARGS = "estimate --task grpo --model qwen2.5-1.5b --gpu h100-sxm --gpus 2 --steps 10".split()


def test_an_rl_offload_row_is_what_estimate_json_prints_for_it(tmp_path, capsys, catalog):
    """One row per --rl-offload value (and an empty cell: the trainer's default, verl's `reference`) gives the JSON
    of the single `sizing estimate --task grpo ... --rl-offload X --json` call, offload resolved as the row says."""
    values = ("none", "reference", "optimizer", "all", "")
    rows = "".join(f"qwen2.5-1.5b,grpo,h100-sxm,2,10,{v}\n" for v in values)
    path = write(tmp_path, "model,task,gpu,n_gpus,steps,rl_offload\n" + rows)
    lines = [json.loads(report.scenario_line(r)) for r in answers.run_scenarios(catalog, path)]
    for value, line in zip(values, lines, strict=True):
        code, out, err = run_main([*RL_OFFLOAD_ARGS, *(["--rl-offload", value] if value else []), "--json"], capsys)
        assert code == 0, err
        assert json.loads(out) == line, value
        assert line["setup"]["offload"] == (value or "reference")
    assert len({json.dumps(line["memory"]) for line in lines[:4]}) == 4  # each value moves the memory


def test_a_bad_rl_offload_cell_fails_its_row_only(tmp_path, catalog):
    """A value that is not an offload names the column and the allowed values, as the placement column does; an
    rl_offload on a row that is not RL is refused as the command line refuses --rl-offload with --task lora."""
    header = "model,task,gpu,n_gpus,rl_offload\n"
    good = "qwen2.5-1.5b,grpo,h100-sxm,2,all\n"
    path = write(tmp_path, header + good + "qwen2.5-1.5b,grpo,h100-sxm,2,weights\nqwen2.5-1.5b,lora,h100-sxm,2,all\n")
    first, bad, not_rl = answers.run_scenarios(catalog, path)
    assert not isinstance(first, str) and first.setup.offload == "all"
    assert bad == ("line 3: column 'rl_offload' must be 'none', 'reference', 'optimizer' or 'all', got 'weights'")
    assert not_rl == (
        "line 4: column 'rl_offload' places the roles of an RL step (task grpo, ppo or dpo); training takes 'offload'"
    )


@pytest.mark.parametrize(
    ("row", "args"),
    [
        ("qwen2.5-1.5b,grpo,h100-sxm,2,10,,1h", "--task grpo --gpus 2 --steps 10 --deadline 1h"),
        ("qwen2.5-1.5b,lora,h100-sxm,1,,100M,1h30m", "--task lora --gpus 1 --tokens 100M --deadline 1h30m"),
    ],
)
def test_a_deadline_row_is_what_estimate_json_prints_for_it(tmp_path, capsys, catalog, row, args):
    """The deadline column takes what --deadline takes (48h, 2d, 1h30m) and judges the run as the command does."""
    path = write(tmp_path, "model,task,gpu,n_gpus,steps,tokens,deadline\n" + row + "\n")
    (result,) = answers.run_scenarios(catalog, path)
    line = json.loads(report.scenario_line(result))
    code, out, err = run_main(
        ["estimate", "--model", "qwen2.5-1.5b", "--gpu", "h100-sxm", *args.split(), "--json"], capsys
    )
    assert code == 0, err
    assert json.loads(out) == line
    deadline_s = line["setup"]["deadline_s"] if "setup" in line else line["time"]["deadline_s"]
    assert deadline_s == (3600 if "grpo" in row else 5400)


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("grpo,,,1h", "column 'deadline' needs 'steps' or 'tokens' (the RL run's length) to time the run"),
        ("lora,,,1h", "column 'deadline' needs 'tokens' (the dataset tokens per epoch) to time the run"),
        ("lora,,100M,soon", "column 'deadline': 'soon' is not a duration; write e.g. 90m, 48h, 2d or 1h30m"),
        ("lora,,100M,0h", "column 'deadline': must be a positive duration, got '0h'"),
        ("lora,,100M,100000w", "column 'deadline': must be at most 1653w (about 32 years), got '100000w'"),
    ],
)
def test_a_bad_deadline_cell_fails_its_row_only(tmp_path, catalog, row, error):
    path = write(tmp_path, "model,task,steps,tokens,deadline\nqwen2.5-1.5b,lora,,100M,2d\nqwen2.5-1.5b," + row + "\n")
    good, bad = answers.run_scenarios(catalog, path)
    assert not isinstance(good, str) and isinstance(bad, str) and bad.startswith("line 3: " + error), bad


def test_a_file_of_students_needs_no_model_column(tmp_path, catalog):
    path = write(tmp_path, "task,teacher,student,tokens,gpu,mode\ndistill,qwen2.5-7b,qwen2.5-1.5b,50M,l40s,online\n")
    (result,) = list(answers.run_scenarios(catalog, path))
    assert isinstance(result, tuple) and result[0].setup.mode == "online"
    empty = write(tmp_path, "task,teacher,student\ndistill,qwen2.5-7b,\n")
    (problem,) = list(answers.run_scenarios(catalog, empty))
    assert isinstance(problem, str) and "column 'model' is empty" in problem


def key_names(obj: object, skip: frozenset[str] = frozenset({"assumptions", "build", "request"})) -> set[str]:
    """Every key of a JSON object, at every depth (a list's dicts included), except under `skip` (documented with
    the inference estimate and `options[]`)."""
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(k)
            if k not in skip:
                out |= key_names(v, skip)
    elif isinstance(obj, list):
        for v in obj:
            out |= key_names(v, skip)
    return out


@pytest.mark.parametrize(
    "args",
    [
        "estimate --task lora --model qwen2.5-1.5b --tokens 100M --deadline 2d",
        "estimate --task distill --teacher qwen2.5-7b --student qwen2.5-1.5b --tokens 50M --gpu h100-sxm",
        "estimate --task grpo --model qwen2.5-7b --gpu h100-sxm --gpus 8 --steps 10 --deadline 1d",
        "estimate --task ppo --model qwen2.5-1.5b --gpu h100-sxm --gpus 2 --reward-model qwen2.5-0.5b",
        "recommend --task grpo --model qwen2.5-1.5b --form-factor tower",
    ],
)
def test_every_json_key_of_training_distill_and_rl_is_in_the_readme(args, capsys):
    code, out, err = run_main([*args.split(), "--json"], capsys)
    assert code == 0, err
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", readme))
    missing = sorted(k for k in key_names(json.loads(out)) if k not in words and k.removesuffix("_range") not in words)
    assert not missing, f"README.md does not name these --json keys: {missing}"


# one training row per column that mirrors a CLI option (specs.TRAINING_OPTIONS): the row's cells, then the
# column's two values; each value's row is the single `sizing estimate ... --json` call, and the two rows differ
TRAINING_COLUMN_ROWS = {
    "checkpoint_every": ("qwen2.5-1.5b,lora,h100-sxm,1,,100M,,", ("100", "30m")),
    "keep_checkpoints": ("qwen2.5-1.5b,lora,h100-sxm,1,,100M,,", ("1", "5")),
    "ep": ("qwen3-30b-a3b,full-finetune,h100-sxm,8,megatron,100M,,", ("2", "8")),
    "tp": ("qwen2.5-7b,full-finetune,h100-sxm,8,megatron,100M,,", ("1", "2")),
    "pp": ("qwen2.5-7b,full-finetune,h100-sxm,8,megatron,100M,,", ("1", "2")),
    "cp": ("qwen2.5-7b,full-finetune,h100-sxm,8,megatron,100M,8192,", ("1", "2")),
    "packing": ("qwen2.5-1.5b,lora,h100-sxm,1,,100M,2048,512", ("on", "off")),
    "mean_seq_len": ("qwen2.5-1.5b,lora,h100-sxm,1,,100M,2048,", ("512", "1024")),
}
TRAINING_BASE = ("model", "task", "gpu", "n_gpus", "trainer", "tokens", "seq_len", "mean_seq_len")
OPTION_OF = {"n_gpus": "gpus"}  # a column named other than its option


def cli_args(columns: tuple[str, ...], cells: list[str]) -> list[str]:
    """The `sizing estimate` options of a row's non-empty cells: column x as --x (n_gpus as --gpus)."""
    out = ["estimate"]
    for column, cell in zip(columns, cells, strict=True):
        if cell:
            out += ["--" + OPTION_OF.get(column, column).replace("_", "-"), cell]
    return [*out, "--json"]


@pytest.mark.parametrize("column", sorted(TRAINING_COLUMN_ROWS))
def test_a_training_column_row_is_what_estimate_json_prints_for_it(tmp_path, capsys, catalog, column):
    """checkpoint_every, keep_checkpoints, ep, tp, pp, cp, packing and mean_seq_len take what their options take,
    and each of the two values gives the JSON of its single command (and the two answers differ)."""
    base, values = TRAINING_COLUMN_ROWS[column]
    columns = tuple(c for c in TRAINING_BASE if c != column) + (column,)
    cells = [c for c, name in zip(base.split(","), TRAINING_BASE, strict=True) if name != column]
    path = write(tmp_path, ",".join(columns) + "\n" + "".join(",".join([*cells, v]) + "\n" for v in values))
    lines = [json.loads(report.scenario_line(r)) for r in answers.run_scenarios(catalog, path)]
    for value, line in zip(values, lines, strict=True):
        assert "error" not in line, line
        code, out, err = run_main(cli_args(columns, [*cells, value]), capsys)
        assert code == 0, err
        assert json.loads(out) == line, value
    assert lines[0] != lines[1]


@pytest.mark.parametrize(
    ("column", "cell", "error"),
    [
        ("checkpoint_every", "often", "column 'checkpoint_every': 'often' is neither a step count nor a duration"),
        ("checkpoint_every", "0", "column 'checkpoint_every': must be at least 1 step, got '0'"),
        ("checkpoint_every", "100000w", "column 'checkpoint_every': must be at most 1653w (about 32 years)"),
        ("checkpoint_every", "2000000000", "column 'checkpoint_every' must be at most 1,000,000,000, got 2000000000"),
        ("keep_checkpoints", "0", "column 'keep_checkpoints' must be at least 1, got 0"),
        ("ep", "1.5", "column 'ep': '1.5' is not a whole number"),
        ("tp", "-2", "column 'tp' must be at least 1, got -2"),
        ("pp", "x", "column 'pp': 'x' is not a number"),
        ("cp", "0", "column 'cp' must be at least 1, got 0"),
        ("packing", "maybe", "column 'packing' must be 'on' or 'off', got 'maybe'"),
        ("mean_seq_len", "0", "column 'mean_seq_len' must be at least 1, got 0"),
        (
            "steps",
            "10",
            "column 'steps' counts the steps of an RL run (task grpo, ppo or dpo); time training with 'tokens'",
        ),
    ],
)
def test_a_bad_training_column_cell_fails_its_row_only(tmp_path, catalog, column, cell, error):
    """A bad cell is that row's error, naming the column (as the command line refuses the option); a steps cell on
    a training row is refused as `sizing estimate --task lora --steps 10` is; the rows around it still run."""
    good = "qwen2.5-1.5b,lora,100M,\n"
    path = write(tmp_path, f"model,task,tokens,{column}\n{good}qwen2.5-1.5b,lora,100M,{cell}\n{good}")
    first, bad, last = answers.run_scenarios(catalog, path)
    assert not isinstance(first, str) and not isinstance(last, str)
    assert isinstance(bad, str) and bad.startswith("line 3: " + error), bad


@pytest.mark.parametrize(
    ("columns", "cells", "flags"),
    [
        ("task,tokens,steps", "lora,100M,10", "--task lora --tokens 100M --steps 10"),
        ("task,rl_offload", "lora,all", "--task lora --rl-offload all"),
        ("task,deadline", "lora,1h", "--task lora --deadline 1h"),
        ("task,deadline", "grpo,1h", "--task grpo --deadline 1h"),
    ],
)
def test_the_cli_and_the_scenario_file_refuse_options_that_do_not_go_together_alike(
    tmp_path, capsys, catalog, columns, cells, flags
):
    """Options that do not go together (steps or rl_offload off RL, a deadline without the run's length) get the
    same sentence on the command line and in a scenario row, each naming the options its own way."""
    path = write(tmp_path, f"model,{columns}\nqwen2.5-1.5b,{cells}\n")
    (row,) = answers.run_scenarios(catalog, path)
    code, _, err = run_main(f"estimate --model qwen2.5-1.5b {flags}".split(), capsys)
    assert isinstance(row, str) and row.startswith("line 2: column '"), row
    as_flags = re.sub(r"'([a-z_]+)'", lambda m: "--" + m.group(1).replace("_", "-"), row[len("line 2: column ") :])
    assert code == 2 and err.strip() == f"error: {as_flags}", (row, err)


def test_every_training_option_of_the_cli_is_a_scenario_column():
    """A training, distillation or RL option `sizing estimate` takes is a column of the same name (no option a
    scenario file cannot say)."""
    assert set(TRAINING_OPTIONS) <= set(SCENARIO_COLUMNS), sorted(set(TRAINING_OPTIONS) - set(SCENARIO_COLUMNS))


@pytest.mark.parametrize("option", ["--keep-checkpoints", "--tp", "--mean-seq-len"])
def test_the_cli_refuses_a_zero_as_the_column_does(capsys, option):
    """A 0 is an error in a cell (`column 'tp' must be at least 1, got 0`) and on the command line alike, not an
    option left out."""
    args = ["estimate", "--task", "lora", "--model", "qwen2.5-1.5b", "--tokens", "100M", option, "0"]
    code, _, err = run_main(args, capsys)
    assert code == 2 and f"{option} must be at least 1, got 0" in err
