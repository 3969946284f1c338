"""benchmarks/measured_extra.csv: public measurements of engines, GPUs and models the calibration file lacks, kept
to test the model, never to fit it (benchmarks/accuracy.py prints them apart; calibrate.py reads only
measured.csv)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from sizing import catalog as cat

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
EXTRA = BENCHMARKS / "measured_extra.csv"
COLUMNS = (  # ../shared/reference/measured.csv's columns (measured.md)
    "row_id,source_key,model,engine,task,precision,kv_precision,batch,prompt_tokens,new_tokens,seq_len,gpu,n_gpus,"
    "metric,value,unit,memory_basis,trust,notes,source"
).split(",")


@pytest.fixture(scope="module")
def accuracy():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import accuracy as module
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


@pytest.fixture(scope="module")
def rows():
    with EXTRA.open() as f:
        return list(csv.DictReader(f))


def test_rows_carry_source_conditions_and_trust(rows):
    with EXTRA.open() as f:
        assert next(csv.reader(f)) == COLUMNS
    assert len({r["row_id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["source"] and r["notes"] and r["trust"] in ("high", "medium", "suspect"), r["row_id"]
        assert float(r["value"]) > 0 and int(r["n_gpus"]) >= 1, r["row_id"]


def test_the_file_covers_what_calibration_lacks(rows):
    """LMDeploy, ExLlamaV2, MLC LLM and SGLang have no row in measured.csv (their efficiency rows are copies,
    data/efficiency.csv copied_from); nor H200, nor an MoE model."""
    engines = {r["engine"] for r in rows}
    assert {"lmdeploy", "exllamav2", "mlc-llm", "sglang"} <= engines
    assert any(r["gpu"] == "h200" for r in rows)
    assert any(r["model"] == "deepseek-v3" for r in rows)


def test_every_trusted_row_resolves_and_is_estimated(accuracy, rows):
    catalog = cat.load()
    estimated, skipped = accuracy.extra_errors(catalog)
    assert all(s.split(":")[1].strip().startswith("suspect") for s in skipped), skipped
    assert len(estimated) == sum(r["trust"] != "suspect" for r in rows)
    assert all(e[5] > 0 for e in estimated)


def test_calibration_never_reads_it(accuracy):
    """calibrate.py fits on measured.MEASURED only; the validation file is another path."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import measured
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert Path(measured.MEASURED).name == "measured.csv"
    assert "measured_extra" not in (BENCHMARKS / "calibrate.py").read_text()
    assert accuracy.EXTRA == EXTRA


@pytest.mark.parametrize(
    ("row_id", "published", "tolerance"),
    [
        # turboderp/exllamav2 README: Llama2 7B EXL2 4.0 bpw, RTX 3090 Ti, 179 t/s; 15% = exllamav2's band span
        ("exllamav2-readme-0003", 179.0, 0.15),
        # InternLM/lmdeploy a100_fp16.md: llama2-7b, batch 1, prompt 2048, first token 0.139 s; 10%
        ("lmdeploy-v010a1-0015", 0.139, 0.10),
    ],
)
def test_published_figures_within_tolerance(accuracy, row_id, published, tolerance):
    estimated, _ = accuracy.extra_errors(cat.load())
    row = next(e for e in estimated if e[0] == row_id)
    assert row[4] == pytest.approx(published)
    assert row[5] == pytest.approx(published, rel=tolerance)
