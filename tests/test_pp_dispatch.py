"""Layout-dependent engine mechanics: SGLang's overlap scheduler is off under pipeline parallel (server_args.py
_handle_pipeline_parallelism), so a pipelined SGLang step pays the synchronous dispatch; and the multi-GPU traffic
finding names the layout's own collectives (tensor, expert or attention data parallel)."""

from __future__ import annotations

import pytest
from v3_serving import v3_execution

from sizing.estimate.roofline import layer_overhead_s
from sizing.rules.compute import gpu_communication
from sizing.specs import RecommendRequest


def test_sglang_pays_the_synchronous_dispatch_only_when_pipelined(catalog):
    engine = catalog.engine("sglang")
    eff = catalog.efficiency("sglang", "datacenter")
    assert eff.copied_from  # no SGLang rows of its own: the layer cost comes from its mechanics
    one, two = layer_overhead_s(engine, eff, pp=1), layer_overhead_s(engine, eff, pp=2)
    assert one == pytest.approx(engine.kernels_per_layer * 4.78e-6)
    assert two == pytest.approx(engine.kernels_per_layer * 14.27e-6)
    vllm = catalog.engine("vllm")
    vllm_eff = catalog.efficiency("vllm", "datacenter")
    assert layer_overhead_s(vllm, vllm_eff, pp=1) == layer_overhead_s(vllm, vllm_eff, pp=4)


def test_a_two_node_sglang_build_is_slower_per_user_than_its_overlapped_dispatch_would_give(catalog):
    from sizing.estimate import estimate
    from sizing.specs import Parallelism, System

    model, x = v3_execution(catalog, n_gpus=16)
    x = x.model_copy(update={"parallelism": Parallelism.for_engine(x.engine, 8, n_nodes=2)})
    assert x.parallelism.pp == 2  # two 8-GPU nodes: --pp-size 2
    gpu = catalog.gpu("h200")
    system = System.of(gpu, 8, n_nodes=2)
    eff = catalog.efficiency("sglang", "datacenter")
    slow = estimate(model, x, system, eff)
    overlapped = x.model_copy(update={"engine": x.engine.model_copy(update={"pp_dispatch_s_per_kernel": None})})
    fast = estimate(model, overlapped, system, eff)
    assert slow.speed.decode_tokens_per_s < fast.speed.decode_tokens_per_s
    said = "SGLang turns its overlap scheduler off across pipeline stages: each step waits for it"
    assert said in slow.notes and said not in fast.notes
    one_node = estimate(model, v3_execution(catalog)[1], System.of(gpu, 8), eff)
    assert not any("overlap scheduler" in n for n in one_node.notes)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({}, "tensor parallel over"),
        ({"ep": 8}, "expert parallel over"),
        ({"dp_attention": True}, "attention data parallel over"),
    ],
)
def test_the_traffic_finding_names_the_layouts_collectives(catalog, extra, words):
    from sizing import scenarios

    req = RecommendRequest(model="deepseek-v3", engine="sglang", precision="fp8", users=8, gpus_allowed=("h200",))
    result = scenarios.recommend(catalog, req.model_copy(update=extra))
    multi = [o for o in result.options if o.candidate.build.n_gpus > 1]
    assert multi, [r.findings[0].message for r in result.rejected][:3]
    found = gpu_communication(multi[0].candidate)
    assert found.ok and found.message.startswith(words), found.message
    kind = found.key.split("|")[0].removeprefix("finding.gpu_communication.")
    assert kind == {"tensor parallel over": "tensor", "expert parallel over": "expert"}.get(words, "dp_attention")
