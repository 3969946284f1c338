"""AMD Instinct and Intel Gaudi 3 platforms (issue 8): each 8-OAM baseboard takes its own generation, sold with 8,
and the MI325X, MI355X and Gaudi 3 build on them; the MI355X platform's PSU set is judged against its 1,400 W modules
(it passes as fault-tolerant redundancy, as the vendor ships it)."""

from __future__ import annotations

import pytest

from sizing.catalog import Catalog
from sizing.estimate.power import fault_tolerant
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
    and, through its Gaudi plugin, on Gaudi: engines.csv gpu_vendors). The MI325X also builds on the MI300X's
    AS-8125GS-TNMR2, where AMD tested it: its 3+3 x 3 kW set carries 8 x 1,000 W only as fault-tolerant redundancy."""
    options, rejected = search(problem_of(catalog, RecommendRequest(model="7b", gpus_allowed=(gpu,), max_gpus=8)))
    assert options, "; ".join(f.message for r in rejected for f in r.findings if not f.ok)
    box = next(b for b, (g, _, _) in PLATFORMS.items() if g == gpu)
    boxes = {o.build.chassis.id for o in options}
    assert box in boxes and boxes <= {box, "rack-8u-as-8125gs-tnmr2"}
    assert all(o.build.n_gpus == 8 and all(f.ok for f in o.findings) for o in options)
    for o in options:
        power = next(f for f in o.findings if f.rule == "psu_capacity")
        assert ("fault-tolerant" in power.message) == (o.build.chassis.id == "rack-8u-as-8125gs-tnmr2")


def _mi355x(catalog: Catalog, **power: int):
    return search(problem_of(catalog, RecommendRequest(model="7b", gpus_allowed=("mi355x",), max_gpus=8, **power)))


def test_mi355x_builds_with_fault_tolerant_redundancy(catalog):
    """8 x 1,400 W MI355X plus two EPYC hosts sustain ~12 kW: the 2+2 x 6.6 kW set Supermicro ships gives 13.2 kW per
    half, ~1.1 x, short of the 1.15 CRPS headroom (hardware.md §3.2) but above the load, and all four give 26.4 kW:
    the build passes as fault-tolerant redundancy (a lost feed brakes the GPUs, as Dell's XE9680 3+3 set does) once
    the request gives each PSU cord a circuit (the ~12.5 kW wall draw needs three 208 V / 30 A circuits)."""
    options, _ = _mi355x(catalog, circuits=4)
    assert options and {o.build.chassis.id for o in options} == {"rack-4u-as-4126gs-nmr-lcc"}
    for o in options:
        assert o.build.n_psus == 4 and all(f.ok for f in o.findings)
        assert 11_500 < o.power.sustained_w < o.power.psu_capacity_w < o.power.sustained_w * 1.15
        assert "fault-tolerant" in next(f for f in o.findings if f.rule == "psu_capacity").message


def test_mi355x_on_the_default_feeds_fails_on_the_wall_only(catalog):
    """On the default feeds (one 208 V / 30 A circuit per active PSU: two) the wall draw is too much, and nothing
    else fails: the recommender says so instead of passing the build."""
    options, rejected = _mi355x(catalog)
    assert not options
    on_box = [r for r in rejected if r.chassis == "rack-4u-as-4126gs-nmr-lcc"]
    assert on_box
    assert {f.rule for r in on_box for f in r.findings if not f.ok} == {"wall_circuit"}


def test_fault_tolerance_needs_the_load_on_one_half_of_an_n_plus_n_set(catalog):
    """The active half must carry the sustained load itself, and the set must be N+N (an N+1 set's spare unit is no
    second feed to fall back on)."""
    box, psu = catalog.chassis["rack-4u-as-4126gs-nmr-lcc"], catalog.psus["crps-6600-titanium"]
    assert fault_tolerant(box, psu, 208, 4, 12_000)
    assert not fault_tolerant(box, psu, 208, 4, 13_300)  # over one half's 13.2 kW
    assert not fault_tolerant(box, psu, 208, 2, 7_000)  # 1+1: one 6.6 kW unit per half
    assert not fault_tolerant(box.model_copy(update={"psu_bays": 3}), psu, 208, 3, 12_000)  # N+1


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
