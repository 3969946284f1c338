"""The training deadline (rules/deadline.py): the boundary, that a deadline only ever removes builds, and that the
recommender then picks the cheapest build that meets it; the ways out keyed by the rule; the CLI's durations."""

from __future__ import annotations

import pytest
from cli_run import run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing import recommend as rec
from sizing.recommend.search import search
from sizing.rules import RULES, WORK_RULES
from sizing.rules.deadline import deadline
from sizing.scenarios import problem_of
from sizing.specs import Candidate, Option, RecommendRequest, SizingError
from sizing.specs.requests import DURATION_UNITS, MAX_DURATION_S, parse_checkpoint_every, parse_duration

GPUS = ("rtx-4090", "rtx-a6000", "l40s", "h100-pcie")  # a small search: a few seconds on CPU


def request(**changes) -> RecommendRequest:
    base = dict(model="qwen2.5-1.5b", task="full-finetune", tokens=2e9, gpus_allowed=GPUS, form_factor="tower")
    return RecommendRequest(**{**base, **changes})


@pytest.fixture(scope="module")
def free(catalog) -> tuple[rec.Problem, list[Option]]:
    """Every build that passes without a deadline (the tokens given, so each has a run time)."""
    p = problem_of(catalog, request())
    options, _ = rec.search(p)
    assert len(options) >= 3
    return p, options


def with_deadline(c: Candidate, deadline_s: float | None) -> Candidate:
    e = c.estimate
    t = e.execution.training
    x = e.execution.model_copy(update={"training": t.model_copy(update={"deadline_s": deadline_s})})
    return c.model_copy(update={"estimate": e.model_copy(update={"execution": x})})


def test_the_rule_is_registered_and_reads_the_estimate():
    assert deadline in RULES and deadline in WORK_RULES  # judged on the build's own links, never on a bare estimate


def test_deadline_passes_at_the_boundary_and_fails_just_below(free):
    c = free[1][0].candidate
    total = c.estimate.training.total_s
    assert deadline(with_deadline(c, total)).ok  # exactly the run time: met
    below = deadline(with_deadline(c, total * (1 - 1e-6)))
    assert not below.ok
    assert below.rule == "deadline" and "training takes" in below.message and "deadline" in below.message
    assert below.have == pytest.approx(total, abs=0.1)
    assert deadline(with_deadline(c, None)).ok  # no deadline: nothing to judge


@settings(max_examples=50, deadline=None)
@given(st.floats(0.05, 1.0), st.floats(1.0, 4.0))
def test_a_looser_deadline_never_removes_a_build_a_tighter_one_kept(free, share, looser):
    """Over the passing builds' run times: tight = share x the slowest run, loose = looser x tight."""
    options = free[1]
    slowest = max(o.candidate.estimate.training.total_s for o in options)
    tight, loose = share * slowest, share * slowest * looser
    kept_tight = {i for i, o in enumerate(options) if deadline(with_deadline(o.candidate, tight)).ok}
    kept_loose = {i for i, o in enumerate(options) if deadline(with_deadline(o.candidate, loose)).ok}
    assert kept_tight <= kept_loose


def test_recommend_with_a_deadline_keeps_exactly_the_builds_that_meet_it_cheapest_first(catalog, free):
    _, options = free
    times = sorted(o.estimate.training.total_s for o in options)
    cut = times[len(times) // 2]  # the median run: about half the builds meet it
    found = rec.recommend(problem_of(catalog, request(deadline_s=cut)))
    assert found.options
    assert all(o.estimate.training.total_s <= cut for o in found.options)
    kept = {(o.build.gpu.id, o.build.n_gpus) for o in found.options}
    every, _ = search(problem_of(catalog, request()))  # every passing build: a shape's chassis differ in speed
    expected = {(o.build.gpu.id, o.build.n_gpus) for o in every if o.estimate.training.total_s <= cut}
    assert kept == expected  # only the deadline removed builds, and only those over it (a power-capped chassis
    # may miss it where another chassis of the same shape meets it)
    prices = [o.total_price_usd for o in found.options if o.total_price_usd is not None]
    assert prices == sorted(prices)  # cost objective: the cheapest build that meets it first
    assert any(f.rule == "deadline" for r in found.rejected for f in r.findings)


def test_an_impossible_deadline_is_a_value_with_ways_out(catalog):
    found = rec.recommend(problem_of(catalog, request(deadline_s=60.0)))  # 2B tokens in a minute: nothing
    assert not found.options
    failed = {f.rule for r in found.rejected for f in r.findings}
    assert "deadline" in failed
    assert found.ways_out and all(isinstance(w, str) and w for w in found.ways_out)


def test_fewer_tokens_is_a_way_out_when_the_data_is_too_big(catalog, free):
    _, options = free
    fastest = min(o.estimate.training.total_s for o in options)
    found = rec.recommend(problem_of(catalog, request(deadline_s=fastest * 0.6)))  # half the data fits in time
    assert not found.options
    assert any(w.startswith("fewer tokens: --tokens") for w in found.ways_out)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("48h", 172800), ("2d", 172800), ("90m", 5400), ("90min", 5400), ("1h30m", 5400), ("1.5d", 129600)],
)
def test_durations_as_people_write_them(text, seconds):
    assert parse_duration(text, "--deadline") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["48", "soon", "h", "-2h", "0h", "2x"])
def test_bad_durations_are_one_line_errors(text):
    with pytest.raises(SizingError, match="--deadline"):
        parse_duration(text, "--deadline")


@pytest.mark.parametrize(
    ("text", "limit"), [("100000w", "1653w"), ("99999999h", "277777h"), ("1000000w3d", "1653w"), ("2e9s", None)]
)
def test_a_duration_past_the_limit_says_it_in_the_unit_written(text, limit):
    """MAX_DURATION_S (1e9 s) in the largest unit the user wrote, rounded down (1653w is 999.7M s, 1654w is over),
    not "1000000000.0" seconds; the checkpoint interval shares it. (2e9s is no duration: digits and units only.)"""
    with pytest.raises(SizingError) as info:
        parse_duration(text, "--deadline")
    if limit is None:
        assert "is not a duration" in str(info.value)
        return
    assert str(info.value) == f"--deadline must be at most {limit} (about 32 years), got '{text}'"
    count, unit = int(limit[:-1]), DURATION_UNITS[limit[-1]]
    assert parse_duration(limit, "--deadline") == count * unit <= MAX_DURATION_S < (count + 1) * unit
    with pytest.raises(SizingError, match=f"^--checkpoint-every must be at most {limit} "):
        parse_checkpoint_every(text)


def test_cli_says_a_deadline_past_the_limit_as_a_duration(capsys):
    args = ["estimate", "--task", "lora", "--model", "qwen2.5-1.5b", "--tokens", "100M"]
    code, _, err = run_main([*args, "--deadline", "100000w"], capsys)
    assert code == 2 and "--deadline must be at most 1653w (about 32 years), got '100000w'" in err
    assert "1000000000" not in err
    code, _, err = run_main([*args, "--checkpoint-every", "2000000000"], capsys)  # steps: the Request's bound
    assert code == 2 and "--checkpoint-every must be at most 1,000,000,000, got 2000000000" in err


def test_checkpoint_every_takes_steps_or_a_duration():
    assert parse_checkpoint_every("1000") == {"checkpoint_every_steps": 1000}
    assert parse_checkpoint_every("500 steps") == {"checkpoint_every_steps": 500}
    assert parse_checkpoint_every("30m") == {"checkpoint_every_s": 1800}
    with pytest.raises(SizingError, match="--checkpoint-every"):
        parse_checkpoint_every("often")


def test_cli_estimate_reports_the_deadline_and_refuses_one_without_tokens(capsys):
    args = ["estimate", "--task", "lora", "--model", "qwen2.5-1.5b", "--gpu", "rtx-4090", "--tokens", "100M"]
    code, out, _ = run_main([*args, "--deadline", "30d"], capsys)
    assert code == 0 and "meets it" in out
    code, out, _ = run_main([*args, "--deadline", "1m"], capsys)
    assert code == 0 and "MISSES it" in out
    code, out, err = run_main([*args[:-2], "--deadline", "2d"], capsys)
    assert code == 2 and "--deadline needs --tokens" in err and "Traceback" not in err + out
    code, _, err = run_main([*args, "--deadline", "tomorrow"], capsys)
    assert code == 2 and "not a duration" in err and len(err.strip().splitlines()) == 1


def test_a_distillation_deadline_bounds_the_whole_plan(catalog):
    """Every phase one after another must end within --deadline; the plan's build is the cheapest that manages."""
    from sizing import distillation

    base = dict(model="qwen2.5-1.5b", task="distill", teacher="qwen2.5-7b", tokens=5e7, form_factor="tower")
    free = distillation.recommend(catalog, RecommendRequest(**base))
    assert free.chosen is not None and free.build is not None
    cut = free.chosen.total_time_s * 0.7
    bound = distillation.recommend(catalog, RecommendRequest(**base, deadline_s=cut))
    assert bound.chosen is not None and bound.build is not None  # a faster tower exists (a single RTX PRO 4500)
    assert bound.chosen.total_time_s <= cut
    assert (bound.build.total_price_usd or 0) >= (free.build.total_price_usd or 0)
    none = distillation.recommend(catalog, RecommendRequest(**base, deadline_s=60.0))
    assert none.build is None and any("deadline" in n for n in none.notes)


def test_rl_refuses_a_deadline_it_cannot_time(capsys):
    code, _, err = run_main(["recommend", "--task", "grpo", "--model", "qwen2.5-7b", "--deadline", "2d"], capsys)
    assert code == 2 and "--deadline needs --steps or --tokens" in err and "RL" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, _, err = run_main(["estimate", "--task", "lora", "--model", "qwen2.5-1.5b", "--steps", "100"], capsys)
    assert code == 2 and "--steps counts the steps of an RL run" in err


def test_lora_is_a_way_out_of_a_full_fine_tunes_deadline(catalog, free):
    """LoRA skips the weight gradients (6N instead of 8N FLOPs per token with full recomputation): ~1.3x faster."""
    _, options = free
    fastest = min(o.estimate.training.total_s for o in options)
    found = rec.recommend(problem_of(catalog, request(deadline_s=fastest * 0.85)))
    assert not found.options
    assert any(w.startswith("--task lora instead of full-finetune") for w in found.ways_out)
