"""Serving replicas (issue 14): a node's GPUs as R data-parallel copies of a tp = GPUs / R tensor-parallel group
(estimate/replicas.py) and the recommender's choice among the legal splits (recommend/search.py best_split)."""

from __future__ import annotations

import json

import pytest
from cli_run import run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing.estimate import estimate, inference, replicas
from sizing.estimate.launch import launch_command
from sizing.recommend import search
from sizing.recommend.search import Shape, replica_counts, split_order
from sizing.scenarios import Request, problem_of, resolve_execution
from sizing.specs import Parallelism, RecommendRequest, System

GPU = "h100-sxm"


def split(catalog, model: str, users: int, tp: int, r: int, engine: str = "vllm"):
    """(model, execution on r replicas of tp GPUs serving `users`, the node's system, efficiency)."""
    gpu = catalog.gpu(GPU)
    m, x = resolve_execution(catalog, Request(model=model, engine=engine, gpu=GPU, batch=users))
    x = x.model_copy(update={"parallelism": Parallelism(tp=tp, dp=r)})
    return m, x, System.of(gpu, tp * r), catalog.efficiency(x.engine.id, gpu.gpu_class)


def test_qwen7b_on_eight_910b_builds_as_replicas(catalog):
    """28 query heads do not split 8 ways (vLLM's start-up check), so 8 x 910B used to build nothing with
    vllm-ascend; as replicas of TP 4, 2 or 1 every module serves."""
    req = RecommendRequest(model="qwen2.5-7b", gpus_allowed=("ascend-910b",), engine="vllm-ascend")
    problem = problem_of(catalog, req)
    assert replica_counts(problem, 8, 1) == [1, 2, 4, 8]  # TP 8 (refused), 4, 2, 1
    options, _ = search(problem)
    assert options
    for o in options:
        p = o.estimate.execution.parallelism
        assert o.build.n_gpus == 8 and p.tp in (1, 2, 4) and p.tp * p.dp == 8 and o.estimate.fits
        assert f"--tensor-parallel-size {p.tp}" in (o.estimate.launch_command or "")
        assert f"--data-parallel-size {p.dp}" in (o.estimate.launch_command or "")
        assert all(f.ok for f in o.findings)


def test_recommend_json_and_terminal_say_the_split(capsys):
    args = ["recommend", "--model", "qwen2.5-7b", "--gpu", "ascend-910b", "--engine", "vllm-ascend"]
    code, out, err = run_main([*args, "--json"], capsys)
    assert code == 0, err
    top = json.loads(out)["options"][0]
    assert top["split"]["tp"] * top["split"]["replicas"] == 8 and top["split"]["replicas"] > 1
    code, text, _ = run_main(args, capsys)
    assert f"as {top['split']['replicas']} x TP {top['split']['tp']}" in text
    assert "replicas of" in text and "--data-parallel-size" in text


def test_a_model_that_splits_over_every_gpu_keeps_one_group_unless_replicas_rank_better(catalog):
    """llama-3-70b on 8 x H100 at 4 users: one TP-8 group decodes each user faster than any replica split of the
    same machine (same price), so the single group stays; every option says dp 1 or is strictly better. (An 8B
    model no longer shows it: with the fitted NVLink latency, data/links.csv, 2 x TP 4 and TP 8 tie within 0.5%.)"""
    req = RecommendRequest(model="llama-3-70b", gpus_allowed=(GPU,), engine="vllm")
    problem = problem_of(catalog, req)
    options, _ = search(problem)
    eight = next(o for o in options if o.build.n_gpus == 8)
    assert eight.estimate.execution.parallelism == Parallelism(tp=8)


@settings(max_examples=25, deadline=None)
@given(users=st.integers(1, 64), r=st.sampled_from([2, 4, 8]))
def test_a_replica_never_needs_more_memory_per_gpu_than_one_gpu_with_every_user(catalog, users, r):
    """A replica holds 1/tp of the weights and its ceil(users/R) users' cache, never more than TP 1 with all."""
    m, x, system, eff = split(catalog, "llama-3-8b", users, 8 // r, r)
    one_gpu = inference.memory(m, x.model_copy(update={"parallelism": Parallelism()}), System.of(system.gpu))
    assert estimate(m, x, system, eff).memory.need_per_gpu_bytes <= one_gpu.need_per_gpu_bytes * (1 + 1e-12)


@settings(max_examples=25, deadline=None)
@given(per_replica=st.integers(1, 32), r=st.sampled_from([2, 4, 8]), tp=st.sampled_from([1, 2]))
def test_r_replicas_deliver_r_times_one_replica_at_users_over_r(catalog, per_replica, r, tp):
    """Users = R x k: decode and prefill throughput are R x one replica's at k users; per-user rate, first-token
    times and memory per GPU are that replica's."""
    m, x, system, eff = split(catalog, "qwen2.5-7b", r * per_replica, tp, r)
    many = estimate(m, x, system, eff)
    x1 = x.model_copy(update={"parallelism": Parallelism(tp=tp), "batch": per_replica})
    one = inference.estimate(m, x1, System.of(system.gpu, tp), eff)
    assert many.speed.decode_tokens_per_s_total == pytest.approx(r * one.speed.decode_tokens_per_s_total, rel=1e-9)
    assert many.speed.prefill_tokens_per_s == pytest.approx(r * one.speed.prefill_tokens_per_s, rel=1e-9)
    assert many.speed.decode_tokens_per_s == pytest.approx(one.speed.decode_tokens_per_s, rel=1e-9)
    assert many.speed.time_to_first_token_s == pytest.approx(one.speed.time_to_first_token_s, rel=1e-9)
    assert many.memory.need_per_gpu_bytes == pytest.approx(one.memory.need_per_gpu_bytes, rel=1e-9)
    assert many.memory.max_batch_at_context == r * one.memory.max_batch_at_context
    assert many.fits == one.fits and many.execution.batch == r * per_replica


def test_uneven_users_load_the_busiest_replica(catalog):
    """5 users on 2 replicas: 3 on the busiest; every user gets its per-user rate, so the total is 5 x that."""
    m, x, system, eff = split(catalog, "qwen2.5-7b", 5, 4, 2)
    e = estimate(m, x, system, eff)
    x1, s1 = replicas.replica_of(x, system)
    assert (x1.batch, s1.n_gpus, x1.parallelism.dp) == (3, 4, 1)
    assert e.speed.decode_tokens_per_s_total == pytest.approx(5 * e.speed.decode_tokens_per_s, rel=1e-9)


def test_launch_commands_for_replicas(catalog):
    """vLLM and SGLang start the replicas themselves (--data-parallel-size, --dp-size) with each rank's share of the
    users; an MoE model, whose vLLM data-parallel ranks share the expert layers, and an engine without such a
    flag run one server per group behind a load balancer."""
    m, x, _, _ = split(catalog, "qwen2.5-7b", 8, 2, 4)
    cmd = launch_command(m, x)
    assert "--tensor-parallel-size 2" in cmd and "--data-parallel-size 4" in cmd and "--max-num-seqs 2" in cmd
    m, x, _, _ = split(catalog, "qwen2.5-7b", 8, 2, 4, engine="sglang")
    assert "--tp 2" in launch_command(m, x) and "--dp-size 4" in launch_command(m, x)
    m, x, _, _ = split(catalog, "mixtral-8x7b", 8, 4, 2)
    moe = launch_command(m, x)
    assert "--data-parallel-size" not in moe and "x 2: one server per 4-GPU group" in moe
    m, x, _, _ = split(catalog, "qwen2.5-7b", 8, 2, 4, engine="lmdeploy")
    assert "--tp 2" in launch_command(m, x) and "behind a load balancer" in launch_command(m, x)


def test_layer_split_engines_and_clusters_keep_one_group(catalog):
    llama = problem_of(catalog, RecommendRequest(model="qwen2.5-7b", gpus_allowed=(GPU,), engine="llama.cpp"))
    assert replica_counts(llama, 8, 1) == [1]
    vllm = problem_of(catalog, RecommendRequest(model="qwen2.5-7b", gpus_allowed=(GPU,), engine="vllm"))
    assert replica_counts(vllm, 8, 2) == [1]
    assert replica_counts(vllm, 4, 1) == [1, 2, 4]  # 28 heads split 1, 2 and 4 ways


def test_split_order_puts_a_better_split_first_and_keeps_the_group_as_fallback(catalog):
    """qwen2.5-7b on 8 x H100: TP 8 is illegal (28 heads), so the best legal split goes first and the single group
    last (its rejection explains a shape where no split passes); llama-3-70b at 4 users: TP 8 beats every split, so
    it is judged alone."""
    qwen = problem_of(catalog, RecommendRequest(model="qwen2.5-7b", gpus_allowed=(GPU,), engine="vllm"))
    gpu = catalog.gpu(GPU)
    shapes = [Shape(qwen, gpu, 8, 1, None, r) for r in replica_counts(qwen, 8, 1)]
    order = split_order(shapes)
    assert len(order) == 2 and order[-1] is shapes[0] and order[0].execution.parallelism.dp > 1
    assert order[0].bare.throughput_tokens_per_s == max(s.bare.throughput_tokens_per_s for s in shapes[1:])
    llama = problem_of(catalog, RecommendRequest(model="llama-3-70b", gpus_allowed=(GPU,), engine="vllm"))
    shapes = [Shape(llama, gpu, 8, 1, None, r) for r in replica_counts(llama, 8, 1)]
    assert split_order(shapes) == [shapes[0]]
