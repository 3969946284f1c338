"""Expert parallelism for MoE training: experts' states sharded over EP ranks (GShard, DeepSpeed-MoE, Megatron-Core
MoE), the all-to-all dispatch/combine traffic, and which trainers do it."""

from __future__ import annotations

import pytest
from cli_run import run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing.estimate import train_comm, train_memory
from sizing.scenarios import resolve_execution, run
from sizing.specs import Request, SizingError, System

MOE = st.sampled_from(["qwen3-30b-a3b", "deepseek-v2-lite", "mixtral-8x7b"])


def moe_request(model: str, ep: int | None, sharding: str = "zero1", **kw) -> Request:
    return Request(
        model=model, task="full-finetune", trainer="deepspeed", sharding=sharding, gpu="h100-sxm", n_gpus=8, ep=ep, **kw
    )


@settings(max_examples=20, deadline=None)
@given(MOE, st.sampled_from(["zero1", "zero2", "zero3"]), st.sampled_from([(1, 2), (2, 4), (4, 8), (1, 8)]))
def test_memory_per_gpu_never_rises_with_more_expert_parallel_ranks(catalog, model, sharding, ways):
    few, many = (run(catalog, moe_request(model, ep, sharding)) for ep in ways)
    assert many.memory.per_gpu_bytes <= few.memory.per_gpu_bytes * (1 + 1e-9)
    if sharding != "zero3":  # replicated weights: EP strictly shrinks them (zero3 already shards them over all 8)
        assert many.memory.breakdown.weights_bytes < few.memory.breakdown.weights_bytes


def test_expert_weights_split_by_ep_on_replicated_weights(catalog):
    """ZeRO-1 replicates the bf16 weights: with EP 8 each GPU keeps the dense part and 1/8 of the routed experts."""
    model, x = resolve_execution(catalog, moe_request("qwen3-30b-a3b", 8))
    x = x.on_gpus(8)
    f = train_memory.expert_share(model)
    assert 0.9 < f < 1.0  # Qwen3-30B-A3B: 128 experts x 48 layers hold ~97% of the weights
    sp = train_memory.split(model, x)
    assert sp.weights == pytest.approx((1 - f) + f / 8)
    assert train_memory.expert_ways(model, x) == 8


def test_all_to_all_traffic_is_two_sends_of_top_k_hidden_states_per_layer(catalog):
    """2 x tokens x top_k x hidden x 2 bytes per MoE layer per pass pair, (ep-1)/ep of it leaving the GPU."""
    model, x = resolve_execution(catalog, moe_request("qwen3-30b-a3b", 8))
    x = x.on_gpus(8)
    system = System.of(catalog.gpu("h100-sxm"), 8)
    tokens = 2048.0
    link = system.gpu_link
    # pairwise exchange over 8 GPUs: one send (latency_s) and 6 further steps (hop_s)
    one = (
        tokens * model.n_active_experts * model.hidden_size * 2 * (7 / 8) / link.bytes_s
        + link.latency_s
        + 6 * link.hop_s
    )
    passes = 4 + (2 if x.training.recompute == "full" else 0)
    assert train_comm.expert_alltoall_s(model, x, system, tokens, 8) == pytest.approx(model.n_moe_layers * passes * one)
    assert train_comm.expert_alltoall_s(model, x, system, 2 * tokens, 8) > train_comm.expert_alltoall_s(
        model, x, system, tokens, 8
    )


def test_ep_is_chosen_where_the_trainer_supports_it(catalog):
    auto = run(catalog, moe_request("mixtral-8x7b", None))
    assert auto.execution.parallelism.ep == 8  # DeepSpeed-MoE: experts over the node's 8 GPUs (8 experts)
    hf = run(catalog, Request(model="mixtral-8x7b", task="lora", gpu="h100-sxm", n_gpus=8))
    assert hf.execution.parallelism.ep == 1  # HF Trainer + PEFT: no expert parallel
    dense = run(
        catalog, Request(model="qwen2.5-7b", task="full-finetune", trainer="deepspeed", gpu="h100-sxm", n_gpus=8)
    )
    assert dense.execution.parallelism.ep == 1


def test_ep_must_divide_the_ranks_and_experts(catalog):
    e = run(catalog, moe_request("mixtral-8x7b", 3))
    assert e.execution.parallelism.ep == 1 and any("--ep 3" in n for n in e.notes)


def test_ep_without_support_is_a_one_line_error(catalog, capsys):
    with pytest.raises(SizingError, match="--ep"):
        run(catalog, Request(model="mixtral-8x7b", task="lora", gpu="h100-sxm", n_gpus=8, ep=8))
    code, _, err = run_main(
        ["estimate", "--task", "full-finetune", "--model", "qwen2.5-7b", "--trainer", "megatron", "--ep", "4"], capsys
    )
    assert code == 2 and "--ep 4 needs an MoE model" in err
