"""Bench harness tests: tiny shapes on CPU; the `gpu` ones run only where CUDA is present."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sizing import bench
from sizing.modelspec import generic_model
from sizing.specs import SizingError

TINY = generic_model(1.5e8).model_copy(update={"n_layers": 2, "vocab_size": 2048})


def tiny_run(**workload) -> bench.BenchRun:
    """The TINY decoder on CPU in float32 under `workload` (prompt_tokens, new_tokens, batch)."""
    return bench.BenchRun(model_spec=TINY, device="cpu", dtype="f32", **workload)


def fake_measurement(**update) -> bench.Measurement:
    """A plausible H100 run of llama-3-8b (no torch needed)."""
    fields = dict(
        device="cuda",
        device_name="NVIDIA H100 80GB HBM3",
        torch_version="2.13.0",
        cuda_version="12.8",
        dtype="bf16",
        model_id="llama-3-8b",
        n_layers=32,
        n_params=8.03e9,
        prompt_tokens=512,
        new_tokens=128,
        batch=1,
        bandwidth_bytes_s=2.9e12,
        matmul_flops=700e12,
        matmul_n=8192,
        prefill_tokens_per_s=9000.0,
        decode_tokens_per_s=80.0,
        allocated_peak_bytes=16.3e9,
        reserved_peak_bytes=16.6e9,
        device_peak_bytes=17.2e9,
        measured_at="2026-11-28T00:00:00+00:00",
    )
    return bench.Measurement(**{**fields, **update})


def fake_comparison(catalog, **update) -> bench.Comparison:
    m = fake_measurement(**update)
    return bench.compare(m, catalog.model("llama-3-8b"), catalog, catalog.gpu("h100-sxm"))


# ---- import boundary ----------------------------------------------------------------------------------------
def test_import_does_not_pull_torch():
    code = "import sys, sizing.bench; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ---- GPU names ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "gpu_id"),
    [
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 PCIe", "h100-pcie"),
        ("NVIDIA H100 NVL", "h100-nvl"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA H200 NVL", "h200-nvl"),
        ("NVIDIA GeForce RTX 4090", "rtx-4090"),
        ("NVIDIA GeForce RTX 4090 D", "rtx-4090-d"),
        ("NVIDIA A100-SXM4-80GB", "a100-80gb-sxm"),
        ("NVIDIA A100 80GB PCIe", "a100-80gb-pcie"),
        ("NVIDIA RTX 6000 Ada Generation", "rtx-6000-ada"),
        ("NVIDIA L40S", "l40s"),
    ],
)
def test_match_gpu_maps_device_names(catalog, name, gpu_id):
    gpu = bench.match_gpu(catalog, name)
    assert gpu is not None and gpu.id == gpu_id


@pytest.mark.parametrize("name", ["Tesla V100-SXM2-32GB", "NVIDIA GeForce RTX 4090 Laptop GPU", "AMD EPYC 9654"])
def test_match_gpu_unknown_is_none(catalog, name):
    assert bench.match_gpu(catalog, name) is None


# ---- comparison and results files ---------------------------------------------------------------------------
def test_compare_gives_ratio_per_metric(catalog):
    c = fake_comparison(catalog)
    assert c.gpu_id == "h100-sxm" and c.engine == "transformers"
    bw = c.metric("bandwidth_bytes_s")
    assert bw.estimate == pytest.approx(3350e9)  # gpus.csv: H100 SXM 3,350 GB/s
    assert bw.ratio == pytest.approx(2.9e12 / 3350e9)
    assert c.metric("matmul_flops").estimate == pytest.approx(989e12)  # gpus.csv: bf16 dense 989 TFLOPS
    for name in ("prefill_tokens_per_s", "decode_tokens_per_s", "allocated_peak_bytes", "device_peak_bytes"):
        row = c.metric(name)
        assert row.estimate and row.estimate > 0 and row.ratio == pytest.approx(row.measured / row.estimate)
    # weights alone are 16 GB (8.03B x 2 B), so the allocated estimate sits just above
    assert 16e9 < c.metric("allocated_peak_bytes").estimate < 18e9


def test_compare_without_gpu_keeps_measurements(catalog):
    c = bench.compare(fake_measurement(device_name="Tesla V100"), catalog.model("llama-3-8b"), catalog, None)
    assert c.gpu_id is None and all(r.estimate is None and r.ratio is None for r in c.metrics)
    assert c.metric("decode_tokens_per_s").measured == 80.0
    assert any("no catalog GPU" in n for n in c.notes)


def test_save_round_trips_and_keys_by_gpu_and_model(catalog, tmp_path):
    c1 = fake_comparison(catalog)
    path = bench.save(c1, tmp_path)
    assert path == tmp_path / "h100-sxm__llama-3-8b.json"
    assert bench.load_results(path).runs == (c1,)
    c8 = fake_comparison(catalog, batch=8)
    bench.save(c8, tmp_path)
    again = fake_comparison(catalog, decode_tokens_per_s=90.0)  # same workload: replaces the first run
    bench.save(again, tmp_path)
    loaded = bench.load_results(path)
    assert loaded.gpu == "h100-sxm" and loaded.model == "llama-3-8b"
    assert loaded.runs == (c8, again)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h100-sxm__llama-3-8b.json"]  # no temp files left


def test_failed_write_keeps_old_file_and_leaves_no_temp(catalog, tmp_path, monkeypatch):
    c = fake_comparison(catalog)
    path = bench.save(c, tmp_path)
    before = path.read_text()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(SizingError, match="cannot write .*pick another --out"):
        bench.save(fake_comparison(catalog, batch=4), tmp_path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_unwritable_out_dir_is_a_sizing_error(catalog, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SizingError, match=r"^cannot write .*; pick another --out$"):
        bench.save(fake_comparison(catalog), blocker / "out")


def test_foreign_json_is_not_overwritten(catalog, tmp_path):
    (tmp_path / "h100-sxm__llama-3-8b.json").write_text('{"something": "else"}')
    with pytest.raises(SizingError, match="not a bench results file"):
        bench.save(fake_comparison(catalog), tmp_path)


def test_table_lists_every_metric(catalog):
    text = bench.table(fake_comparison(catalog))
    assert text.splitlines()[0].split() == ["metric", "measured", "estimated", "ratio"]
    assert "decode_tokens_per_s" in text and "GB/s" in text and "TFLOP/s" in text


# ---- measurements on CPU ------------------------------------------------------------------------------------
def test_bandwidth_and_matmul_are_positive():
    pytest.importorskip("torch")
    assert bench.measure_bandwidth("cpu", size_bytes=4 * 2**20, repeats=2) > 0
    assert bench.measure_matmul("cpu", "f32", n=64, repeats=2) > 0
    assert 0 < bench.measure_launch("cpu", n=50) < 0.01


def test_tiny_decoder_prefill_and_decode(catalog):
    torch = pytest.importorskip("torch")
    dec = bench.build_decoder(TINY, "cpu", "f32", batch=2, max_tokens=12)
    assert dec.k_cache.shape == (2, 2, TINY.n_kv_heads, 12, TINY.head_dim)
    assert bench.measure_prefill(tiny_run(prompt_tokens=8, batch=2), repeats=1, decoder=dec) > 0
    assert dec.length == 8
    assert bench.measure_decode(tiny_run(prompt_tokens=8, new_tokens=4, batch=2), decoder=dec) > 0
    assert dec.length == 12  # the cache grew from prompt to prompt + new
    assert torch.count_nonzero(dec.k_cache[:, :, :, 11]) > 0
    with pytest.raises(SizingError, match="cannot add"):
        bench.forward(dec, torch.zeros((2, 1), dtype=torch.long))  # full


def test_decode_step_by_step_grows_the_cache():
    torch = pytest.importorskip("torch")
    dec = bench.build_decoder(TINY, "cpu", "f32", batch=1, max_tokens=6)
    logits = bench.forward(dec, torch.randint(0, TINY.vocab_size, (1, 3)))
    assert logits.shape == (1, TINY.vocab_size) and torch.isfinite(logits).all()
    for expected in (4, 5, 6):
        logits = bench.forward(dec, logits.argmax(-1, keepdim=True))
        assert dec.length == expected


def test_decoder_rejects_moe_and_bad_input(catalog):
    pytest.importorskip("torch")
    with pytest.raises(SizingError, match="dense GQA models only"):
        bench.build_decoder(catalog.model("mixtral-8x7b"), "cpu", "f32", 1, 8)
    with pytest.raises(SizingError, match="dtype 'int4'"):
        bench.measure_matmul("cpu", "int4", n=32)
    with pytest.raises(SizingError, match="new tokens must be at least 1"):
        bench.measure_decode(tiny_run(prompt_tokens=4, new_tokens=0))
    with pytest.raises(SizingError, match="needs .* free on cpu"):
        bench.build_decoder(catalog.model("llama-3-70b"), "cpu", "f32", 1, 8)


def test_run_on_cpu_saves_json(catalog, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("checks the CPU fallback")
    c = bench.run(
        catalog,
        bench.BenchRequest(model="0.15b", prompt_tokens=4, new_tokens=2, quick=True),
        out_dir=tmp_path,
    )
    m = c.measurement
    assert (m.device, m.dtype, m.n_layers) == ("cpu", "f32", bench.CPU_LAYERS)
    assert m.allocated_peak_bytes is None and c.gpu_id is None
    assert any("smoke test" in n for n in c.notes)
    assert bench.load_results(tmp_path / "cpu__0.15b.json").runs == (c,)


# ---- on a GPU -----------------------------------------------------------------------------------------------
@pytest.mark.gpu
def test_gpu_run_compares_with_the_catalog(catalog, tmp_path):
    torch = pytest.importorskip("torch")
    request = bench.BenchRequest(model="llama-3-8b", prompt_tokens=64, new_tokens=8, n_layers=2, quick=True)
    c = bench.run(catalog, request, out_dir=tmp_path)
    m = c.measurement
    assert m.device == "cuda" and m.device_name == torch.cuda.get_device_name()
    assert m.allocated_peak_bytes and m.device_peak_bytes and m.device_peak_bytes >= m.allocated_peak_bytes
    if c.gpu_id:  # a catalog GPU: every metric has an estimate
        assert all(r.ratio and r.ratio > 0 for r in c.metrics)


@pytest.mark.gpu
def test_gpu_bandwidth_is_within_vendor_peak(catalog):
    pytest.importorskip("torch")
    import torch

    measured = bench.measure_bandwidth("cuda", size_bytes=256 * 2**20)
    gpu = bench.match_gpu(catalog, torch.cuda.get_device_name())
    assert measured > 0
    if gpu:
        assert measured < 1.1 * gpu.mem_bw_bytes_s
