"""Values a frozen model computes once (specs.base.derived, the kept hash) and the estimator's kept decode work
(inference.decode_work): each must equal what a fresh computation gives, and an update through model_copy must
never carry a stale one (issue 7: faster, with every answer unchanged)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing.estimate import inference
from sizing.scenarios import Request, resolve_execution
from sizing.specs import ModelSpec, System
from sizing.specs.base import DERIVED

KEPT = ("linear_params", "text_params", "derived_params", "derived_active_params", "n_attn_layers", "n_kv_groups")


def fresh(model: ModelSpec) -> ModelSpec:
    """The same fields, validated into a new instance: nothing kept yet."""
    return ModelSpec.model_validate(model.model_dump())


def test_derived_values_equal_a_fresh_computation(catalog):
    for model_id in ("llama-3-8b", "mixtral-8x7b", "deepseek-v3"):
        model = catalog.models[model_id]
        kept = {name: getattr(model, name) for name in KEPT}
        assert kept == {name: getattr(fresh(model), name) for name in KEPT}
        assert kept == {name: getattr(model, name) for name in KEPT}  # read again: the kept value


def test_kept_values_stay_out_of_dump_iteration_equality_and_hash(catalog):
    model = catalog.models["llama-3-8b"]
    other = fresh(model)
    _ = model.linear_params, hash(model)  # fill model's cache only
    assert any(k.startswith(DERIVED) for k in model.__dict__)
    assert not any(k.startswith(DERIVED) for k in other.__dict__)
    assert model == other and hash(model) == hash(other)
    assert dict(model) == dict(other) and model.model_dump() == other.model_dump()
    assert model.model_dump_json() == other.model_dump_json()


@settings(max_examples=25, deadline=None)
@given(n_layers=st.integers(1, 200), hidden=st.sampled_from([1024, 2048, 4096, 8192]))
def test_model_copy_with_an_update_drops_the_kept_values(catalog, n_layers, hidden):
    model = catalog.models["llama-3-8b"]
    _ = model.linear_params, model.text_params, hash(model)
    copied = model.model_copy(update={"n_layers": n_layers, "hidden_size": hidden})
    rebuilt = ModelSpec.model_validate({**model.model_dump(), "n_layers": n_layers, "hidden_size": hidden})
    assert copied.linear_params == rebuilt.linear_params
    assert copied.text_params == rebuilt.text_params
    assert hash(copied) == hash(rebuilt) and copied == rebuilt
    assert {copied: 1}[rebuilt] == 1  # a dict keyed by the copy finds the equal model


def test_a_system_copied_with_a_power_cap_is_a_new_key(catalog):
    """The search keeps estimates per System: a capped copy must not hash as its uncapped original."""
    gpu = catalog.gpu("rtx-4090")
    full = System.of(gpu)
    kept = {full: "full"}
    capped = full.model_copy(update={"gpu_power_limit_w": 0.8 * gpu.tdp_w})
    assert capped not in kept and hash(capped) == hash(System.model_validate(capped.model_dump()))


@pytest.mark.parametrize("model_id", ["llama-3-8b", "deepseek-v3", "qwen3-30b-a3b"])
def test_decode_work_kept_equals_computed(catalog, model_id):
    model, x = resolve_execution(catalog, Request(model=model_id, batch=8, prompt_tokens=2048))
    for context in (2048.5, 2100.0, 4096.0):
        assert inference.decode_work(model, x, context) == inference.decode_work.__wrapped__(model, x, context)
    assert inference.prefill_work(model, x) == inference.prefill_work.__wrapped__(model, x)


def test_decode_step_on_two_systems_reads_each_systems_bandwidth(catalog):
    """The kept work is the machine-independent part: the step time still follows each GPU's bandwidth."""
    model, x = resolve_execution(catalog, Request(model="llama-3-8b", prompt_tokens=2048))
    slow, fast = (catalog.gpu(g) for g in ("rtx-3090", "h100-sxm"))
    steps = [
        inference.decode_step(model, x, System.of(g), catalog.efficiency("vllm", g.gpu_class), 2100.0)
        for g in (slow, fast)
    ]
    ratio = steps[0].weights_s / steps[1].weights_s
    eff = [catalog.efficiency("vllm", g.gpu_class) for g in (slow, fast)]
    expect = (fast.mem_bw_bytes_s * inference.weight_eff(eff[1], x.precision)) / (
        slow.mem_bw_bytes_s * inference.weight_eff(eff[0], x.precision)
    )
    assert ratio == pytest.approx(expect, rel=1e-9)


def test_recommend_path_leaves_the_other_commands_libraries_unloaded():
    """`sizing recommend` starts fast: the CLI imports bench, web, answers, distillation and rl only in the
    commands that use them (issue 7)."""
    code = (
        "import sys, sizing.cli; "
        "print(sorted(m for m in ('sizing.bench', 'sizing.web', 'sizing.answers', 'sizing.distillation', "
        "'sizing.rl', 'torch', 'fastapi', 'openpyxl', 'jinja2', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
