"""One training step on the CPU (full fine-tune and LoRA on q and v) of a tiny shape: positive, finite, repeatable
within a stated spread; LoRA trains far fewer parameters; the estimator's set-up for the same step."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch")

from sizing import bench  # noqa: E402
from sizing.bench import training as tr  # noqa: E402
from sizing.modelspec import generic_model  # noqa: E402

TINY = generic_model(1.5e8).model_copy(update={"n_layers": 2, "vocab_size": 2048})


def work(seq: int = 16) -> bench.BenchRun:
    return bench.BenchRun(model_spec=TINY, device="cpu", dtype="f32", prompt_tokens=seq, batch=1)


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_a_training_step_is_positive_finite_and_repeatable(mode):
    steps = [tr.measure_train_step(work(), mode, repeats=2) for _ in range(2)]
    for s in steps:
        assert math.isfinite(s.tokens_per_s) and s.tokens_per_s > 0 and s.step_s > 0
        assert s.tokens_per_s == pytest.approx(16 / s.step_s)
    # the same step twice on a shared 2-core box: within a factor of 4 (other processes steal the cores)
    assert max(s.tokens_per_s for s in steps) / min(s.tokens_per_s for s in steps) < 4


def test_lora_trains_only_the_adapters():
    full, lora = tr.measure_train_step(work(), "full", 1), tr.measure_train_step(work(), "lora", 1)
    h, q, kv = TINY.hidden_size, TINY.n_heads * TINY.head_dim, TINY.n_kv_heads * TINY.head_dim
    # rank r on q (h -> q) and v (h -> kv): A is r x in, B is out x r (Hu et al. 2021)
    assert lora.trainable_params == TINY.n_layers * tr.LORA_RANK * (h + q + h + kv)
    assert full.trainable_params > 100 * lora.trainable_params
    assert full.trainable_params == pytest.approx(TINY.derived_params, rel=0.02)


def test_bad_shapes_are_one_line_errors():
    from sizing.specs import SizingError

    with pytest.raises(SizingError, match="seq_len >= 2"):
        tr.measure_train_step(work(seq=1), "full")


def test_the_estimator_gets_the_benchs_set_up(catalog):
    step = tr.TrainStep(
        mode="lora", device="cuda", dtype="bf16", batch=1, seq_len=512, n_layers=4,
        trainable_params=1.0, step_s=0.1, tokens_per_s=5120.0,
    )  # fmt: skip
    spec = catalog.model("llama-3-8b").model_copy(update={"n_layers": 4})
    rate, mem = tr.estimated_step(catalog, spec, step, catalog.gpu("h100-sxm"))
    full_rate, full_mem = tr.estimated_step(
        catalog, spec, step.model_copy(update={"mode": "full"}), catalog.gpu("h100-sxm")
    )
    assert rate > 0 and mem > 0
    assert full_mem > mem  # full fine-tuning keeps gradients and AdamW moments of every weight
    assert full_rate < rate  # and computes the weight gradients a frozen base skips (4N of 6N, Kaplan et al.)


def test_cpu_checks_report_measurements_only(catalog):
    checks = tr.training_checks(catalog, "qwen2.5-0.5b", "cpu", None, quick=True)
    names = {c.name for c in checks}
    assert {"train_full_tokens_per_s", "train_lora_tokens_per_s"} <= names
    assert all(c.ok is None for c in checks)  # nothing promised on a CPU


@pytest.mark.gpu
def test_gpu_training_steps_are_compared_with_the_training_estimate(catalog):
    import torch

    from sizing.bench.compare import match_gpu

    gpu = match_gpu(catalog, torch.cuda.get_device_name())
    checks = tr.training_checks(catalog, "llama-3-8b", "cuda", gpu, quick=True)
    rates = [c for c in checks if c.name.endswith("tokens_per_s")]
    assert len(rates) == 2 and all(isinstance(c.measured, float) and c.measured > 0 for c in rates)
    if gpu is not None:  # a catalog GPU: every figure has an estimate and a verdict
        assert all(c.estimated and c.ratio and c.ok is not None for c in checks)


@pytest.mark.parametrize("impl", ["fused", "foreach", "for-loop"])
def test_each_adamw_implementation_runs_and_is_recorded(impl):
    step = tr.measure_train_step(work(), "full", repeats=1, impl=impl)
    assert step.optimizer_impl == impl and step.tokens_per_s > 0


def test_a_slice_of_a_model_is_estimated_with_its_own_parameters(catalog):
    """validate's GPU training step runs 4 of llama-3-8b's 32 layers: its states are those of 4 layers plus the
    embedding and head (1.92B), not the whole 8.03B model's (the slice estimated at 48 GiB measured 18 GiB)."""
    from sizing.bench.decoder import cut

    spec = cut(catalog.model("llama-3-8b"), n_layers=4)
    assert spec.n_layers == 4 and spec.n_params == pytest.approx(spec.derived_params)
    assert spec.n_params == pytest.approx(1.923e9, rel=1e-3)
    step = tr.TrainStep(
        mode="full", optimizer_impl="foreach", device="cuda", dtype="bf16", batch=1, seq_len=512, n_layers=4,
        trainable_params=1.0, step_s=0.1, tokens_per_s=5120.0,
    )  # fmt: skip
    _, mem = tr.estimated_step(catalog, spec, step, catalog.gpu("h200"))
    assert mem / 2**30 == pytest.approx(19_299_676_160 / 2**30, rel=0.12)  # validate on an H200, 2026-12-04


def test_the_mechanics_script_writes_files_calibrate_passes_over(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from sizing.bench.files import load_runs
    from sizing.specs import SizingError

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "device_mechanics.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    saved = sorted(p.name for p in tmp_path.glob("*.json"))
    assert saved == ["cpu.dispatch.json", "cpu.training.json"]
    import json

    training = json.loads((tmp_path / "cpu.training.json").read_text())
    assert training["kind"] == "mechanics-training" and {s["optimizer_impl"] for s in training["steps"]} == {
        "foreach",
        "fused",
    }
    with pytest.raises(SizingError, match="no saved runs"):  # recognised, and holding no decoder runs
        load_runs([tmp_path])


def test_cuda_graph_replay_needs_a_gpu():
    import torch

    from sizing.bench.measure import measure_graph_launch
    from sizing.specs import SizingError

    if torch.cuda.is_available():
        assert 0 < measure_graph_launch(200, replays=3) < 1e-4
    else:
        with pytest.raises(SizingError, match="CUDA GPU"):
            measure_graph_launch()
