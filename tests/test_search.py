"""The search's shortcuts give the answers the plain path gives: the picks one Composer keeps, the rule cores judged
once per input, and `passing` (the relaxations' search) against `search`."""

from __future__ import annotations

import inspect

import pytest

from sizing import rules
from sizing.recommend import Composer, derive
from sizing.recommend.relax import ways_out
from sizing.recommend.search import Shape, chassis_for, compose, judge, passing, search, walk
from sizing.scenarios import problem_of
from sizing.specs import Candidate, Finding, RecommendRequest

REQUESTS = [
    RecommendRequest(model="7b", gpus_allowed=("rtx-4090", "rtx-3090", "l40s", "h100-sxm"), max_gpus=8),
    RecommendRequest(model="llama-3-70b", precision="awq-int4", gpus_allowed=("rtx-a6000", "l40s"), budget=30_000),
    RecommendRequest(model="qwen2.5-7b", task="lora", gpus_allowed=("rtx-4090", "rtx-pro-6000"), circuit="230v-10a"),
    RecommendRequest(model="7b", target_tokens_per_s=200, gpus_allowed=("rtx-4090", "l40s", "rtx-a6000")),
    RecommendRequest(model="deepseek-r1", gpus_allowed=("h100-nvl", "a100-80gb-pcie")),  # clusters of 8-GPU servers
]


def shapes(problem, n_max: int = 8):
    composer = Composer(problem)
    for gpu in problem.parts.gpus.values():
        if problem.constraints.gpus and gpu.id not in problem.constraints.gpus:
            continue
        for n in (1, 2, 4, 8):
            if n <= n_max:
                yield Shape(problem, gpu, n, 1, composer)


@pytest.mark.parametrize("req", REQUESTS, ids=lambda r: r.model)
def test_passing_finds_the_options_search_finds(catalog, req):
    problem = problem_of(catalog, req)
    options = search(problem)[0]
    assert options
    assert passing(problem) == options
    assert passing(problem, first=True) == options[:1]


@pytest.mark.parametrize("req", REQUESTS[:3], ids=lambda r: r.model)
def test_a_composer_derives_what_a_fresh_derive_does(catalog, req):
    """One Composer over a whole search gives every build that derive (a fresh one each call) gives, and the same
    bill of materials."""
    problem = problem_of(catalog, req)
    for shape in shapes(problem):
        for chassis in chassis_for(problem, shape.gpu, shape.n):
            kept = shape.composer.derive(shape.requirements, shape.gpu, shape.n, 1, chassis)
            fresh = derive(problem, shape.requirements, shape.gpu, shape.n, 1, chassis)
            assert kept == fresh
            if not isinstance(kept, Finding):
                assert shape.composer.bill(kept) == Composer(problem).bill(kept)


def candidates(catalog, req: RecommendRequest) -> list[Candidate]:
    problem = problem_of(catalog, req)
    out = []
    for shape in shapes(problem, 4):
        for chassis in chassis_for(problem, shape.gpu, shape.n):
            composed = compose(shape, chassis)
            if not isinstance(composed, Finding):
                out.append(composed.candidate)
    return out


def test_rule_cores_judged_once_give_what_they_give_afresh(catalog):
    """Each remembered rule core returns the finding it computes from scratch."""
    every = candidates(catalog, REQUESTS[0])
    remembered = [rules.check(c) for c in every]
    cores = [
        f
        for module in (rules.platform, rules.compute, rules.power, rules.price)
        for f in vars(module).values()
        if callable(f)
    ]
    cleared = [f.cache_clear() for f in cores if hasattr(f, "cache_clear")]
    assert len(cleared) >= 10
    assert [rules.check(c) for c in every] == remembered


def test_build_rules_read_no_estimate(catalog):
    """BUILD_RULES judge a build without its estimate (the relaxations' search screens builds with them on another
    system's estimate): in the source, and on a candidate given an estimate of another shape."""
    for rule in rules.BUILD_RULES:
        assert "estimate" not in inspect.getsource(rule).split('"""')[-1], rule.__name__
    assert set(rules.BUILD_RULES) | set(rules.WORK_RULES) == set(rules.RULES)
    every = candidates(catalog, REQUESTS[1])
    other = candidates(catalog, REQUESTS[2])[0].estimate
    for c in every:
        moved = c.model_copy(update={"estimate": other})
        assert [rule(moved) for rule in rules.BUILD_RULES] == [rule(c) for rule in rules.BUILD_RULES]


def evaluated_in_full(shape: Shape, chassis):
    """The plain path: the build on its own estimate, every rule."""
    composed = compose(shape, chassis)
    return shape.rejection(chassis.id, (composed,)) if isinstance(composed, Finding) else judge(shape, composed)


@pytest.mark.parametrize(
    "req",
    [
        *REQUESTS,
        RecommendRequest(model="7b", max_ttft_s=0.5, gpus_allowed=("rtx-4090", "l40s", "a100-80gb-pcie")),
        RecommendRequest(model="mixtral-8x7b", gpus_allowed=("rtx-4090", "l40s", "h100-nvl")),
    ],
    ids=lambda r: r.model,
)
def test_a_build_rejected_on_the_bare_estimate_is_rejected_as_in_full(catalog, req):
    """Without a speed target (rules.speed_can_fail), search rejects a build that fails a rule reading no speed on
    the shape's bare estimate: every Option and Rejection is the one the plain path (own estimate, every rule)
    gives, in the same order."""
    problem = problem_of(catalog, req)
    untimed = req.target_tokens_per_s is None and req.max_ttft_s is None and req.task == "inference"
    assert Shape(problem, problem.parts.gpus["l40s"], 1, 1).untimed is untimed
    options, rejected = search(problem)
    plain = list(walk(problem, evaluated_in_full))
    assert [o for o in plain if o in options] == options
    assert [o for o in plain if o not in options] == rejected
    assert rules.UNTIMED_RULES + rules.SPEED_RULES == tuple(sorted(rules.RULES, key=rules.SPEED_RULES.__contains__))


def test_a_baseboard_gpu_without_a_chassis_says_how_its_boards_come(catalog):
    """SXM and OAM GPUs sit on baseboards sold whole: a count or generation no chassis takes is said so (HGX: 4 or 8
    of one generation; OCP UBB: 8 OAMs of one generation)."""
    req = RecommendRequest(model="7b", gpus_allowed=("mi300x", "mi355x", "h100-sxm"), max_gpus=8)
    boxes = {k: v for k, v in catalog.chassis.items() if "cdna4" not in v.gpu_archs}  # no MI355X platform left
    without = catalog.model_copy(update={"chassis": boxes})
    messages = {
        (r.gpu, r.n_gpus): r.findings[0].message for r in search(problem_of(without, req))[1] if r.chassis == "-"
    }
    for n in (1, 2, 4):
        assert "OAM baseboards take one generation in counts of 8" in messages[("mi300x", n)]
    assert "no chassis in chassis.csv is sold with 8 OAM cdna4 GPUs (OAM baseboards" in messages[("mi355x", 8)]
    assert "HGX baseboards take one generation, in counts of 4 or 8" in messages[("h100-sxm", 2)]


@pytest.mark.parametrize(
    "req",
    [
        RecommendRequest(model="7b", budget=2_000, gpus_allowed=("rtx-4090", "rtx-3090", "rtx-a6000")),
        RecommendRequest(model="7b", target_tokens_per_s=1_500, gpus_allowed=("rtx-4090", "l40s")),
        RecommendRequest(model="llama-3-70b", gpus_allowed=("rtx-4090",), max_gpus=2, circuit="120v-15a"),
    ],
    ids=["budget", "target", "memory"],
)
def test_the_relaxations_reuse_the_first_searchs_builds_without_changing_a_way_out(catalog, req, monkeypatch):
    """ways_out with the Composer of the search that found nothing (its builds and estimates kept) says what it says
    when every relaxation's search starts afresh."""
    problem = problem_of(catalog, req)
    kept = Composer(problem)
    options, rejected = search(problem, kept)
    assert not options
    shared = ways_out(problem, rejected, kept)
    monkeypatch.setattr(Composer, "serves", lambda self, p: False)
    assert ways_out(problem, rejected) == shared
    assert not shared[0].startswith("no change tried")
