"""The recommender's build classes (recommend/classes.py): CPU-only servers, hybrid GPU+RAM builds, edge boxes,
--offline; scenario files under tests/scenarios/classes/ (a request and what its answer must show), properties of
the CPU memory layout, and the command line. On the bundled data/ (systems.csv and cpu_efficiency.csv are not in
the frozen snapshot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_run import run_main
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sizing import estimate as est
from sizing.cli import app
from sizing.recommend import classes as cls
from sizing.scenarios import problem_of, recommend, resolve_execution
from sizing.specs import Host, RecommendRequest, Request, System

SCENARIOS = sorted((Path(__file__).parent / "scenarios" / "classes").glob("*.json"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_class_scenario(catalog, path: Path):
    spec = json.loads(path.read_text())
    r = recommend(catalog, RecommendRequest(**spec["request"]))
    want = spec["expect"]
    assert set(want) <= {
        "no_gpu_options",
        "classes",
        "includes",
        "top_offload",
        "top_n_gpus",
        "note_contains",
        "min_decode_tokens_per_s",
    }
    if want.get("no_gpu_options"):
        assert not r.options
    if "classes" in want:
        assert r.classes and {o.build_class for o in r.classes} == set(want["classes"])
    for system in want.get("includes", []):
        assert any(o.lines[0].id == system for o in r.classes), [o.name for o in r.classes]
    if "top_offload" in want:
        top = r.options[0]
        assert top.estimate.host is not None and top.estimate.host.offload == want["top_offload"]
        assert top.build.n_gpus == want["top_n_gpus"]
        # RAM for the experts kept in RAM, every channel populated
        assert top.build.ram_bytes * 0.9 >= top.estimate.host.host_bytes
        assert top.build.n_dimms % (top.build.cpu.memory_channels * top.build.n_cpus) == 0
    if "note_contains" in want:
        assert any(want["note_contains"] in n for n in r.class_notes), r.class_notes
    if "min_decode_tokens_per_s" in want:
        best = r.options[0] if r.options else r.classes[0]
        assert best.estimate.speed is not None
        assert best.estimate.speed.decode_tokens_per_s >= want["min_decode_tokens_per_s"]


def test_cpu_only_builds_fill_every_channel(catalog):
    """Every CPU-only option has all channels of its sockets populated, DDR5, 8-24 channels, and a price line per
    part; ranked by cost, the first is the cheapest fully priced one."""
    r = recommend(catalog, RecommendRequest(model="deepseek-r1-distill-qwen-7b", max_gpus=0))
    assert r.classes
    for o in r.classes:
        assert o.build_class == "cpu"
        assert o.channels_populated == o.channels_total, o.name
        assert 8 <= o.channels_total <= 24
        assert o.estimate.host is not None and o.estimate.host.n_gpus == 0
        assert o.ram_bytes * 0.9 >= o.estimate.host.host_bytes
        assert {ln.kind for ln in o.lines} >= {"chassis", "cpu", "memory", "system_drive"}
    priced = [o for o in r.classes if o.total_price_usd is not None]
    assert priced and priced[0].total_price_usd == min(o.total_price_usd for o in priced)


def test_max_gpus_zero_accepted_and_budget_applies(catalog):
    tight = recommend(catalog, RecommendRequest(model="deepseek-r1-distill-qwen-7b", max_gpus=0, budget=500))
    assert not tight.classes and any("budget" in n for n in tight.class_notes)


@settings(max_examples=15, deadline=None)
@given(n_dimms=st.integers(min_value=1, max_value=11))
def test_more_populated_channels_never_slow_decode(catalog, n_dimms):
    """Property: on a CPU-only build, one more populated channel never lowers decode tokens/s (estimate/cpu.py:
    bandwidth is populated channels x MT/s x 8 B)."""
    model, x = resolve_execution(catalog, Request(model="deepseek-r1-distill-qwen-7b", engine="llama.cpp", n_gpus=1))
    xc = cls.cpu_host_execution(x, catalog.cpu_efficiency("llama.cpp"))
    cpu, dimm = catalog.cpu("epyc-9354"), catalog.dimm("ddr5-4800-rdimm-64gb")
    gpu = catalog.gpu("rtx-4090")
    eff = catalog.efficiency("llama.cpp", gpu.gpu_class)

    def decode(n: int) -> float:
        system = System.of(gpu, 1).model_copy(update={"host": Host(cpu=cpu, dimm=dimm, n_dimms=n)})
        speed = est.estimate(model, xc, system, eff).speed
        assert speed is not None
        return speed.decode_tokens_per_s

    assert decode(n_dimms + 1) >= decode(n_dimms) * (1 - 1e-9)


def test_edge_options_fit_their_memory(catalog):
    """Property: every edge option's need fits the pool less the OS reserve, and its bandwidth is the bus width x
    MT/s (LPDDR5X 256-bit at 8000 MT/s = 256 GB/s on the Ryzen AI Max+ 395, within 0.1%)."""
    r = recommend(catalog, RecommendRequest(model="qwen2.5-1.5b", build_class="edge"))
    assert r.classes
    for o in r.classes:
        system = catalog.systems[o.lines[0].id]
        assert o.estimate.memory.need_per_gpu_bytes <= system.usable_bytes
        assert o.estimate.system.gpu.memory_bytes == system.usable_bytes
    ryzen = catalog.systems["framework-desktop-ai-max-395-128gb"]
    assert ryzen.mem_bw_bytes_s == pytest.approx(256e9, rel=1e-3)
    assert catalog.systems["mac-studio-m3-ultra-512gb"].mem_bw_bytes_s == pytest.approx(819e9, rel=1e-3)


def test_edge_box_too_small_is_refused(catalog):
    """A 70B model in bf16 (140 GB) fits no edge box but the 512 GB Mac Studio."""
    r = recommend(catalog, RecommendRequest(model="llama-3-70b", users=1, build_class="edge"))
    assert {o.lines[0].id for o in r.classes} == {"mac-studio-m3-ultra-512gb"}
    assert any("jetson-agx-orin-64gb" in n and "after the OS" in n for n in r.class_notes)


def test_default_output_has_edge_for_small_models_only(catalog):
    small = recommend(catalog, RecommendRequest(model="qwen2.5-1.5b"))
    assert small.options and small.classes and {o.build_class for o in small.classes} == {"edge"}
    big = recommend(catalog, RecommendRequest(model="llama-3-8b", users=1))
    assert big.options and not big.classes


def test_offline_adds_model_store_to_every_bill(catalog):
    req = RecommendRequest(model="qwen2.5-1.5b", offline=True)
    r = recommend(catalog, req)
    plain = recommend(catalog, req.model_copy(update={"offline": False}))
    assert all(any(ln.kind == "offline_store" for ln in o.lines) for o in (*r.options, *r.classes))
    assert any("no cloud dependency" in w for w in r.offline) and any("model store" in w for w in r.offline)
    assert r.options[0].subtotal_usd > plain.options[0].subtotal_usd or r.options[0].unpriced


def test_hybrid_class_on_request(catalog):
    """--build-class hybrid: only GPU+RAM builds, each keeping something in RAM, each on one or two GPUs."""
    problem = problem_of(catalog, RecommendRequest(model="mixtral-8x7b", precision="q4_k_m", build_class="hybrid"))
    assert problem.constraints.build_class == "hybrid"
    r = recommend(catalog, RecommendRequest(model="mixtral-8x7b", precision="q4_k_m", build_class="hybrid"))
    assert r.options
    for o in r.options:
        assert o.estimate.host is not None and o.build.n_gpus in (1, 2)


runner = CliRunner()


def test_cli_max_gpus_zero_and_bad_class(capsys):
    ok = runner.invoke(app, ["recommend", "--model", "deepseek-r1-distill-qwen-7b", "--max-gpus", "0"])
    assert ok.exit_code == 0, ok.output
    assert "CPU-only and edge builds" in ok.output and "channels" in ok.output
    out = runner.invoke(app, ["recommend", "--model", "qwen2.5-1.5b", "--build-class", "edge", "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["classes"]
    code, _, err = run_main(["recommend", "--model", "7b", "--build-class", "laptop"], capsys)
    assert code == 2 and err.startswith("error: --build-class laptop") and "Traceback" not in err
