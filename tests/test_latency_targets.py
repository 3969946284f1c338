"""Latency targets: the first token of one request at a loaded server and each user's decode speed
(sizing/estimate/inference.py loaded_ttft_s, sizing/rules/latency.py)."""

from __future__ import annotations

import json

import pytest
from cli_run import run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizing import answers, scenarios
from sizing.estimate.inference import loaded_ttft_s
from sizing.recommend.search import search
from sizing.rules.latency import targets, ttft_finding, user_speed_finding
from sizing.specs import RecommendRequest, Request, StepTime


def step(total: float, weights: float) -> StepTime:
    return StepTime(total_s=total, weights_s=weights, kv_s=0.0, compute_s=0.0, comm_s=0.0, host_s=0.0, bound="memory")


def test_one_user_waits_for_its_own_prompt(catalog):
    e = scenarios.run(catalog, Request(model="llama-3-8b", gpu="rtx-4090", batch=1, prompt_tokens=1000))
    assert e.speed.time_to_first_token_loaded_s == pytest.approx(e.speed.time_to_first_token_one_user_s)


def test_queueing_model_by_hand(catalog):
    """b = 5 users, prompt 1,000 tokens, 100 new; S = 0.1 s alone, a decode step of 20 ms of which 15 ms reads the
    weights. Others' prefill load rho = 4 x 0.1 / (0.1 + 100 x 0.02) = 0.1905; M/D/1 wait rho S / (2 (1 - rho))
    = 11.76 ms; half a step in flight 10 ms; the prompt fits one chunk of the 8,192-token budget (vLLM), whose step
    carries the 4 decode tokens' non-weight time, 5 ms."""
    x = scenarios.resolve_execution(catalog, Request(model="llama-3-8b", batch=5, prompt_tokens=1000, new_tokens=100))[
        1
    ]
    rho = 4 * 0.1 / (0.1 + 100 * 0.02)
    want = 0.01 + rho * 0.1 / (2 * (1 - rho)) + 0.1 + 0.005
    assert loaded_ttft_s(x, step(0.1, 0.0), step(0.02, 0.015)) == pytest.approx(want, rel=1e-12)


def test_saturated_queue_is_bounded_by_the_closed_system(catalog):
    """Prefill demand above the server's capacity (rho >= 1): the wait is every other user's prefill, not infinite."""
    x = scenarios.resolve_execution(catalog, Request(model="llama-3-8b", batch=9, prompt_tokens=1000, new_tokens=1))[1]
    got = loaded_ttft_s(x, step(1.0, 0.0), step(0.001, 0.001))
    assert got == pytest.approx(0.0005 + 8 * 1.0 + 1.0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(users=st.integers(1, 64), prompt=st.integers(1, 8000))
def test_loaded_first_token_never_beats_an_idle_server(catalog, users, prompt):
    e = scenarios.run(catalog, Request(model="llama-3-8b", gpu="h100-sxm", batch=users, prompt_tokens=prompt))
    more = scenarios.run(catalog, Request(model="llama-3-8b", gpu="h100-sxm", batch=users + 1, prompt_tokens=prompt))
    s = e.speed
    assert s.time_to_first_token_loaded_s >= s.time_to_first_token_one_user_s * (1 - 1e-12)
    assert more.speed.time_to_first_token_loaded_s >= s.time_to_first_token_loaded_s * (1 - 1e-12)


def test_findings_say_have_and_target(catalog):
    e = scenarios.run(catalog, Request(model="llama-3-8b", gpu="rtx-4090", batch=8, prompt_tokens=2000))
    have = e.speed.time_to_first_token_loaded_s
    assert ttft_finding(e, have * 2).ok and not ttft_finding(e, have / 2).ok
    assert "target" in ttft_finding(e, have / 2).message
    assert ttft_finding(e, None).ok and user_speed_finding(e, None).ok
    rate = e.speed.decode_tokens_per_s
    assert user_speed_finding(e, rate / 2).ok and not user_speed_finding(e, rate * 2).ok
    assert [f.rule for f in targets(e, 1.0, 10.0)] == ["first_token", "user_speed"]


def builds(result) -> set[tuple[str, int, str]]:
    return {(o.build.gpu.id, o.build.n_gpus * o.build.n_nodes, o.build.chassis.id) for o in result.options}


BASE = dict(model="llama-3-8b", users=8, context=4096, gpus_allowed=("rtx-4090", "rtx-5090", "l40s"), max_gpus=4)


@pytest.fixture(scope="module")
def untargeted(catalog):
    """Every build that passes without a target (not only each shape's best: under a target a shape's best chassis
    may be another that passes anyway, e.g. an uncapped one where the cheaper capped one misses the target)."""
    return search(scenarios.problem_of(catalog, RecommendRequest(**BASE)))[0]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ttft=st.one_of(st.none(), st.floats(0.05, 5.0)),
    tps=st.one_of(st.none(), st.floats(5.0, 120.0)),
)
def test_latency_targets_only_remove_builds(catalog, untargeted, ttft, tps):
    """Property: a latency target never adds a build, and every build kept meets it."""
    found = scenarios.recommend(catalog, RecommendRequest(**BASE, max_ttft_s=ttft, min_user_tokens_per_s=tps))
    assert builds(found) <= {(o.build.gpu.id, o.build.n_gpus * o.build.n_nodes, o.build.chassis.id) for o in untargeted}
    for o in found.options:
        s = o.estimate.speed
        assert ttft is None or s.time_to_first_token_loaded_s <= ttft
        assert tps is None or s.decode_tokens_per_s >= tps


def test_unmet_target_offers_ways_out(catalog):
    found = scenarios.recommend(catalog, RecommendRequest(**BASE, max_ttft_s=0.0001))
    assert not found.options
    assert any("first_token" in {f.rule for f in r.findings} for r in found.rejected)
    assert any("--max-ttft-s" in way for way in found.ways_out)


def test_cli_estimate_shows_targets(capsys):
    code, out, _ = run_main(
        ["estimate", "--model", "llama-3-8b", "--batch", "8", "--max-ttft-s", "0.0001", "--min-user-tokens-per-s", "1"],
        capsys,
    )
    assert code == 0
    assert "Target MISSED: first token after" in out and "Target met: each user decodes" in out
    code, out, _ = run_main(["estimate", "--model", "llama-3-8b", "--max-ttft-s", "5", "--json"], capsys)
    got = json.loads(out)
    assert got["targets_met"] is True and got["targets"][0]["rule"] == "first_token"
    assert got["speed"]["time_to_first_token_loaded_s"] > 0


def test_cli_bad_target_is_one_line(capsys):
    code, out, err = run_main(["estimate", "--model", "llama-3-8b", "--max-ttft-s", "-1"], capsys)
    assert code == 2 and "Traceback" not in err and out == ""
    assert "max_ttft_s" in err or "max-ttft-s" in err


def test_scenario_file_takes_latency_targets(catalog, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "model,gpu,batch,prompt_tokens,max_ttft_s,min_user_tokens_per_s\nllama-3-8b,rtx-4090,4,1000,0.0001,1\n"
    )
    (result,) = list(answers.run_scenarios(catalog, path))
    assert [f.ok for f in result.targets] == [False, True]
