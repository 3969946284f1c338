"""Domestic accelerators and the engines that run on them (issue 14): every new card and CPU resolves, an Ascend 910B
build passes with an Ascend engine, a CUDA-only engine is refused with its reason, and a precision an engine's
vendor kernels lack is refused with the reason (data/engine_support.csv through rule engine_support)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sizing import catalog as cat
from sizing.recommend import search
from sizing.rules import engine_runs_on
from sizing.scenarios import problem_of
from sizing.specs import RecommendRequest, SizingError
from sizing.units import GB, GIB, TERA

NEW_CARDS = {  # id -> an alias users type
    "ascend-910c": "910c",
    "atlas-300i-duo": "300i-duo",
    "atlas-300i-pro": "300i-pro",
    "mlu370-x8": "mlu370",
}
ASCEND_ENGINES = ("vllm-ascend", "mindie", "lmdeploy-pytorch")


@pytest.mark.parametrize(("gpu", "alias"), NEW_CARDS.items())
def test_new_cards_resolve_by_id_and_alias(catalog, gpu, alias):
    assert catalog.gpu(gpu).id == gpu
    assert catalog.gpu(alias).id == gpu


def test_published_figures_read_back(catalog):
    """Atlas 300I Duo: 96 GB LPDDR4X, 408 GB/s, 280 INT8 TOPS, 150 W (Gamers Nexus teardown via 3dnews.ru);
    MLU370-X8: 48 GB, 614.4 GB/s, 96 TFLOPS FP16/BF16, 256 TOPS INT8, 250 W (Cambricon launch, 2022-03)."""
    duo = catalog.gpu("atlas-300i-duo")
    assert duo.memory_bytes == pytest.approx(96 * GIB)
    assert duo.mem_bw_bytes_s == pytest.approx(408 * GB)
    assert duo.int8_ops_s == pytest.approx(280 * TERA)
    assert (duo.tdp_w, duo.vendor, duo.software_stack, duo.form_factor) == (150, "huawei", "cann", "pcie")
    mlu = catalog.gpu("mlu370-x8")
    assert mlu.mem_bw_bytes_s == pytest.approx(614.4 * GB) and mlu.bf16_flops == pytest.approx(96 * TERA)
    assert (mlu.vendor, mlu.software_stack, mlu.tdp_w) == ("cambricon", "neuware", 250)
    c = catalog.gpu("ascend-910c")
    assert c.bf16_flops == pytest.approx(780 * TERA) and "tdp_w" in c.unconfirmed  # press figures only
    kp = catalog.cpus["kunpeng-920-6426"]
    assert (kp.vendor, kp.cores, kp.base_ghz) == ("huawei", 64, 2.6)


def test_ascend_engines_are_huawei_only_and_borrow_vllms_factors(catalog):
    for e in ASCEND_ENGINES:
        engine = catalog.engines[e]
        assert "huawei" in engine.gpu_vendors and engine.fit_like == "vllm"
        row = next(r for r in catalog.efficiencies if r.engine == e)
        assert row.copied_from == "vllm" and row.n_rows == 0 and "UNCONFIRMED" in row.source
    assert catalog.engines["lmdeploy"].gpu_vendors == ("nvidia",)  # TurboMind is C++/CUDA
    assert "huawei" in catalog.engines["llama.cpp"].gpu_vendors  # the CANN backend


@pytest.mark.parametrize("engine", ASCEND_ENGINES)
def test_ascend_build_passes_with_an_ascend_engine(catalog, engine):
    """A 32-head 8B model on 8 Ascend 910B modules (the Atlas 800T A2 is sold with 8) passes every rule."""
    req = RecommendRequest(model="llama-3.1-8b", gpus_allowed=("ascend-910b",), engine=engine)
    options, rejected = search(problem_of(catalog, req))
    assert options, "; ".join(f.message for r in rejected for f in r.findings if not f.ok)
    best = options[0]
    assert best.build.gpu.id == "ascend-910b" and best.build.n_gpus == 8
    assert best.build.chassis.id == "rack-4u-atlas-800t-a2" and best.build.cpu.id == "kunpeng-920-6426"
    assert all(f.ok for f in best.findings)


def test_pcie_ascend_card_builds_in_a_rack_server(catalog):
    """The Atlas 300I Duo is a passive PCIe card: it builds only in a ducted rack server, and since the platform-size
    rule keeps 8-GPU servers from carrying one card, a model whose heads split 8 ways fills one (a 28-head
    Qwen2.5-7B does not: replicas of smaller tensor-parallel groups are not searched yet)."""
    req = RecommendRequest(
        model="llama-3.1-8b", gpus_allowed=("atlas-300i-duo",), engine="vllm-ascend", precision="f16"
    )
    options, _ = search(problem_of(catalog, req))
    assert options and all(o.build.chassis.form_factor == "rack" for o in options)


@pytest.mark.parametrize(
    ("engine", "precision"),
    [
        ("tensorrt-llm", "bf16"),
        ("exllamav2", "gptq-int4"),
        ("ktransformers", "bf16"),
        ("lmdeploy", "bf16"),
        ("vllm", "bf16"),
    ],
)
def test_cuda_only_engine_refused_on_ascend_with_reason(catalog, engine, precision):
    req = RecommendRequest(model="qwen2.5-7b", gpus_allowed=("ascend-910b",), engine=engine, precision=precision)
    options, rejected = search(problem_of(catalog, req))
    assert not options
    (finding,) = (f for r in rejected for f in r.findings if not f.ok)
    assert finding.rule == "engine_support" and finding.need == "huawei"
    reason = catalog.engines[engine].support_on("huawei")
    assert reason is not None and reason.note in finding.message  # the engine's own reason
    assert "CANN" in finding.message  # and what to run instead (the GPU's stack_note)


@pytest.mark.parametrize(
    ("engine", "gpu", "precision", "allowed"),
    [
        ("vllm-ascend", "ascend-910b", "fp8", "bf16"),
        ("mindie", "ascend-910b", "fp8", "bf16"),
        ("llama.cpp", "atlas-300i-duo", "q4_k_m", "f16"),  # CANN: F16, Q8_0, Q4_0 only (docs/backend/CANN.md)
    ],
)
def test_unsupported_precision_refused_with_reason(catalog, engine, gpu, precision, allowed):
    req = RecommendRequest(model="qwen2.5-7b", gpus_allowed=(gpu,), engine=engine, precision=precision)
    options, rejected = search(problem_of(catalog, req))
    assert not options
    (finding,) = (f for r in rejected for f in r.findings if not f.ok)
    assert finding.rule == "engine_support" and finding.need == precision
    assert f"not {precision}" in finding.message and f"--precision {allowed}" in finding.message


def test_supported_precision_on_cann_passes_the_rule(catalog):
    llama, duo, rtx = catalog.engines["llama.cpp"], catalog.gpu("atlas-300i-duo"), catalog.gpu("rtx-4090")
    for p in ("f16", "q8_0", "q4_0"):
        assert engine_runs_on(llama, duo, p).ok
    assert not engine_runs_on(llama, duo, "q4_k_m").ok
    assert engine_runs_on(llama, rtx, "q4_k_m").ok  # the limit is per vendor: CUDA runs every GGUF type


def _copy_with(tmp_path: Path, line: str) -> Path:
    data = tmp_path / "data"
    shutil.copytree(cat.default_data_dir(), data)
    with (data / "engine_support.csv").open("a", encoding="utf-8") as f:
        f.write(line + "\n")
    return data


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("no-such-engine,huawei,,x,y", "engine"),
        ("tensorrt-llm,huawei,bf16,x,y", "precisions"),  # no kernels there: a reason, not precisions
        ("lmdeploy-pytorch,nvidia,q4_k_m,x,y", "precisions"),  # a gguf type it does not load
        ("llama.cpp,amd,nope,x,y", "precisions"),
        ("llama.cpp,huawei,f16,again,y", "gpu_vendor"),  # a second row for the pair
    ],
)
def test_engine_support_rows_are_checked(tmp_path, line, column):
    with pytest.raises(SizingError, match=f"engine_support.csv.*{column}"):
        cat.load(_copy_with(tmp_path, line))


def test_a_copy_without_engine_support_still_loads(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(cat.default_data_dir(), data)
    (data / "engine_support.csv").unlink()
    catalog = cat.load(data)
    assert all(not e.vendor_support for e in catalog.engines.values())
    assert not engine_runs_on(catalog.engines["tensorrt-llm"], catalog.gpu("ascend-910b")).ok  # gpu_vendors still
