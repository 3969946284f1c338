"""The corpus of real config.json files (tests/fixtures/configs, sources and published counts in index.csv): every
one resolves or is refused by name, through the library and through the CLI; at least 90% of those with a
published parameter count land within 3% of it.

`pytest -s tests/test_config_corpus.py` prints the per-family figures."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from cli_run import run_main

from sizing import modelspec
from sizing.specs import SizingError

CORPUS = Path(__file__).resolve().parent / "fixtures" / "configs"
DATA = Path(__file__).resolve().parent.parent / "data"
ROWS = list(csv.DictReader((CORPUS / "index.csv").read_text(encoding="utf-8").splitlines()))
WITHIN = 0.03  # issue 16: a published count is met within 3%
SHARE = 0.90  # ... by at least 90% of the configs that have one
REFUSAL_WORDS = ("is an encoder", "is an encoder-decoder", "which sizing does not model")


def folder(row: dict) -> Path:
    return CORPUS / Path(row["file"]).parent


def test_the_corpus_is_big_enough_and_sourced():
    assert len(ROWS) >= 50
    for row in ROWS:
        assert (CORPUS / row["file"]).is_file(), row["file"]
        assert row["source"] and "@" in row["source"], f"{row['file']}: a source needs repo, path and commit"
        assert row["citation"], row["file"]
        assert row["expect"] in ("resolve", "refuse")
    assert {r["family"] for r in ROWS} >= {"dense", "moe", "mla", "llama4", "falcon", "chatglm", "phi", "gpt2"}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["file"].split("/")[0])
def test_every_config_resolves_or_is_refused_by_name(row, capsys):
    code, out, err = run_main(["estimate", "--data", str(DATA), "--model", str(folder(row))], capsys)
    if row["expect"] == "resolve":
        assert code == 0 and err == "" and "params)" in out, (code, err[:300])
        spec = modelspec.from_hf_folder(folder(row))
        assert spec.n_params == pytest.approx(spec.derived_params, rel=0.02) or "index" in spec.source
        return
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("error: "), repr(err)
    assert any(word in err for word in REFUSAL_WORDS), err
    with pytest.raises(SizingError, match="|".join(REFUSAL_WORDS)):
        modelspec.from_hf_folder(folder(row))


def _landing() -> dict[str, list[tuple[str, float]]]:
    """family -> (file, relative error against the published count) of every resolved config with a count."""
    out: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for row in ROWS:
        if row["expect"] != "resolve" or not row["published_params_b"]:
            continue
        spec = modelspec.from_hf_folder(folder(row))
        published = float(row["published_params_b"]) * 1e9
        out[row["family"]].append((row["file"].split("/")[0], spec.n_params / published - 1))
    return out


def test_published_counts_are_met_within_3_percent(capsys):
    by_family = _landing()
    refused = defaultdict(int)
    for row in ROWS:
        refused[row["family"]] += row["expect"] == "refuse"
    lines = [f"{'family':10} {'count':>5} {'within 3%':>9} {'refused':>7}  misses"]
    hits = total = 0
    for family in sorted(set(by_family) | set(refused)):
        results = by_family.get(family, [])
        good = [r for r in results if abs(r[1]) <= WITHIN]
        misses = ", ".join(f"{name} {err:+.1%}" for name, err in results if abs(err) > WITHIN)
        lines.append(f"{family:10} {len(results):5} {len(good):9} {refused[family]:7}  {misses}")
        hits, total = hits + len(good), total + len(results)
    lines.append(f"{'all':10} {total:5} {hits:9} {sum(refused.values()):7}  ({hits / total:.0%} within 3%)")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert total >= 40
    assert hits >= SHARE * total, "\n".join(lines)


def test_the_families_the_issue_names_now_land():
    """Each of issue 16's mis-sized families within 3% of its published count (the issue measured +22% to +1146%)."""
    errors = {name: err for results in _landing().values() for name, err in results}
    for name in (
        "falcon-40b",
        "falcon-180b",
        "chatglm-6b",
        "chatglm2-6b",
        "phi-2-mixformer",
        "phi-2-msft",
        "gpt2",
        "gpt2-medium",
        "gpt-j-6b",
        "llama-4-maverick-17b-128e-instruct",
        "llama-4-scout-17b-16e-instruct",
        "llama-3.3-nemotron-super-49b-v1",
        "nemotron-h-56b-base-8k",
        "qwen3-vl-8b-instruct",
        "llava-1.5-7b-hf",
    ):
        assert abs(errors[name]) <= WITHIN, f"{name}: {errors[name]:+.1%}"
