"""`sizing models add PATH --data DIR` (issue 8): a local Hugging Face folder becomes a row of the user's own
models.csv, checked as loading checks it, written in one step; bad input is one line and exit code 2 and leaves the
copy as it was."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from cli_run import run_main

from sizing import answers
from sizing import catalog as cat
from sizing.specs import SizingError

CONFIGS = Path(__file__).resolve().parent / "fixtures" / "configs"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """TinyLlama-1.1B-Chat's config.json in a folder named as a user might name it."""
    target = tmp_path / "TinyLlama Chat v1.0"
    target.mkdir()
    shutil.copy(CONFIGS / "tinyllama-1.1b-chat-v1.0" / "config.json", target / "config.json")
    return target


def test_add_appends_a_row_that_loads_and_resolves(data_copy, folder, capsys):
    before = (data_copy / "models.csv").read_text()
    code, out, err = run_main(["models", "add", str(folder), "--data", str(data_copy)], capsys)
    assert code == 0, err
    assert "added tinyllama-chat-v1.0" in out
    after = (data_copy / "models.csv").read_text()
    assert after.startswith(before) and after.count("\n") == before.count("\n") + 1  # one row appended, rest kept
    catalog = cat.load(data_copy)
    spec = catalog.model("tinyllama-chat-v1.0")
    # TinyLlama 1.1B (its model card: 1.1B parameters), within the catalog's own 2%
    assert spec.n_params == pytest.approx(1.1e9, rel=0.02)
    assert (spec.n_layers, spec.hidden_size, spec.n_heads, spec.n_kv_heads) == (22, 2048, 32, 4)
    assert str(folder.resolve()) in spec.source
    code, out, _ = run_main(["estimate", "--model", "tinyllama-chat-v1.0", "--data", str(data_copy)], capsys)
    assert code == 0 and "TinyLlama" in out


def test_id_option_and_duplicates(data_copy, folder, capsys):
    args = ["models", "add", str(folder), "--data", str(data_copy)]
    assert run_main([*args, "--id", "my-tiny"], capsys)[0] == 0
    text = (data_copy / "models.csv").read_text()
    for dup in ("my-tiny", "qwen2.5-7b", "qwen2.5-7b-instruct"):  # an id, a bundled id, a bundled alias
        code, out, err = run_main([*args, "--id", dup], capsys)
        assert code == 2 and "already has" in err and "--id" in err and err.count("\n") == 1 and not out
    code, _, err = run_main([*args, "--id", "Not A Slug"], capsys)
    assert code == 2 and "not a lowercase slug" in err
    assert (data_copy / "models.csv").read_text() == text  # refusals leave the copy as it was


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda tmp: tmp / "missing", "does not exist"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "has no config.json"),
        (lambda tmp: (tmp / "f.txt").write_text("x") and tmp / "f.txt", "is a file, not a folder"),
    ],
)
def test_bad_folder_is_one_line_exit_2(data_copy, tmp_path, capsys, make, needle):
    text = (data_copy / "models.csv").read_text()
    code, out, err = run_main(["models", "add", str(make(tmp_path)), "--data", str(data_copy)], capsys)
    assert code == 2 and needle in err and err.count("\n") == 1 and "Traceback" not in err and not out
    assert (data_copy / "models.csv").read_text() == text
    assert not list(data_copy.glob(".models.csv.*"))  # no temporary file left behind


def test_bad_config_json_is_one_line(data_copy, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"hidden_size": 4096')
    code, _, err = run_main(["models", "add", str(broken), "--data", str(data_copy)], capsys)
    assert code == 2 and "config.json" in err and err.count("\n") == 1


def test_needs_a_copy_not_the_bundled_data(folder, capsys):
    code, _, err = run_main(["models", "add", str(folder)], capsys)
    assert code == 2 and "--data DIR" in err
    with pytest.raises(SizingError, match="not the bundled data/"):
        answers.add_model(folder, cat.default_data_dir())


def test_a_broken_copy_is_refused_before_writing(data_copy, folder):
    gpus = data_copy / "gpus.csv"
    gpus.write_text(gpus.read_text().replace("rtx-4090,", "rtx 4090,", 1))
    text = (data_copy / "models.csv").read_text()
    with pytest.raises(SizingError, match="gpus.csv"):
        answers.add_model(folder, data_copy)
    assert (data_copy / "models.csv").read_text() == text


def test_european_semicolon_copy_keeps_its_format(data_copy, folder):
    """A copy saved by a European Excel (`;`, decimal commas, CRLF): the new row follows that format and loads."""
    path = data_copy / "models.csv"
    with path.open(newline="") as f:
        table = list(csv.reader(f))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for line in table:
        writer.writerow([c.replace(".", ",") if c.replace(".", "", 1).isdigit() else c for c in line])
    path.write_bytes(out.getvalue().encode())
    spec = answers.add_model(folder, data_copy)
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n") and b"\r\n" in raw.splitlines(keepends=True)[-1]
    assert b";1,10005;" in raw.splitlines()[-1]  # decimal comma in params_b
    assert cat.load(data_copy).model(spec.id).n_params == pytest.approx(spec.n_params)


def test_help_names_add(capsys):
    code, out, _ = run_main(["models", "--help"], capsys)
    assert code == 0 and "models add PATH --data DIR" in " ".join(out.split())
