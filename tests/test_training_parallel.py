"""Pipeline (1F1B) and context parallel training, and packed vs padded sequences (issue #11)."""

from __future__ import annotations

import pytest
from cli_run import run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing.estimate import train_comm, train_memory, train_roofline, training
from sizing.scenarios import resolve_execution, run
from sizing.specs import Request, System


def pretrain(**kw) -> Request:
    base = {"model": "llama-3.1-8b", "task": "pretrain", "trainer": "megatron", "gpu": "h100-sxm", "n_gpus": 8}
    return Request(**{**base, **kw})


@pytest.mark.parametrize(("pp", "m", "bubble"), [(4, 8, 3 / 11), (1, 8, 0.0), (2, 1, 1 / 2), (8, 64, 7 / 71)])
def test_1f1b_bubble_is_pp_minus_1_over_m_plus_pp_minus_1(pp, m, bubble):
    """Narayanan et al. 2021 §2.2.1: bubble / ideal = (p - 1) / m, i.e. (p - 1) / (m + p - 1) of the step."""
    assert train_comm.pipeline_bubble(pp, m) == pytest.approx(bubble)


def test_pipeline_step_pays_the_bubble(catalog):
    """Same tp x pp grid, more micro-batches: the idle share falls to the formula's and compute per token with it
    (the optimizer step, once per step after the pipeline flush, set aside)."""
    few, many = (run(catalog, pretrain(tp=2, pp=4, grad_accum=m)) for m in (4, 32))
    assert few.training.pipeline_bubble == pytest.approx(3 / 7)
    assert many.training.pipeline_bubble == pytest.approx(3 / 35)

    def micro_batches_s(e) -> float:
        step = train_roofline.optimizer_step_bytes(e.model, e.execution) / e.system.gpu.mem_bw_bytes_s
        return e.training.compute_s - step

    per_tok = [micro_batches_s(e) / e.training.tokens_per_step for e in (few, many)]
    assert per_tok[0] / per_tok[1] == pytest.approx((1 - 3 / 35) / (1 - 3 / 7))
    assert few.execution.parallelism.model_dump() == {"tp": 2, "pp": 4, "dp": 1, "cp": 1, "ep": 1, "adp": 1}


def test_first_stage_holds_pp_micro_batches_in_flight(catalog):
    model, x = resolve_execution(catalog, pretrain(tp=1, pp=4, grad_accum=8))
    one = x.model_copy(update={"training": x.training.model_copy(update={"grad_accum": 1})})
    assert train_memory.in_flight(x) == 4 and train_memory.in_flight(one) == 1
    act, _ = train_memory.activation_bytes(model, x)
    act1, _ = train_memory.activation_bytes(model, one)
    assert act == pytest.approx(4 * act1)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([(1, 2), (2, 4), (4, 8), (1, 8)]), st.sampled_from([1, 8]))
def test_state_memory_per_gpu_falls_with_pipeline_stages(catalog, ways, m):
    """Each stage holds layers / pp of the weights, gradients and optimizer (activations: pp in flight x L / pp)."""
    few, many = (run(catalog, pretrain(pp=pp, tp=1, n_gpus=8, grad_accum=m)) for pp in ways)
    states = [
        e.memory.breakdown.weights_bytes + e.memory.breakdown.optimizer_bytes + e.memory.breakdown.gradients_bytes
        for e in (few, many)
    ]
    assert states[1] < states[0]
    assert many.memory.per_gpu_bytes < few.memory.per_gpu_bytes


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([(1, 2), (2, 4), (1, 4)]), st.sampled_from([8192, 32768]))
def test_activation_memory_per_gpu_falls_with_context_parallel(catalog, ways, seq):
    lo, hi = ways
    few, many = (run(catalog, pretrain(tp=2, cp=cp, seq_len=seq)) for cp in (lo, hi))
    assert many.memory.breakdown.activations_bytes < few.memory.breakdown.activations_bytes
    assert many.memory.per_gpu_bytes < few.memory.per_gpu_bytes


def test_context_exchange_is_2_cp_minus_1_over_cp_of_kv_per_layer(catalog):
    """Forward: 2 x (cp-1)/cp x seq x kv_hidden x 2 bytes per layer; backward twice that (3x in all)."""
    model, x = resolve_execution(catalog, pretrain(tp=1, cp=4, seq_len=32768))
    system = System.of(catalog.gpu("h100-sxm"), 8)
    link = system.gpu_link
    kv = model.n_kv_heads * model.head_dim
    fwd = 2 * 3 / 4 * 32768 * kv * 2 / link.bytes_s + 3 * link.latency_s
    assert train_comm.context_exchange_s(model, x, system) == pytest.approx(3 * model.n_layers * fwd)
    plain = x.model_copy(update={"parallelism": x.parallelism.model_copy(update={"cp": 1})})
    assert train_comm.context_exchange_s(model, plain, system) == 0.0


def test_grid_search_picks_pipeline_when_tensor_parallel_in_a_node_does_not_fit(catalog):
    """Four nodes of 8: Megatron's default (tp 8 in the node, dp 2 over nodes) replicates 70B's states per node and
    does not fit; the grid search finds a tp x pp split that does."""
    model, x = resolve_execution(catalog, pretrain(model="llama-3.1-70b", grad_accum=16))
    system = System.of(catalog.gpu("h100-sxm"), 8, n_nodes=4)
    x = x.on_gpus(8, 4)
    assert x.parallelism.tp == 8 and x.parallelism.dp == 4
    assert not train_memory.memory(model, x, system).estimate.fits
    chosen = training.best_grid(model, x, system)
    p = chosen.parallelism
    assert p.pp > 1 and p.tp * p.pp * p.cp * p.dp == 32
    assert train_memory.memory(model, chosen, system).estimate.fits


def test_padded_time_is_at_least_packed_time(catalog):
    """Unpacked samples of mean 512 tokens padded to 2048: a quarter of the tokens are real, the run takes 4x."""
    common = {"model": "llama-3.1-8b", "task": "lora", "gpu": "h100-sxm", "seq_len": 2048, "tokens": 1e8}
    packed = run(catalog, Request(**common, packing="on", mean_seq_len=512))
    padded = run(catalog, Request(**common, packing="off", mean_seq_len=512))
    assert padded.training.total_s >= packed.training.total_s
    assert padded.training.useful_tokens_per_s == pytest.approx(padded.training.train_tokens_per_s / 4)
    assert padded.memory.per_gpu_bytes == pytest.approx(packed.memory.per_gpu_bytes)  # sized on the padded length
    assert padded.training.train_s == pytest.approx(4 * packed.training.train_s)


def test_packing_default_comes_from_the_trainer(catalog):
    assert catalog.trainer("axolotl").packing and not catalog.trainer("transformers").packing
    _, x = resolve_execution(catalog, Request(model="llama-3.1-8b", task="lora", trainer="axolotl"))
    assert x.training.packing
    _, x = resolve_execution(catalog, Request(model="llama-3.1-8b", task="lora", trainer="trl"))
    assert not x.training.packing


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--pp", "-1"], "pp"),
        (["--cp", "-2"], "cp"),
        (["--packing", "maybe"], "--packing maybe"),
        (["--tp", "2", "--trainer", "transformers"], "no tensor, pipeline or context parallel"),
        (["--mean-seq-len", "9000", "--seq-len", "4096"], "--mean-seq-len 9000 is above"),
    ],
)
def test_bad_parallel_and_packing_options_are_one_line_exit_2(capsys, args, needle):
    code, _, err = run_main(["estimate", "--task", "pretrain", "--model", "llama-3.1-8b", *args], capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_pp_option_reaches_the_json(capsys):
    import json

    code, out, _ = run_main(
        [
            "estimate",
            "--task",
            "pretrain",
            "--model",
            "llama-3.1-8b",
            "--gpus",
            "8",
            "--tp",
            "2",
            "--pp",
            "4",
            "--grad-accum",
            "8",
            "--json",
        ],
        capsys,
    )
    d = json.loads(out)
    assert code == 0 and d["assumptions"]["parallelism"] == {"tp": 2, "pp": 4, "dp": 1, "cp": 1, "ep": 1, "adp": 1}
    assert d["time"]["pipeline_bubble"] == pytest.approx(3 / 11, abs=1e-4)
