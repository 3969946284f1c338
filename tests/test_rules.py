"""Each build rule on a composed build, and on the same build with one part changed to break it."""

from __future__ import annotations

import pytest

from sizing import recommend as rec
from sizing import rules
from sizing.scenarios import Request, resolve_workload
from sizing.specs import Build, Constraints, Estimate, Finding

LIMITS = Constraints()


def compose(catalog, gpu: str, n: int, chassis: str, model: str = "qwen2.5-14b", cpus: tuple[str, ...] = (),
            circuit: str | None = None) -> tuple[Build, Estimate]:
    m, engine, precision, kv, w = resolve_workload(catalog, Request(model=model, batch=2, prompt_tokens=2048,
                                                                    new_tokens=512))
    g = catalog.gpu(gpu)
    w = w.model_copy(update={"n_gpus": n})
    e = rec.est.estimate(m, g, engine, precision, kv, w, catalog.efficiency(engine.id, g.gpu_class))
    build = rec.derive(catalog, g, n, 1, catalog.chassis[chassis], e, Constraints(cpus=cpus, circuit=circuit))
    assert isinstance(build, Build), build
    return build, e


def finding(rule, build, e) -> Finding:
    return rule(build, e, LIMITS)


def test_dual_4090_tower_passes_with_a_1600w_psu(catalog):
    b, e = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    assert all(f.ok for f in rules.check(b, e, LIMITS))
    assert b.psu.watts == 1600  # 2 x 450 W + 253 W CPU + platform ~= 1.25 kW sustained -> x1.25 -> 1,600 W, not 2,000
    assert 1200 <= b.sustained_w <= 1350


def test_psu_too_small_fails_with_numbers(catalog):
    b, e = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    small = b.model_copy(update={"psu": catalog.psus["atx-1000-bequiet-dp13"], "psu_capacity_w": 1000.0})
    f = finding(rules.psu_capacity, small, e)
    assert not f.ok and "gives 1,000 W" in f.message and f.need > 1500


def test_psu_connectors_count_adapters(catalog):
    b, e = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    old = b.model_copy(update={"psu": catalog.psus["atx-1600-seasonic-prime-tx1600-atx253"]})
    assert finding(rules.psu_connectors, old, e).ok  # no native 16-pin, 8 x 8-pin = two 3-plug adapters
    assert not finding(rules.psu_connectors, old.model_copy(update={"n_gpus": 3}), e).ok


def test_circuit_over_limit_fails_and_says_what_to_do(catalog):
    b, e = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    hot = b.model_copy(update={"wall_w": 1800.0, "gpu_power_limit_w": None})
    f = finding(rules.wall_circuit, hot, e)
    assert not f.ok and "120 V / 15 A" in f.message and "second circuit" in f.message


def test_open_air_cards_in_a_4u_server_fail_cooling_and_width(catalog):
    b, e = compose(catalog, "rtx-4090", 8, "rack-4u-as-4125gs-tnrt", model="qwen2.5-72b")
    assert not finding(rules.cooling, b, e).ok
    f = finding(rules.chassis_fit, b, e)
    assert not f.ok and "3 slots wide" in f.message


def test_passive_card_in_a_tower_fails(catalog):
    b, e = compose(catalog, "l40s", 1, "tower-define7xl-z790")
    f = finding(rules.cooling, b, e)
    assert not f.ok and "airflow" in f.message


def test_half_filled_channels_fail(catalog):
    b, e = compose(catalog, "rtx-4090-blower", 4, "rack-4u-as-4125gs-tnrt")
    assert finding(rules.memory_channels, b, e).ok
    half = b.model_copy(update={"n_dimms": b.n_dimms // 2 + 1})
    assert not finding(rules.memory_channels, half, e).ok


def test_silver_4314_runs_ddr4_at_2666(catalog):
    b, e = compose(catalog, "rtx-4090-blower", 4, "rack-4u-sys-420gp-tnr", cpus=("xeon-silver-4314",))
    assert b.cpu.id == "xeon-silver-4314" and b.dimm.speed_mt_s == 3200
    f = finding(rules.memory_speed, b, e)
    assert f.have == 2666 and "2666 MT/s" in f.message and "not 3200" in f.message


def test_udimm_on_a_server_cpu_fails(catalog):
    b, e = compose(catalog, "rtx-4090-blower", 4, "rack-4u-as-4125gs-tnrt")
    wrong = b.model_copy(update={"dimm": catalog.dimms["ddr5-5600-udimm-48gb"]})
    assert not finding(rules.memory_type, wrong, e).ok


def test_lanes_and_cores(catalog):
    b, e = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    f = finding(rules.pcie_lanes, b, e)
    assert f.ok and "x8" in f.message  # two cards on a desktop CPU run x8/x8: the penalty is stated
    assert not finding(rules.pcie_lanes, b.model_copy(update={"lanes_need": 64}), e).ok
    assert not finding(rules.cpu_cores, b.model_copy(update={"cores_need": 64}), e).ok


def test_ram_and_drives(catalog):
    b, e = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    assert finding(rules.system_ram, b, e).ok and b.ram_bytes >= b.ram_need_bytes
    assert not finding(rules.system_ram, b.model_copy(update={"n_dimms": 1}), e).ok
    assert not finding(rules.system_drive, b.model_copy(update={"system_drive_need_bytes": 1e13}), e).ok
    assert finding(rules.data_drive, b, e).ok


def test_geforce_tensor_parallel_cost_is_stated(catalog):
    b, e = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    f = finding(rules.gpu_communication, b, e)
    assert f.ok and "no P2P" in f.message and "ms per decode step" in f.message


def test_budget_and_target(catalog):
    b, e = compose(catalog, "rtx-4090", 2, "tower-define7xl-z790")
    assert not rules.budget(b, e, Constraints(budget_usd=100), total_usd=4000).ok
    assert rules.budget(b, e, Constraints(budget_usd=5000), total_usd=4000).ok
    fast = rules.target_speed(b, e, Constraints(target_tokens_per_s=1e6))
    assert not fast.ok and "target" in fast.message


@pytest.mark.parametrize("rule", rules.RULES)
def test_every_rule_documents_itself(rule):
    assert rule.__doc__ and len(rule.__doc__.split()) >= 8


def test_eps_powered_cards_use_spare_eps_and_the_pcie_adapter(catalog):
    """RTX A6000 takes an 8-pin EPS plug: two in a tower feed from the spare EPS output and the 2 x PCIe-to-EPS
    adapter NVIDIA ships with the card."""
    b, e = compose(catalog, "rtx-a6000", 2, "ws-wrx80-4gpu", model="qwen2.5-32b")
    f = finding(rules.psu_connectors, b, e)
    assert f.ok and f.have >= 2


def test_tensor_parallel_needs_heads_divisible(catalog):
    b, e = compose(catalog, "rtx-4090-blower", 8, "rack-4u-as-4125gs-tnrt", model="qwen2.5-7b")  # 28 heads
    f = finding(rules.tensor_parallel, b, e)
    assert not f.ok and "28 attention heads" in f.message
    b4, e4 = compose(catalog, "rtx-4090-blower", 4, "rack-4u-as-4125gs-tnrt", model="qwen2.5-7b")
    assert finding(rules.tensor_parallel, b4, e4).ok
