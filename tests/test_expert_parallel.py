"""Expert-parallel serving (--ep, sizing/estimate/expert.py): what a GPU holds and reads, the all-to-all per MoE
layer, the launch flags, and that ep = 1 is the tensor-parallel estimate unchanged."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from v3_serving import v3_estimate, v3_execution

from sizing import scenarios
from sizing.estimate import expert, shapes
from sizing.estimate.comm import alltoall_s
from sizing.specs import SizingError, System


def test_ep_one_is_todays_estimate(catalog) -> None:
    plain, one = v3_estimate(catalog), v3_estimate(catalog, ep=1)
    assert one.execution.parallelism == plain.execution.parallelism
    assert one.speed == plain.speed and one.memory == plain.memory
    assert one.decode_step == plain.decode_step and one.prefill == plain.prefill
    assert one.launch_command == plain.launch_command


def test_alltoall_bytes_per_layer(catalog) -> None:
    model, _ = v3_execution(catalog)
    # DeepSeek-V3 config.json: hidden_size 7168, num_experts_per_tok 8; bf16 activations, dispatch + combine
    assert model.hidden_size == 7168 and model.n_active_experts == 8
    assert expert.alltoall_bytes_per_layer(model, 32) == 2 * 32 * 8 * 7168 * 2


def test_alltoall_time_is_the_comm_formula(catalog) -> None:
    model, x = v3_execution(catalog, ep=8)
    system = System.of(catalog.gpu("h200"), 8)
    one_way = 32 * 8 * 7168 * 2
    want = 2 * alltoall_s(system.gpu_link, 8, one_way / 8)
    assert expert.alltoall_s_per_layer(model, x, system, 32) == pytest.approx(want, rel=1e-12)


def test_experts_held_per_gpu_fall_with_ep_at_fixed_tp(catalog) -> None:
    """tp 8 on one node: each GPU holds E / ep experts, each split tp / ep ways; the bytes per GPU never rise (at a
    fixed GPU count they equal the tensor-parallel share when ep divides the experts)."""
    counts, held = [], []
    for ep in (1, 2, 4, 8):
        model, x = v3_execution(catalog, ep=ep)
        assert x.parallelism.tp == 8 and x.parallelism.ep == ep
        counts.append(expert.experts_per_gpu(model, x))
        lin, _ = shapes.weight_bytes(model, x.precision)
        held.append(expert.held_weight_bytes(model, x, lin, 1 / 8))
    assert counts == [256, 128, 64, 32]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(held, held[1:], strict=False))
    assert held[-1] == pytest.approx(held[0], rel=1e-9)


def test_uneven_split_holds_more(catalog) -> None:
    """6 GPUs, ep 6: 256 experts do not split evenly, the busiest holds ceil(256 / 6) = 43 > 256 / 6."""
    model, x = v3_execution(catalog, ep=6, n_gpus=6)
    lin, _ = shapes.weight_bytes(model, x.precision)
    assert expert.experts_per_gpu(model, x) == 43
    assert expert.held_weight_bytes(model, x, lin, 1 / 6) > lin / 6


def test_busiest_experts_bounds_and_simulation(catalog) -> None:
    model, _ = v3_execution(catalog)
    e, ep = 256, 8
    for batch in (1, 4, 32):
        touched = shapes.experts_touched(model, batch)
        busiest = expert.busiest_experts(model, batch, ep)
        assert touched / ep <= busiest <= e / ep
        assert expert.busiest_experts(model, batch, 1) == touched
    # Monte Carlo check of the order-statistics formula at batch 1: 8 distinct experts of 256, 8 groups of 32
    rng = random.Random(7)
    trials = 20_000
    mean_max = sum(max_group(rng.sample(range(e), 8), e // ep) for _ in range(trials)) / trials
    assert expert.busiest_experts(model, 1, ep) == pytest.approx(mean_max, rel=0.05)
    assert expert.busiest_experts(model, 10_000, ep) == pytest.approx(32)  # a large batch reads all 32 on each


def max_group(chosen: list[int], size: int) -> int:
    groups: dict[int, int] = {}
    for c in chosen:
        groups[c // size] = groups.get(c // size, 0) + 1
    return max(groups.values())


def test_ep_reads_more_at_batch_one_same_at_large_batch(catalog) -> None:
    """The busiest GPU sets the pace: at batch 1 it reads more than 1 / tp of the touched experts; at a batch that
    touches every expert, EP and TP read the same bytes per GPU."""
    m, tp_x = v3_execution(catalog, batch=1)
    _, ep_x = v3_execution(catalog, batch=1, ep=8)
    assert expert.weight_read_bytes(m, ep_x, 1) > expert.weight_read_bytes(m, tp_x, 1)
    big_tp, big_ep = expert.weight_read_bytes(m, tp_x, 5000), expert.weight_read_bytes(m, ep_x, 5000)
    assert big_ep == pytest.approx(big_tp, rel=1e-3)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=255))
def test_decode_step_monotone_in_batch(catalog, batch: int) -> None:
    from sizing.estimate import inference

    gpu = catalog.gpu("h200")
    system = System.of(gpu, 8)
    model, x = v3_execution(catalog, ep=8, batch=batch)
    eff = catalog.efficiency(x.engine.id, gpu.gpu_class)
    _, x2 = v3_execution(catalog, ep=8, batch=batch + 1)
    t1 = inference.decode_step(model, x, system, eff, 1024).total_s
    t2 = inference.decode_step(model, x2, system, eff, 1024).total_s
    assert t2 >= t1


def test_launch_flags(catalog) -> None:
    assert "--tp 8 --ep-size 8" in v3_estimate(catalog, ep=8).launch_command
    assert "--enable-expert-parallel" in v3_estimate(catalog, ep=8, engine="vllm").launch_command
    assert "--ep_size 8" in v3_estimate(catalog, ep=8, engine="tensorrt-llm").launch_command
    assert "--ep" not in v3_estimate(catalog).launch_command
    assert "expert-parallel" not in v3_estimate(catalog, engine="vllm").launch_command


def test_ep_capped_to_a_divisor_of_the_node(catalog) -> None:
    found = v3_estimate(catalog, ep=8, n_gpus=4)
    assert found.execution.parallelism.ep == 4
    assert any("--ep 8 on 4" in n for n in found.notes)


def test_ep_refused_on_dense_model_or_engine_without_it(catalog) -> None:
    with pytest.raises(SizingError, match="MoE"):
        v3_execution(catalog, model="llama-3.1-8b", ep=2, precision="bf16")
    with pytest.raises(SizingError, match="no expert parallel"):
        v3_execution(catalog, ep=8, engine="transformers", precision="bf16")


def test_recommend_carries_ep(catalog) -> None:
    from sizing.specs import RecommendRequest

    req = RecommendRequest(model="deepseek-v3", engine="sglang", precision="fp8", users=8, ep=8)
    problem = scenarios.problem_of(catalog, req)
    assert problem.execution.expert_parallel == 8
    assert problem.execution.on_gpus(8).parallelism.ep == 8
    assert problem.execution.on_gpus(2).parallelism.ep == 2


def test_measured_moe_rows_cite_sources() -> None:
    """benchmarks/measured_moe.csv: every row names its workload's split and cites the page it came from."""
    import csv
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "benchmarks/measured_moe.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    assert rows
    for row in rows:
        assert "https://" in row["source"] and row["trust"] in ("high", "medium", "low"), row["row_id"]
        assert int(row["tp"]) >= int(row["ep"]) >= 1 and float(row["value"]) > 0, row["row_id"]


def test_an_expert_parallel_request_keeps_one_group_per_node(catalog) -> None:
    """--ep splits the experts over the node's one tensor-parallel group: the recommender does not also try data-
    parallel replicas of smaller groups (which would drop the ep the user asked for)."""
    from sizing.recommend.search import replica_counts
    from sizing.specs import RecommendRequest

    base = {"model": "qwen3-30b-a3b", "engine": "vllm", "users": 8}
    plain = scenarios.problem_of(catalog, RecommendRequest(**base))
    with_ep = scenarios.problem_of(catalog, RecommendRequest(**base, ep=4))
    assert replica_counts(plain, 4, 1) != [1]
    assert replica_counts(with_ep, 4, 1) == [1]
