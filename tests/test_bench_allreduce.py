"""All-reduce bus bandwidth over two gloo ranks on the CPU, both ways it is launched (torch.multiprocessing and a
torchrun subprocess), reported as nccl-tests busbw."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch")

from sizing.bench import allreduce  # noqa: E402
from sizing.bench.measure import busbw, measure_allreduce_busbw  # noqa: E402
from sizing.specs import SizingError  # noqa: E402


def test_busbw_is_nccl_tests_formula():
    # nccl-tests doc/PERFORMANCE.md: busbw = size / time x 2(n-1)/n; 8 ranks, 1 GB in 10 ms -> 175 GB/s
    assert busbw(1e9, 0.01, 8) == pytest.approx(1e11 * 14 / 8)
    assert busbw(1e9, 0.01, 2) == pytest.approx(1e11)


def test_two_gloo_ranks_give_a_positive_finite_busbw():
    got = measure_allreduce_busbw(2, 4 * 2**20)
    assert math.isfinite(got) and got > 1e6  # loopback TCP moves far more than 1 MB/s


def test_torchrun_launches_the_same_measurement():
    row = allreduce.measure_torchrun(2, 4 * 2**20, backend="gloo")
    assert row["backend"] == "gloo" and row["world"] == 2 and row["bytes"] == 4 * 2**20
    assert math.isfinite(row["busbw_bytes_s"]) and row["busbw_bytes_s"] > 1e6
    assert row["busbw_bytes_s"] == pytest.approx(busbw(row["bytes"], row["seconds"], 2))


def test_torchrun_command_and_bad_worlds():
    cmd = allreduce.torchrun_command(8, 2**28, "nccl")
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--standalone"] and "--nproc-per-node=8" in cmd
    with pytest.raises(SizingError, match="at least 2"):
        measure_allreduce_busbw(1)
    with pytest.raises(SizingError, match="visible GPUs"):
        measure_allreduce_busbw(2, backend="nccl")  # no GPU here


@pytest.mark.gpu
def test_nccl_busbw_over_every_gpu():
    import torch

    n = torch.cuda.device_count()
    if n < 2:
        pytest.skip("NCCL all-reduce needs two GPUs")
    got = measure_allreduce_busbw(n, 64 * 2**20, backend="nccl")
    assert math.isfinite(got) and got > 1e9  # PCIe 3.0 x16 alone moves ~12 GB/s
    row = allreduce.measure_torchrun(n, 64 * 2**20, backend="nccl")
    assert row["busbw_bytes_s"] > 1e9
