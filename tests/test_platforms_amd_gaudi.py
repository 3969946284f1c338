"""AMD Instinct and Intel Gaudi 3 platforms (issue 8): each 8-OAM baseboard takes its own generation, sold with 8,
and the MI325X and Gaudi 3 build on them; the MI355X platform's PSU set is judged against its 1,400 W modules."""

from __future__ import annotations

import pytest

from sizing.recommend import search
from sizing.scenarios import problem_of
from sizing.specs import RecommendRequest

PLATFORMS = {  # chassis -> (the GPU it carries, the arch its baseboard takes, usable PSU watts from the source)
    "rack-8u-as-8126gs-tnmr": ("mi325x", "cdna3", 15750),  # 6 x 5,250 W in 3+3 (Supermicro spec via index 66583436569)
    "rack-4u-as-4126gs-nmr-lcc": ("mi355x", "cdna4", 13200),  # 4 x 6,600 W in 2+2
    "rack-6u-dell-xe9680-gaudi3": ("gaudi-3", "gaudi3", 9600),  # six PSUs, 19,200 W in 3+3 (StorageReview)
}


@pytest.mark.parametrize(("box", "spec"), PLATFORMS.items())
def test_oam_platforms_take_one_generation_in_eights(catalog, box, spec):
    gpu, arch, watts = spec
    chassis = catalog.chassis[box]
    assert chassis.gpu_form_factor == "oam" and chassis.max_psu_w == watts and chassis.redundant_psu
    assert chassis.takes(arch, 8) and not chassis.takes(arch, 4)
    assert catalog.gpu(gpu).arch == arch
    others = {a for _, a, _ in PLATFORMS.values()} - {arch}
    assert not any(chassis.takes(a, 8) for a in others)


@pytest.mark.parametrize("gpu", ["mi325x", "gaudi-3"])
def test_mi325x_and_gaudi3_build_on_their_platforms(catalog, gpu):
    """A 7B model on 8 of them: the cheapest build sits on the new platform and passes every rule (vLLM runs on ROCm
    and, through its Gaudi plugin, on Gaudi: engines.csv gpu_vendors)."""
    options, rejected = search(problem_of(catalog, RecommendRequest(model="7b", gpus_allowed=(gpu,), max_gpus=8)))
    assert options, "; ".join(f.message for r in rejected for f in r.findings if not f.ok)
    box = next(b for b, (g, _, _) in PLATFORMS.items() if g == gpu)
    assert {o.build.chassis.id for o in options} == {box}
    assert all(o.build.n_gpus == 8 and all(f.ok for f in o.findings) for o in options)


def test_mi355x_platform_fails_on_power_only(catalog):
    """8 x 1,400 W MI355X plus two EPYC hosts sustain ~12 kW; 1.15 x that exceeds the 13.2 kW of a 2+2 x 6.6 kW set
    (rule psu_capacity, hardware.md §3.2), and the wall draw needs more than the two default 208 V / 30 A circuits
    (wall_circuit): the recommender says so instead of passing the build, and nothing else fails."""
    _, rejected = search(problem_of(catalog, RecommendRequest(model="7b", gpus_allowed=("mi355x",), max_gpus=8)))
    on_box = [r for r in rejected if r.chassis == "rack-4u-as-4126gs-nmr-lcc"]
    assert on_box
    failed = {f.rule for r in on_box for f in r.findings if not f.ok}
    assert "psu_capacity" in failed and failed <= {"psu_capacity", "wall_circuit"}


@pytest.mark.parametrize(("engine", "vendor_gpu"), [("sglang", "mi325x"), ("vllm", "gaudi-3")])
def test_rocm_and_gaudi_engines_build(catalog, engine, vendor_gpu):
    req = RecommendRequest(model="7b", gpus_allowed=(vendor_gpu,), engine=engine, max_gpus=8)
    options, _ = search(problem_of(catalog, req))
    assert options


def test_sglang_refused_on_gaudi_with_the_stack(catalog):
    req = RecommendRequest(model="7b", gpus_allowed=("gaudi-3",), engine="sglang", max_gpus=8)
    options, rejected = search(problem_of(catalog, req))
    assert not options
    (finding,) = (f for r in rejected for f in r.findings if not f.ok)
    assert finding.rule == "engine_support" and "Gaudi" in finding.message
