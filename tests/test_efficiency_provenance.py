"""efficiency.csv provenance: engine version, copied_from and per-factor status (fitted / at-bound / prior), parsed
and checked at load, and the rule benchmarks/calibrate.py writes them by."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from csv_edit import read_rows, set_cell, write_rows

from sizing import catalog as cat
from sizing.catalog import CatalogError
from sizing.specs import Efficiency

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def eff(catalog, engine: str, gpu_class: str = "*") -> Efficiency:
    return next(e for e in catalog.efficiencies if (e.engine, e.gpu_class) == (engine, gpu_class))


def test_every_row_states_every_factor(catalog):
    for e in catalog.efficiencies:
        assert [factor for factor, _ in e.provenance] == list(Efficiency.FACTORS), (e.engine, e.gpu_class)


def test_known_statuses(catalog):
    """The cases the fit is known to leave: a bound, an untouched prior."""
    assert eff(catalog, "tensorrt-llm").status("attn_eff") == "at-bound"  # UPPER 2.0
    for factor in ("mm_eff", "quant_mm_eff", "attn_eff"):  # gpt-fast has no prefill rows to move them
        assert eff(catalog, "gpt-fast").status(factor) == "prior"
    for engine in ("llama.cpp", "tensorrt-llm", "vllm"):
        assert eff(catalog, engine).status("kv_traffic") == "at-bound"  # LOWER 0.5
    assert eff(catalog, "transformers").status("bw_eff") == "fitted"
    assert eff(catalog, "vllm").status("no_such_factor") is None


def test_copied_rows_name_their_source(catalog):
    copied = {e.engine: e.copied_from for e in catalog.efficiencies if e.copied_from}
    assert copied == {e.id: e.fit_like for e in catalog.engines.values() if e.fit_like}
    for e in catalog.efficiencies:
        assert (e.copied_from is not None) == (e.n_rows == 0)
        if e.copied_from:
            original = eff(catalog, e.copied_from)
            assert (e.bw_eff, e.mm_eff, e.provenance) == (
                original.bw_eff,
                original.mm_eff,
                original.provenance,
            )
            assert e.versions == ()


def test_versions_come_from_the_measurements(catalog):
    assert eff(catalog, "vllm").versions == ("0.6.3",)  # Qwen2.5 speed benchmark: vLLM 0.6.3
    assert eff(catalog, "transformers").versions == ("4.46.0",)
    assert eff(catalog, "tensorrt-llm").versions == ("0.5", "0.6.1", "1.0")
    assert eff(catalog, "llama.cpp").versions == ()  # "build ~May 2024": no version number


@pytest.mark.parametrize(
    ("file", "key", "value", "problem"),
    [
        ("efficiency", "vllm/*", "bw_eff=fited", "'fited' is not allowed here; use one of: fitted, at-bound, prior"),
        ("efficiency", "vllm/*", "bw_ef=fitted", "'bw_ef' is not allowed here; use one of: bw_eff, quant_bw_eff"),
        ("efficiency", "vllm/*", "bw_eff:fitted", "'bw_eff:fitted' is not factor=status"),
        ("efficiency", "vllm/*", "bw_eff=fitted", "lacks quant_bw_eff, layer_overhead_us"),
        ("efficiency", "vllm/*", "bw_eff=fitted;bw_eff=prior", "names bw_eff twice"),
        # trainers.csv takes the same check (specs/base.py Provenanced)
        ("trainers", "trl", "mfu:fitted", "'mfu:fitted' is not factor=status"),
        ("trainers", "trl", "mfu=fitted", "lacks qlora_eff, overlap, fragmentation"),
        (
            "trainers",
            "trl",
            "mfu=fitted;mfu=prior;qlora_eff=prior;overlap=prior;fragmentation=prior",
            "names mfu twice",
        ),
    ],
)
def test_bad_provenance_is_rejected(data_copy, file, key, value, problem):
    row = set_cell(data_copy / f"{file}.csv", key, "provenance", value)
    with pytest.raises(CatalogError, match=rf"{file}.csv, row {row}, column 'provenance': {problem}"):
        cat.load(data_copy)


@pytest.mark.parametrize("value", ["vlm", "sglang"])
def test_copied_from_must_be_another_engine(data_copy, value):
    row = set_cell(data_copy / "efficiency.csv", "sglang/*", "copied_from", value)
    with pytest.raises(CatalogError, match=rf"efficiency.csv, row {row}, column 'copied_from': '{value}' is not"):
        cat.load(data_copy)


def test_older_efficiency_file_without_provenance_still_loads(data_copy):
    path = data_copy / "efficiency.csv"
    rows = read_rows(path)
    keep = [i for i, name in enumerate(rows[0]) if name not in ("version", "copied_from", "provenance")]
    write_rows(path, [[r[i] for i in keep] for r in rows])
    loaded = cat.load(data_copy)
    assert all(e.provenance == () and e.versions == () and e.copied_from is None for e in loaded.efficiencies)


# -- the rule calibrate.py applies ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def calibrate():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import calibrate as module
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_factor_status_rule(calibrate):
    status = calibrate.factor_status
    assert status(2.0, 0.3, 0.005, 2.0) == "at-bound"
    assert status(1.9995, 0.3, 0.005, 2.0) == "at-bound"  # within 1e-3 relative
    assert status(0.5, 1.0, 0.5, 200.0) == "at-bound"
    assert status(0.3001, 0.3, 0.005, 2.0) == "prior"
    assert status(0.31, 0.3, 0.005, 2.0) == "fitted"
    assert status(1.0, 1.0, 0.2, 1.0) == "at-bound"  # a prior on a bound counts as the bound


def test_committed_provenance_follows_the_rule(catalog, calibrate):
    """Recomputing each row's statuses from its own numbers (prior = PRIOR, or the engine's '*' row for a class
    row) gives what efficiency.csv says."""
    for e in catalog.efficiencies:
        prior = calibrate.PRIOR if e.gpu_class == "*" else calibrate.factors(eff(catalog, e.engine))
        assert calibrate.provenance(calibrate.factors(e), prior) == e.provenance, (e.engine, e.gpu_class)


def test_writer_round_trips(catalog, calibrate, data_copy):
    calibrate.write(data_copy / "efficiency.csv", list(catalog.efficiencies))
    assert (data_copy / "efficiency.csv").read_text() == (BENCHMARKS.parent / "data/efficiency.csv").read_text()
