"""Each build rule on a composed build, and on the same build with one part changed to break it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sizing import estimate as est
from sizing import recommend as rec
from sizing import rules
from sizing.estimate.power import psu_power_cap_w
from sizing.recommend.derive import pick_dimms
from sizing.recommend.search import on_gpus
from sizing.scenarios import resolve_execution
from sizing.specs import Build, Candidate, Constraints, Finding, Request, Requirements, System

LIMITS = Constraints()


def judge(
    catalog,
    build: Build,
    model: str = "qwen2.5-14b",
    limits: Constraints = LIMITS,
    total_usd: float = 0.0,
    need: dict | None = None,
) -> Candidate:
    """What the rules see: the build, the work's requirements (optionally overridden), its power and the estimate
    on its own links, all computed afresh from the build."""
    m, x = resolve_execution(catalog, Request(model=model, batch=2, prompt_tokens=2048, new_tokens=512))
    x = on_gpus(x, build.n_gpus, build.n_nodes)
    base = est.requirements(m, x, System.of(build.gpu, build.n_gpus, build.n_nodes))
    e = est.estimate(m, x, System.from_build(build), catalog.efficiency(x.engine.id, build.gpu.gpu_class))
    return Candidate(
        build=build,
        requirements=Requirements(**{**dict(base), **(need or {})}),
        power=est.power(build),
        estimate=e,
        constraints=limits,
        subtotal_usd=total_usd,
    )


def compose(
    catalog,
    gpu: str,
    n: int,
    chassis: str,
    model: str = "qwen2.5-14b",
    limits: Constraints = LIMITS,
) -> Candidate:
    """Derive n x gpu in `chassis` as the recommender would (limits: the CPU allow-list, the circuit)."""
    m, x = resolve_execution(catalog, Request(model=model, batch=2, prompt_tokens=2048, new_tokens=512))
    problem = rec.Problem(parts=catalog, model=m, execution=x, constraints=limits)
    g = catalog.gpu(gpu)
    need = est.requirements(m, on_gpus(x, n, 1), System.of(g, n))
    build = rec.derive(problem, need, g, n, 1, catalog.chassis[chassis])
    assert isinstance(build, Build), build
    return judge(catalog, build, model)


def swap(c: Candidate, catalog, **parts) -> Candidate:
    """The same request on the build with some parts changed (validated again)."""
    return judge(catalog, Build.model_validate({**dict(c.build), **parts}), c.estimate.model.id)


def finding(rule, c: Candidate) -> Finding:
    return rule(c)


def test_dual_4090_tower_passes_with_a_1600w_psu(catalog):
    c = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    assert all(f.ok for f in rules.check(c))
    assert c.build.psu.watts == 1600  # 2 x 450 W + 253 W CPU + platform ~= 1.25 kW sustained -> x1.25 -> 1,600 W
    assert 1200 <= c.power.sustained_w <= 1350


def test_psu_too_small_fails_with_numbers(catalog):
    c = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    small = swap(c, catalog, psu=catalog.psus["atx-1000-bequiet-dp13"])
    f = finding(rules.psu_capacity, small)
    assert not f.ok and "gives 1,000 W" in f.message and f.need > 1500


def test_psu_connectors_count_adapters(catalog):
    c = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    old = swap(c, catalog, psu=catalog.psus["atx-1600-seasonic-prime-tx1600-atx253"])
    assert finding(rules.psu_connectors, old).ok  # no native 16-pin, 8 x 8-pin = two 3-plug adapters
    assert not finding(rules.psu_connectors, swap(old, catalog, n_gpus=3)).ok


def test_circuit_over_limit_fails_and_says_what_to_do(catalog):
    # four 450 W cards and a Threadripper PRO draw ~2.4 kW at the wall; a cap within 70% of TDP cannot reach 1,440 W
    c = compose(catalog, "rtx-4090-blower", 4, "ws-wrx80-4gpu", limits=Constraints(circuit="120v-15a"))
    assert c.build.gpu_power_limit_w is None and c.power.wall_w > 2000
    f = finding(rules.wall_circuit, c)
    assert not f.ok and "120 V / 15 A" in f.message and "second circuit" in f.message


def test_open_air_cards_in_a_4u_server_fail_cooling_and_width(catalog):
    c = compose(catalog, "rtx-4090", 8, "rack-4u-as-4125gs-tnrt", model="qwen2.5-72b")
    assert not finding(rules.cooling, c).ok
    f = finding(rules.chassis_fit, c)
    assert not f.ok and "3 slots wide" in f.message


def test_passive_card_in_a_tower_fails(catalog):
    c = compose(catalog, "l40s", 1, "tower-define7xl-z790")
    f = finding(rules.cooling, c)
    assert not f.ok and "airflow" in f.message


def test_half_filled_channels_fail(catalog):
    c = compose(catalog, "rtx-4090-blower", 8, "rack-4u-sys-421ge-tnrt")
    assert finding(rules.memory_channels, c).ok
    assert not finding(rules.memory_channels, swap(c, catalog, n_dimms=c.build.n_dimms // 2 + 1)).ok


def test_silver_4314_runs_ddr4_at_2666(catalog):
    # eight cards: with four, the 2+2 x 2,000 W set this server ships with is 3.3x their load (platform_size)
    c = compose(catalog, "rtx-a6000", 8, "rack-4u-sys-420gp-tnr", limits=Constraints(cpus=("xeon-silver-4314",)))
    assert c.build.cpu.id == "xeon-silver-4314" and c.build.dimm.speed_mt_s == 3200
    f = finding(rules.memory_speed, c)
    assert f.have == 2666 and "2666 MT/s" in f.message and "not 3200" in f.message


def test_udimm_on_a_server_cpu_fails(catalog):
    c = compose(catalog, "rtx-4090-blower", 8, "rack-4u-sys-421ge-tnrt")
    assert not finding(rules.memory_type, swap(c, catalog, dimm=catalog.dimms["ddr5-5600-udimm-48gb"])).ok


def test_lanes_and_cores(catalog):
    c = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    f = finding(rules.pcie_lanes, c)
    assert f.ok and "x8" in f.message  # two cards on a desktop CPU run x8/x8: the penalty is stated
    full = swap(c, catalog, gpu_lanes_each=16)  # x16/x16 needs 32 lanes for the GPUs alone
    assert not finding(rules.pcie_lanes, full).ok and finding(rules.pcie_lanes, full).need >= 32
    assert not finding(rules.cpu_cores, judge(catalog, c.build, need={"cores": 64})).ok


def test_ram_and_drives(catalog):
    c = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    assert finding(rules.system_ram, c).ok and c.build.ram_bytes >= c.requirements.ram_bytes
    assert not finding(rules.system_ram, swap(c, catalog, n_dimms=1)).ok
    assert not finding(rules.system_drive, judge(catalog, c.build, need={"system_drive_bytes": 1e13})).ok
    assert finding(rules.data_drive, c).ok
    assert not finding(rules.data_drive, judge(catalog, c.build, need={"data_drive_bytes": 1e15})).ok


def test_geforce_tensor_parallel_cost_is_stated(catalog):
    c = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    f = finding(rules.gpu_communication, c)
    assert f.ok and "no P2P" in f.message and "ms per decode step" in f.message
    assert f"{c.estimate.decode_step.comm_s * 1e3:.2f} ms" in f.message  # read from the estimate, not recomputed


def test_budget_and_target(catalog):
    b = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790").build
    assert not rules.budget(judge(catalog, b, limits=Constraints(budget_usd=100), total_usd=4000)).ok
    assert rules.budget(judge(catalog, b, limits=Constraints(budget_usd=5000), total_usd=4000)).ok
    unknown = judge(catalog, b, limits=Constraints(budget_usd=5000), total_usd=4000).model_copy(
        update={"complete": False}
    )
    f = rules.budget(unknown)
    assert not f.ok and "without a usable price" in f.message  # an unknown price is not $0
    fast = rules.target_speed(judge(catalog, b, limits=Constraints(target_tokens_per_s=1e6)))
    assert not fast.ok and "target" in fast.message


@pytest.mark.parametrize("rule", rules.RULES)
def test_every_rule_documents_itself(rule):
    assert rule.__doc__ and len(rule.__doc__.split()) >= 8


def test_eps_powered_cards_use_spare_eps_and_the_pcie_adapter(catalog):
    """RTX A6000 takes an 8-pin EPS plug: two in a tower feed from the spare EPS output and the 2 x PCIe-to-EPS
    adapter NVIDIA ships with the card."""
    c = compose(catalog, "rtx-a6000", 2, "ws-wrx80-4gpu", model="qwen2.5-32b")
    f = finding(rules.psu_connectors, c)
    assert f.ok and f.have >= 2


def test_tensor_parallel_needs_heads_divisible(catalog):
    c = compose(catalog, "rtx-4090-blower", 8, "rack-4u-as-4125gs-tnrt", model="qwen2.5-7b")  # 28 heads
    f = finding(rules.tensor_parallel, c)
    assert not f.ok and "28 attention heads" in f.message
    assert finding(
        rules.tensor_parallel,
        compose(catalog, "rtx-4090-blower", 4, "ws-wrx90-4gpu", model="qwen2.5-7b"),
    ).ok


def test_ecc_gpus_and_servers_get_ecc_memory(catalog):
    """An RTX A6000 (ECC GDDR6) on a desktop Z790 board with UDIMMs fails; the same card on a Threadripper PRO
    workstation with ECC RDIMMs passes; a GeForce card on the desktop is not asked for ECC."""
    desk = compose(catalog, "rtx-a6000", 1, "tower-define7xl-z790", model="qwen2.5-7b")
    f = finding(rules.ecc_memory, desk)
    assert not f.ok and "ECC RDIMMs" in f.message
    assert finding(rules.ecc_memory, compose(catalog, "rtx-a6000", 1, "ws-wrx80-4gpu", model="qwen2.5-7b")).ok
    assert finding(rules.ecc_memory, compose(catalog, "rtx-4090", 1, "tower-define7xl-z790", model="qwen2.5-7b")).ok


def test_two_dimms_per_channel_run_at_the_2dpc_speed(catalog):
    """Xeon 6700P: DDR5-6400 at 1 DIMM per channel, 5200 at 2 (cpus.csv max_memory_mt_s_2dpc, Intel ARK)."""
    c = compose(catalog, "b300", 8, "rack-9u-asus-xa-nb3i-e12", limits=Constraints(cpus=("xeon-6737p",)))
    dimm = catalog.dimms["ddr5-5600-rdimm-64gb"]
    one, two = swap(c, catalog, dimm=dimm, n_dimms=16), swap(c, catalog, dimm=dimm, n_dimms=32)
    assert (one.build.cpu.id, one.build.dimms_per_channel, one.build.memory_speed_mt_s) == ("xeon-6737p", 1, 5600)
    assert (two.build.dimms_per_channel, two.build.memory_speed_mt_s) == (2, 5200)
    f = finding(rules.memory_speed, two)
    assert f.have == 5200 and "2 DIMMs per channel at 5200 MT/s" in f.message and "unconfirmed" not in f.message
    assert "per channel" not in finding(rules.memory_speed, one).message


def test_without_a_2dpc_figure_the_1dpc_speed_stands_unconfirmed(catalog):
    """EPYC 7313 has no 2DPC figure in cpus.csv: two DIMMs per channel keep its 3200 MT/s, and the finding says the
    2DPC speed is unconfirmed; one DIMM per channel says nothing of it."""
    c = compose(catalog, "l40s", 8, "rack-4u-gigabyte-g482-z54", limits=Constraints(cpus=("epyc-7313",)))
    dimm = catalog.dimms["ddr4-3200-rdimm-64gb"]
    one, two = swap(c, catalog, dimm=dimm, n_dimms=16), swap(c, catalog, dimm=dimm, n_dimms=32)
    assert (two.build.n_cpus, two.build.dimms_per_channel, two.build.memory_speed_mt_s) == (2, 2, 3200)
    assert "2DPC speed is unconfirmed" in finding(rules.memory_speed, two).message
    assert "unconfirmed" not in finding(rules.memory_speed, one).message


def test_dimms_at_full_2dpc_speed_are_preferred(catalog):
    """Needing 32 DIMMs on two Xeon 6737P (2 per channel, 5200 MT/s), DDR5-5600 runs at the CPU's full rate and
    DDR5-4800 does not: the same-priced 5600 set is picked (against the 1DPC 6400, neither would be). Modules up to
    96 GB: 16 x 128 GB at one per channel is as dear as 32 x 64 GB at the estimated $/GB, and faster."""
    cpu = catalog.cpus["xeon-6737p"]
    need = 1600 * 2**30  # more than 16 x 96 GB, within 32 x 64 GB
    dimms = [d for d in catalog.dimms.values() if d.capacity_bytes <= 96 * 2**30]
    dimm, n = pick_dimms(dimms, cpu, 2, 32, need)
    assert (dimm.id, n) == ("ddr5-5600-rdimm-64gb", 32)


def test_a_two_psu_workstation_counts_both_units_plugs(catalog):
    """Four RTX PRO 6000 (600 W, 12V-2x6) on the two-ATX-PSU open-frame workstation: one Seasonic PRIME PX-2200
    (2 native 16-pin + 6 x 8-pin = one more 600 W adapter) feeds 3 cards, two units feed 6, so the plugs suffice."""
    c = compose(catalog, "rtx-pro-6000", 4, "ws-cube-w790-4gpu", model="llama-3-70b")
    psu = catalog.psus["atx-2200-seasonic-prime-px2200"]
    one, two = swap(c, catalog, psu=psu, n_psus=1), swap(c, catalog, psu=psu, n_psus=2)
    assert rules.gpu_plugs_served(psu, one.build.gpu, 1) == 3
    f = finding(rules.psu_connectors, two)
    assert f.ok and f.have == 6 and "2 x Seasonic" in f.message
    assert not finding(rules.psu_connectors, one).ok
    eps = catalog.gpu("rtx-a6000")  # the second unit's EPS outputs are all spare: it powers no CPU
    assert rules.gpu_plugs_served(psu, eps, 1, 2) == rules.gpu_plugs_served(psu, eps, 1) + psu.n_eps_8pin + 3


def test_the_psu_pick_prefers_a_set_the_wall_circuit_carries(catalog):
    """Four RTX 3080 on the two-PSU workstation at 120 V / 15 A: two priced platinum Corsair HX1500i have the
    plugs and the capacity, but at 90% efficiency no cap within 70% of TDP brings the wall draw under 1,440 W;
    derive takes the titanium set that passes with the GPUs capped."""
    c = compose(catalog, "rtx-3080", 4, "ws-cube-w790-4gpu", limits=Constraints(circuit="120v-15a"))
    assert c.build.psu.efficiency_tier == "titanium" and c.build.gpu_power_limit_w
    assert finding(rules.wall_circuit, c).ok and finding(rules.psu_connectors, c).ok
    cheaper = swap(c, catalog, psu=catalog.psus["atx-1500-corsair-hx1500i"])
    assert finding(rules.psu_connectors, cheaper).ok and not finding(rules.wall_circuit, cheaper).ok


def test_a_four_gpu_workstation_on_one_psu_is_power_capped_to_keep_its_headroom(catalog):
    """4 x 300 W RTX A6000 + a 270 W Xeon w7 in a one-PSU 1,600 W workstation: 1,627 W sustained needs 2,034 W at
    1.25x, so the GPUs are capped (a multiple of 10 W, >= 70% of TDP) until the capped load x 1.25 fits 1,600 W;
    the PSU rule passes on the capped load and says what full power would need, the wall rule does not claim the
    cap for the circuit, and the speed runs at the cap."""
    c = compose(catalog, "rtx-a6000", 4, "ws-w790-4gpu", model="qwen2.5-72b", limits=Constraints(circuit="230v-16a"))
    b, p = c.build, c.power
    assert b.gpu_power_limit_w is not None and 0.7 * 300 <= b.gpu_power_limit_w < 300
    assert p.capped_for_psu and p.capped_w * 1.25 <= p.psu_capacity_w < p.sustained_w * 1.25
    assert p.capped_w + 4 * 10 > p.psu_capacity_w / 1.25  # the highest 10 W step that fits
    f = finding(rules.psu_capacity, c)
    assert f.ok and f"capped at {b.gpu_power_limit_w:.0f} W" in f.message and "at full power they need" in f.message
    assert "capped" not in finding(rules.wall_circuit, c).message


@given(load=st.floats(500, 3000), capacity=st.floats(800, 3000), n=st.integers(1, 8))
def test_a_psu_cap_keeps_the_capped_load_inside_the_headroom(load, capacity, n):
    """Whenever psu_power_cap_w returns a cap, the load under it x 1.25 fits the capacity and the cap is >= 70% of
    TDP; it returns None when the full load already fits."""
    gpu_tdp = 300.0
    load = max(load, n * gpu_tdp + 100)
    gpu = SimpleNamespace(tdp_w=gpu_tdp)
    cap = psu_power_cap_w(load, gpu, n, capacity, 1.25)  # type: ignore[arg-type]
    if load * 1.25 <= capacity:
        assert cap is None
    elif cap is not None:
        assert cap >= 0.7 * gpu_tdp and (load - n * (gpu_tdp - cap)) * 1.25 <= capacity + 1e-6


def test_a_trainer_never_passes_on_a_gpu_its_framework_does_not_train_on(catalog):
    """trainers.csv gpu_vendors: Unsloth trains on CUDA only, verl on CUDA and ROCm; the recommender refuses the
    other vendors' GPUs for them in one finding naming the trainer (the rollout engine's vendors do not count)."""
    from sizing.scenarios import recommend
    from sizing.specs import RecommendRequest

    r = recommend(catalog, RecommendRequest(model="7b", task="qlora", trainer="unsloth", gpus_allowed=("rx-7900-xtx",)))
    assert not r.options
    assert any(f.message.startswith("Unsloth does not train on amd GPUs") for x in r.rejected for f in x.findings)
    grpo = recommend(catalog, RecommendRequest(model="qwen2.5-7b", task="lora", trainer="verl"))
    assert grpo.options and all(o.build.gpu.vendor in ("nvidia", "amd") for o in grpo.options)
