"""Prices and the bill of materials on the bundled catalog (data/): every price dated, of a kind, with a source;
estimates with their band; unpriced parts only where the catalog has no usable price; stale lines rank dearer;
accessory lines (coolers, rails, bridges, boot pair, front-end NIC) in the builds that need them."""

from __future__ import annotations

import pytest
from cli_run import run_main
from hypothesis import given
from hypothesis import strategies as st

from sizing.recommend.envelope import ENVELOPE, PLATFORM_SIZE, ratios
from sizing.recommend.prices import STALE_MARGIN, is_stale, price_month, ranking_cost_usd
from sizing.scenarios import recommend
from sizing.specs import Line, RecommendRequest

PART_TABLES = ("gpus", "cpus", "dimms", "drives", "psus", "chassis", "network", "accessories")
KINDS = {"street", "list", "msrp", "used", "quote", "estimate"}

# The sweep of issue 7: sizes, precisions and form factors a buyer asks for (TOWER: fully priced in data/).
TOWER = [
    RecommendRequest(model="7b"),
    RecommendRequest(model="14b"),
    RecommendRequest(model="32b", form_factor="tower"),
]
SWEEP = TOWER + [
    RecommendRequest(model="7b", form_factor="rack"),
    RecommendRequest(model="70b", precision="fp8"),
    RecommendRequest(model="70b", precision="bf16"),
    RecommendRequest(model="qwen3-235b-a22b", precision="fp8"),
    RecommendRequest(model="deepseek-r1", precision="fp8"),
]


def parts(catalog):
    for table in PART_TABLES:
        yield from getattr(catalog, table).values()


@pytest.fixture(scope="module")
def swept(catalog):
    return [(req, recommend(catalog, req)) for req in SWEEP]


def test_every_price_is_dated_has_a_kind_and_a_source(catalog):
    bad = [
        p.id
        for p in parts(catalog)
        if p.price_usd is not None
        and (price_month(p.price_date) is None or p.price_kind not in KINDS or not (p.price_source or "").strip())
    ]
    assert not bad, f"prices without a parseable date, a kind or a source: {bad}"


def test_every_estimate_states_its_band_and_its_method(catalog):
    """data/README.md: an estimate is a documented method over at least three dated public prices, with a band."""
    bad = [
        p.id
        for p in parts(catalog)
        if p.price_kind == "estimate" and not ("band" in (p.notes or "").lower() and (p.notes or "").count("$") >= 3)
    ]
    assert not bad, f"estimates without a band or their dated prices in notes: {bad}"


def test_every_tower_and_workstation_socket_has_a_cooler(catalog):
    sockets = {c.cpu_socket_type for c in catalog.chassis.values() if c.form_factor != "rack"}
    fits = {s for a in catalog.accessories.values() if a.kind == "cpu_cooler" for s in a.fits}
    assert sockets <= fits, sockets - fits


def test_every_bridge_capable_gpu_has_its_bridge(catalog):
    bridged = {g.id for g in catalog.gpus.values() if g.nvlink == "bridge"}
    fits = {s for a in catalog.accessories.values() if a.kind == "nvlink_bridge" for s in a.fits}
    assert bridged <= fits, bridged - fits


def test_an_option_is_unpriced_only_where_the_catalog_has_no_usable_price(catalog, swept):
    """A line is unpriced only when its row has no price, or only a used one without --used; such a build has no
    total and ranks after every fully priced build."""
    for req, r in swept:
        for o in r.options:
            rows = {ln.id: ln for ln in o.lines}
            for part_id in o.unpriced:
                part = next(p for p in parts(catalog) if p.id == part_id)
                assert part.price_usd is None or (part.price_kind == "used" and not req.used), (req.model, part_id)
                assert rows[part_id].unit_price_usd is None
            assert (o.total_price_usd is None) == bool(o.unpriced)
        totals = [o.total_price_usd is None for o in r.options]
        assert totals == sorted(totals), f"{req.model}: an unpriced build ranks above a priced one"


def test_the_tower_sweep_is_fully_priced(swept):
    """No option of a tower request has an unpriced part unless the request allows used prices (data/ prices every
    tower and workstation part a default tower build picks)."""
    for req, r in swept[: len(TOWER)]:
        top = r.options[:5]
        assert top, req
        assert all(o.total_price_usd is not None for o in top), [(o.build.gpu.id, o.unpriced) for o in top]


def test_accessory_lines_where_the_build_needs_them(swept):
    for _req, r in swept:
        for o in r.options:
            b, kinds = o.build, {ln.kind for ln in o.lines}
            if b.chassis.form_factor in ("tower", "workstation"):
                assert "cpu_cooler" in kinds, (b.gpu.id, b.chassis.id)
                cooler = next(ln for ln in o.lines if ln.kind == "cpu_cooler")
                assert cooler.quantity == b.n_cpus * b.n_nodes
            else:
                assert {"rails", "frontend_nic"} <= kinds, (b.gpu.id, b.chassis.id, kinds)
                room = b.chassis.m2_slots >= 2 or (not b.chassis.m2_slots and b.chassis.drive_bays_2_5 >= 2)
                assert b.n_system_drives == (2 if room else 1), b.chassis.id  # a mirrored boot pair where it fits
            if b.gpu.nvlink == "bridge" and b.n_gpus == 2:
                assert "nvlink_bridge" in kinds, b.gpu.id


def outside(swept, forms: tuple[str, ...], names: tuple[str, ...]) -> list[tuple]:
    """(model, gpu, n, chassis, ratio, value) for every passing option in those chassis forms outside the envelope
    (the PSU ratio over the load the machine is set to draw: under its GPU power cap where it has one)."""
    return [
        (req.model, o.build.gpu.id, o.build.n_gpus, o.build.chassis.id, name, round(v, 2))
        for req, r in swept
        for o in r.options
        if o.build.chassis.form_factor in forms
        for name, v in ratios(o.build, o.power.capped_w).items()
        if name in names and not ENVELOPE[name][0] <= v <= ENVELOPE[name][1]
    ]


def test_rack_servers_keep_ram_and_cores_inside_the_published_envelope(swept):
    """RAM/VRAM 0.5-5.3 and 2-16 cores per GPU on every passing rack option (a half-empty server whose smallest
    parts break it is rejected as platform_size)."""
    assert not outside(swept, ("rack",), ("ram_per_vram", "cores_per_gpu"))


def test_towers_and_workstations_keep_their_psu_inside_the_published_envelope(swept):
    assert not outside(swept, ("tower", "workstation"), ("psu_per_load",))


def test_only_single_card_towers_and_workstations_leave_the_core_and_ram_envelope(swept):
    """The exemption (recommend/envelope.py): one card on a desktop CPU (a 24-core i9-14900K) or in a 4-GPU
    workstation sold with one card to grow into; with two or more cards they stay inside."""
    for _model, _gpu, n, chassis, _name, _v in outside(
        swept, ("tower", "workstation"), ("ram_per_vram", "cores_per_gpu")
    ):
        assert n == 1, (chassis, n)


def test_rack_psu_sets_stay_inside_the_published_envelope(swept):
    """Over the modules that carry the load (recommend/envelope.py): 8 x RTX PRO 4500 in the AS-4125GS-TNRT
    (2+2 x 2,000 W for 2,419 W) is 3.3x installed but 1.7x active, as the DGX A100's 3+3 x 3 kW is 2.8x and 1.4x."""
    assert not outside(swept, ("rack",), ("psu_per_load",))


def test_a_half_empty_server_is_rejected_as_oversized(catalog):
    """One 72 W L4 in an 8-GPU 4U server: two sockets' cores, every channel filled, 2 x 2,000 W CRPS."""
    r = recommend(catalog, RecommendRequest(model="7b", gpus_allowed=("l4",), form_factor="rack"))
    assert any(x.gpu == "l4" and x.n_gpus == 1 and any(f.rule == PLATFORM_SIZE for f in x.findings) for x in r.rejected)
    assert all(o.build.n_gpus * 2 > o.build.chassis.max_gpus for o in r.options)


def line(price: float, qty: int, stale: bool) -> Line:
    return Line(kind="x", id="x", name="x", quantity=qty, unit_price_usd=price, stale=stale)


@given(
    st.lists(st.tuples(st.floats(1, 1e5), st.integers(1, 8), st.booleans()), min_size=1, max_size=8),
)
def test_ranking_cost_counts_only_stale_lines_dearer(spec):
    lines = tuple(line(p, q, s) for p, q, s in spec)
    total = sum(p * q for p, q, _ in spec)
    stale = sum(p * q for p, q, s in spec if s)
    assert ranking_cost_usd(total, lines) == pytest.approx(total + STALE_MARGIN * stale)
    assert total <= ranking_cost_usd(total, lines) <= total * (1 + STALE_MARGIN) + 1e-6


def test_a_stale_build_ranks_after_a_current_one_of_similar_cost():
    current = (line(1_000, 1, False),)
    stale = (line(900, 1, True),)  # 10% cheaper on a stale price: within the 25% a stale price may have drifted
    assert ranking_cost_usd(900, stale) > ranking_cost_usd(1_000, current)
    cheap_stale = (line(500, 1, True),)  # half the price: still first, its total marked stale
    assert ranking_cost_usd(500, cheap_stale) < ranking_cost_usd(1_000, current)


@pytest.mark.parametrize(
    ("date", "as_of", "stale"),
    [("2025-06", "2026-12-02", False), ("2025-05", "2026-12-02", True), ("2025", "2026-12-02", False)],
)
def test_stale_is_more_than_18_months(date, as_of, stale):
    assert is_stale(date, as_of) is stale


def test_used_prices_count_only_with_used(catalog):
    """The RTX 3090 has a used price only: unpriced by default, priced with --used."""
    new = recommend(catalog, RecommendRequest(model="7b", gpus_allowed=("rtx-3090",)))
    used = recommend(catalog, RecommendRequest(model="7b", gpus_allowed=("rtx-3090",), used=True))
    assert new.options[0].total_price_usd is None and "rtx-3090" in new.options[0].unpriced
    assert used.options[0].total_price_usd is not None


def test_a_one_dollar_budget_exits_3_with_a_way_out(capsys):
    code, out, err = run_main(["recommend", "--model", "7b", "--budget", "1"], capsys)
    assert code == 3, (out, err)
    assert "way out" in out + err and "--budget" in out + err
