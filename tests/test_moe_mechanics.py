"""MoE serving mechanics: distinct experts touched at batch b, collective costs, MoE/MLA kernels per layer."""

from __future__ import annotations

import pytest

from sizing.estimate import shapes
from sizing.estimate.comm import allreduce_s, alltoall_s
from sizing.estimate.roofline import layer_kernel_scale
from sizing.specs import Link

NVLINK = Link(kind="nvlink", name="NVLink", bytes_s=450e9, latency_s=10e-6)


class _Moe:
    """Only the fields experts_touched reads: DeepSeek-V3's 256 routed experts, 8 per token."""

    n_experts, n_active_experts = 256, 8


def test_experts_touched_published_points() -> None:
    m = _Moe()
    assert shapes.experts_touched(m, 1) == pytest.approx(8)  # one token reads its k experts
    assert shapes.experts_touched(m, 10_000) == pytest.approx(256)  # a large batch reads every expert
    # E(1 - (1 - k/E)^b) at b = 32: 256 (1 - (31/32)^32) = 163.3
    assert shapes.experts_touched(m, 32) == pytest.approx(163.3, abs=0.1)


def test_experts_touched_monotone_in_batch() -> None:
    m = _Moe()
    vals = [shapes.experts_touched(m, b) for b in range(1, 300)]
    assert all(b > a for a, b in zip(vals, vals[1:], strict=False))
    assert vals[-1] <= 256


def test_allreduce_grows_with_tp() -> None:
    msg = 64 * 7168 * 2
    costs = [allreduce_s(NVLINK, n, msg) for n in (1, 2, 4, 8)]
    assert costs[0] == 0.0
    assert all(b > a for a, b in zip(costs, costs[1:], strict=False))


def test_alltoall_cost() -> None:
    assert alltoall_s(NVLINK, 1, 1e6) == 0.0
    assert alltoall_s(NVLINK, 8, 1e6) == pytest.approx(10e-6 + 7 / 8 * 1e6 / 450e9)


def test_kernel_scale_dense_is_one_and_moe_mla_more(catalog) -> None:
    assert layer_kernel_scale(catalog.model("llama-3-8b")) == 1.0
    ds = catalog.model("deepseek-r1")
    assert ds.is_mla and ds.is_moe
    assert layer_kernel_scale(ds) > layer_kernel_scale(catalog.model("qwen3-30b-a3b")) > 1.0
