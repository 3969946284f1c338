"""Issue #13's "Done means" for `sizing validate`, the parts tests/test_validate.py does not hold: every CPU
measurement positive, finite and repeatable within a stated spread; the pass/fail arithmetic at its thresholds and
the exit status; the largest-batch bisection surviving a fake allocator's out-of-memory errors; a saved validation
read back as the runs it was made of."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("torch")

from sizing import bench  # noqa: E402
from sizing.bench import probes  # noqa: E402
from sizing.bench import validate as v  # noqa: E402
from sizing.bench.build_check import BANDS, Check, Promise, banded, share  # noqa: E402
from sizing.bench.files import load_runs  # noqa: E402
from sizing.modelspec import generic_model  # noqa: E402
from sizing.specs import SizingError  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"

# The same figure twice on this shared 2-core box (eight helpers and CI jobs at once), each the best of three calls
# interleaved with the other's (STREAM's best-rate convention), on one torch thread (a 2-thread call stalls whenever
# either core is taken): within a factor of 4. Wide because other processes take the cores mid-run, narrow enough
# to catch a unit or timing slip.
SPREAD = 4.0
TINY = generic_model(1.5e8).model_copy(update={"n_layers": 2, "vocab_size": 2048})


def _tiny_run(**kw) -> bench.BenchRun:
    return bench.BenchRun(model_spec=TINY, device="cpu", dtype="f32", **({"prompt_tokens": 8} | kw))


MEASUREMENTS = {
    "copy_bandwidth": lambda: bench.measure_bandwidth("cpu", size_bytes=8 * 2**20, repeats=3),
    "matmul_f32": lambda: bench.measure_matmul("cpu", "f32", n=256, repeats=3),
    "numpy_matmul": lambda: probes.numpy_matmul_flops(256, repeats=3),
    "triad": lambda: probes.measure_triad(probes.TRIAD_BYTES_QUICK, repeats=3),
    "prefill": lambda: bench.measure_prefill(_tiny_run(batch=2), repeats=1),
    "decode": lambda: bench.measure_decode(_tiny_run(new_tokens=4)),
}


@pytest.fixture
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", sorted(MEASUREMENTS))
def test_each_cpu_measurement_is_positive_finite_and_repeatable(name, one_thread):
    samples = [MEASUREMENTS[name]() for _ in range(6)]
    first, second = max(samples[0::2]), max(samples[1::2])  # interleaved: both halves see the same load
    for value in (first, second):
        assert math.isfinite(value) and value > 0, (name, value)
    assert max(first, second) / min(first, second) < SPREAD, (name, first, second)


def test_the_matmul_comparison_times_both_libraries_on_the_same_problem(monkeypatch):
    monkeypatch.setattr(probes, "SETTLE_S", 0.0)
    ours, ref = probes.cpu_matmul_pair(128, rounds=2, repeats=2)
    assert ours > 0 and ref > 0 and math.isfinite(ours / ref)
    with pytest.raises(SizingError, match="n >= 16"):
        probes.cpu_matmul_pair(8)


# ---- the comparison logic ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("offset", "ok"), [(0.0, True), (-0.01, False), (50.0, True), (-100.0, False)])
def test_a_share_passes_at_its_threshold_and_not_below(offset, ok):
    measured = max(0.0, 100.0 * v.GPU_MATMUL_SHARE + offset)
    c = share("matmul_bf16", measured, 100.0, v.GPU_MATMUL_SHARE, "FLOP/s", "peak")
    assert c.ok is ok and c.ratio == pytest.approx(measured / 100.0)


def test_a_healthy_h200_passes_its_own_pass_lines():
    """What validate measured on a healthy H200 (data/benchmarks/validate/h200): bf16 760 TFLOP/s of 989, fp8 1,315
    of 1,979, a 4,111 GB/s device copy of 4,800. An acceptance test that fails these would reject a good machine."""
    measured = json.loads(next((DATA / "benchmarks" / "validate" / "h200").glob("validate-*.json")).read_text())
    got = {m["name"]: m for m in measured["measurements"]}
    for name, line in (("matmul_bf16", v.GPU_MATMUL_SHARE), ("matmul_fp8", v.GPU_FP8_SHARE)):
        assert got[name]["measured"] / got[name]["estimated"] >= line, name
    bw = got["memory_bandwidth"]
    assert bw["measured"] / bw["estimated"] >= v.GPU_BANDWIDTH_SHARE


def test_nothing_promised_is_informational_not_a_failure():
    c = share("x", 5.0, 0.0, 0.8, "B/s", "no spec")
    assert c.ok is None and c.ratio is None
    assert v.Validation(device={}, checks=(c,)).ok


@pytest.mark.parametrize(("ratio", "ok"), [(1.0, True), (1.25, True), (0.75, True), (1.26, False), (0.74, False)])
def test_decoder_figures_pass_within_the_band_either_way(ratio, ok):
    c = Check(name="decode_tokens_per_s", measured=ratio, estimated=1.0, ratio=ratio)
    (judged,) = banded([c], None, v.DECODE_BAND)
    assert judged.ok is ok and "within 25%" in judged.basis
    # against a saved build the estimator's own band applies (12% for decode)
    (tight,) = banded([c], Promise(build={}, kind="recommend"), v.DECODE_BAND)
    assert tight.ok is (abs(ratio - 1) <= BANDS["decode_tokens_per_s"])


@pytest.mark.parametrize(("oks", "code"), [((True, None), 0), ((True, False), 1)])
def test_the_exit_status_follows_the_verdict(capsys, monkeypatch, oks, code):
    from cli_run import run_main

    checks = tuple(Check(name=f"c{i}", measured=1.0, ok=ok) for i, ok in enumerate(oks))
    monkeypatch.setattr(v, "validate", lambda *_a, **_k: v.Validation(device={"gpus": []}, checks=checks))
    got, out, _ = run_main(["validate", "--quick"], capsys)
    assert got == code and ("falls short" in out) is (code == 1)


# ---- the largest batch, by bisection over a fake allocator ---------------------------------------------------
def test_largest_batch_survives_out_of_memory_from_a_fake_allocator(catalog, monkeypatch):
    from sizing.bench import decoder

    tried = []

    def fake_build(spec, kind, dtype, batch, tokens):
        tried.append(batch)
        if batch > 11:
            raise RuntimeError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return object()

    monkeypatch.setattr(decoder, "build_decoder", fake_build)
    check = v._largest_batch(catalog, "qwen2.5-0.5b", "cpu", None, quick=False)
    assert check.measured == 11 and check.name == "largest_batch" and check.ok is None
    assert max(tried) > 11 and len(tried) < 20


def test_a_failure_that_is_not_out_of_memory_is_not_swallowed(catalog, monkeypatch):
    from sizing.bench import decoder

    def broken(*_a):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(decoder, "build_decoder", broken)
    with pytest.raises(RuntimeError, match="shapes"):
        v._largest_batch(catalog, "qwen2.5-0.5b", "cpu", None, quick=True)


# ---- a saved validation read back ---------------------------------------------------------------------------
def test_a_saved_validation_reads_back_as_its_runs(catalog, tmp_path):
    run = bench.run(catalog, bench.BenchRequest(model="0.15b", quick=True, prompt_tokens=8, new_tokens=2))
    saved = v.Validation(
        device={"gpu_id": None, "measured_at": "2026-12-02T00:00:00Z"},
        checks=(Check(name="a", measured=1.0, ok=True),),
        runs=(run,),
    )
    path = v.save_validation(saved, tmp_path)
    assert path.parent.name == "cpu" and path.name.startswith("validate-")
    ((where, back),) = load_runs([tmp_path])
    assert where == path and back == run


# ---- the GPU matmul sweep -----------------------------------------------------------------------------------
def test_the_gpu_sweep_judges_the_best_size_and_says_why_a_dtype_did_not_run(catalog, monkeypatch):
    def fake(dtype, n, device="cuda"):
        if dtype == "fp8":
            raise SizingError("this GPU has no fp8 tensor cores (compute capability below 8.9)")
        return {"bf16": 0.9, "f16": 0.7, "f32": 0.5, "tf32": 0.6}[dtype] * 1e12 * n / 2048

    monkeypatch.setattr(v, "measure_matmul_as", fake)
    h100 = catalog.gpus["h100-sxm"]
    checks = {c.name: c for c in v.gpu_matmul_checks(h100, quick=True, say=lambda _m: None)}
    assert list(checks) == ["matmul_bf16", "matmul_f16", "matmul_f32", "matmul_tf32", "matmul_fp8"]
    assert checks["matmul_bf16"].measured == pytest.approx(0.9e12)  # n=2048 beats n=1024
    assert checks["matmul_bf16"].estimated == h100.peak_flops("bf16") and "1024: " in checks["matmul_bf16"].basis
    assert checks["matmul_tf32"].ok is None and checks["matmul_tf32"].estimated is None
    assert checks["matmul_fp8"].ok is None and "compute capability" in str(checks["matmul_fp8"].measured)
    a100 = catalog.gpus["a100-80gb-sxm"]  # no fp8 peak in the catalog: no fp8 row
    assert "matmul_fp8" not in {c.name for c in v.gpu_matmul_checks(a100, quick=True, say=lambda _m: None)}


def test_fp8_and_tf32_matmuls_need_a_gpu():
    from sizing.bench.measure import measure_matmul_fp8, measure_matmul_tf32

    with pytest.raises(SizingError, match="CUDA"):
        measure_matmul_fp8("cpu", 64)
    assert measure_matmul_tf32("cpu", 64, repeats=2) > 0  # the flag is CUDA's; CPU runs plain f32


@pytest.mark.gpu
def test_gpu_matmuls_reach_a_share_of_the_datasheet_and_never_pass_it(catalog):
    import torch

    gpu = bench.match_gpu(catalog, torch.cuda.get_device_name())
    if gpu is None:
        pytest.skip("this GPU is not in the catalog")
    checks = {c.name: c for c in v.gpu_matmul_checks(gpu, quick=True, say=lambda _m: None)}
    for name in ("matmul_bf16", "matmul_f16", "matmul_f32"):
        c = checks[name]
        assert isinstance(c.measured, float) and math.isfinite(c.measured) and c.measured > 0
        assert c.ratio is not None and 0 < c.ratio < 1.1, (name, c.ratio)  # the datasheet is a ceiling
    assert torch.backends.cuda.matmul.allow_tf32 is False  # the TF32 run restored PyTorch's default
