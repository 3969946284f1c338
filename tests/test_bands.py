"""Uncertainty bands (sizing/estimate/bands.py, data/bands.csv from `benchmarks/calibrate.py --cross-validate
--write`): every band contains its figure, borrowed factors get the wider leave-one-engine-out band, and the
terminal and JSON show them."""

from __future__ import annotations

import json

import pytest
from cli_run import run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizing import scenarios
from sizing.specs import ErrorBand, Request


@given(lo=st.floats(0.01, 3.0), hi=st.floats(0.01, 3.0), value=st.floats(0.0, 1e12))
def test_a_band_always_contains_its_figure(lo, hi, value):
    band = ErrorBand(
        id="x.any.decode",
        engine="x",
        gpu_class="*",
        metric="decode",
        lo_ratio=lo,
        hi_ratio=hi,
        median_ape_pct=1.0,
        n_rows=1,
        basis="calibration",
        source="test",
    )
    a, b = band.around(value)
    assert a <= value <= b


def test_bands_are_generated_not_typed(catalog):
    """Every row comes from the cross-validation run (its source says so) and holds rows behind it."""
    assert catalog.bands, "data/bands.csv is missing: run python benchmarks/calibrate.py --cross-validate --write"
    for b in catalog.bands:
        assert b.source.startswith("benchmarks/calibrate.py --cross-validate --write"), b.id
        assert b.n_rows > 0 and b.lo_ratio <= 1 <= b.hi_ratio


def test_every_engine_has_a_decode_band(catalog):
    have = {b.engine for b in catalog.bands if b.metric == "decode"}
    assert set(catalog.engines) <= have


def test_borrowed_factors_get_the_leave_one_engine_out_band(catalog):
    for engine in ("sglang", "exllamav2", "mlc-llm"):
        band = next(b for b in catalog.efficiency(engine, "geforce").band if b.metric == "decode")
        assert band.basis == "leave-one-engine-out"


def test_a_copied_engine_is_less_certain_than_a_fitted_one_on_the_same_class(catalog):
    fitted = next(b for b in catalog.efficiency("llama.cpp", "geforce").band if b.metric == "decode")
    copied = next(b for b in catalog.efficiency("exllamav2", "geforce").band if b.metric == "decode")
    assert copied.hi_ratio / copied.lo_ratio > fitted.hi_ratio / fitted.lo_ratio


CASES = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["llama-3-8b", "qwen2.5-32b", "mixtral-8x7b"]),
        "engine": st.sampled_from(["vllm", "llama.cpp", "sglang", "transformers", "exllamav2"]),
        "gpu": st.sampled_from(["rtx-4090", "h100-sxm", "l40s", "a100-80gb-sxm"]),
        "batch": st.integers(1, 64),
        "prompt_tokens": st.integers(1, 8000),
        "new_tokens": st.integers(1, 2000),
    }
)
PRECISION = {"llama.cpp": "q4_k_m", "exllamav2": "exl2-4.0bpw"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=CASES)
def test_bands_contain_the_point_estimate(catalog, case):
    """Property: every band the estimate carries contains its figure."""
    req = Request(**case, precision=PRECISION.get(case["engine"], "bf16"), n_gpus=1)
    e = scenarios.run(catalog, req)
    s = e.speed
    for name in (
        "decode_tokens_per_s",
        "decode_tokens_per_s_total",
        "prefill_tokens_per_s",
        "time_to_first_token_s",
        "time_to_first_token_loaded_s",
        "time_to_first_token_one_user_s",
    ):
        band = getattr(s, f"{name}_range")
        assert band is not None, name
        assert band[0] <= getattr(s, name) * (1 + 1e-12) and getattr(s, name) <= band[1] * (1 + 1e-12), name
    m = e.memory
    if m.per_gpu_bytes_range is not None:
        assert m.per_gpu_bytes_range[0] <= m.per_gpu_bytes <= m.per_gpu_bytes_range[1]


def test_terminal_and_json_show_bands(capsys):
    code, out, _ = run_main(["estimate", "--model", "llama-3-8b", "--gpu", "rtx-4090"], capsys)
    assert code == 0 and "decode ~" in out and ") per sequence" in out  # "~47.9 tok/s (40-55) per sequence"
    code, out, _ = run_main(["estimate", "--model", "llama-3-8b", "--gpu", "rtx-4090", "--json"], capsys)
    speed = json.loads(out)["speed"]
    lo, hi = speed["decode_tokens_per_s_range"]
    assert lo <= speed["decode_tokens_per_s"] <= hi
    assert len(speed["time_to_first_token_loaded_s_range"]) == 2


@pytest.mark.parametrize("engine", ["vllm", "llama.cpp"])
def test_time_band_is_the_rate_band_inverted(catalog, engine):
    req = Request(model="llama-3-8b", engine=engine, precision=PRECISION.get(engine, "bf16"), prompt_tokens=2000)
    s = scenarios.run(catalog, req).speed
    lo_rate, hi_rate = s.prefill_tokens_per_s_range
    lo_t, hi_t = s.time_to_first_token_s_range
    assert lo_t / s.time_to_first_token_s == pytest.approx(s.prefill_tokens_per_s / hi_rate)
    assert hi_t / s.time_to_first_token_s == pytest.approx(s.prefill_tokens_per_s / lo_rate)


def test_recommend_table_shows_bands(capsys):
    """recommend's speed cells carry the bands as estimate prints them: "~45.6 tok/s (45.6-129)" (bands.approx),
    and its JSON the [lo, hi] of every speed figure, the one-user first token included."""
    args = ["recommend", "--model", "llama-3-8b", "--gpu", "rtx-4090", "--users", "2", "--top", "1"]
    code, out, _ = run_main(args, capsys)
    table = out.split("Recommended:")[0]
    assert code == 0 and "~" in table and "tok/s" in table and "-" in table.split("~", 1)[1]
    code, out, _ = run_main([*args, "--json"], capsys)
    speed = json.loads(out)["options"][0]["speed"]
    for name in ("decode_tokens_per_s", "decode_tokens_per_s_total", "time_to_first_token_one_user_s"):
        lo, hi = speed[f"{name}_range"]
        assert lo <= speed[name] <= hi, name
