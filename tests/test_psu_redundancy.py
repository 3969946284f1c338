"""PSU redundancy per chassis: chassis.csv psu_redundancy is the vendor's full set (active+spare), power.py runs it,
loading checks it against the bays, and a derived PSU set never uses a module larger than the chassis' bay."""

from __future__ import annotations

import pytest
from csv_edit import read_rows, set_cell, write_rows
from hypothesis import given
from hypothesis import strategies as st

from sizing import catalog as cat
from sizing.catalog import CatalogError
from sizing.estimate.power import active_psus, installed_psus, module_w, redundancy
from sizing.scenarios import recommend
from sizing.specs import RecommendRequest


@pytest.mark.parametrize(
    ("chassis", "scheme", "active_of_full"),
    [
        # Tenstorrent TT-LoudBox on the AS-4125GS-TNRT: 'Power Supply: 2+2 2000W Titanium' (chassis.csv source)
        ("rack-4u-as-4125gs-tnrt", "N+N", 2),
        ("rack-4u-sys-421ge-tnrt", "N+1", 3),  # 4 x 2,700 W in 3+1 (best figure, unconfirmed)
        ("rack-4u-gigabyte-g482-z54", "N+1", 2),  # 3 x 2,200 W in 2+1
        ("rack-8u-sys-821ge-tnhr", "N+N", 3),  # 6 x 3,000 W in 3+3 (DGX-class HGX H100/H200)
        ("rack-9u-asus-xa-nb3i-e12", "N+N", 5),  # 10 x 3,200 W in 5+5
        ("rack-riser-8gpu-consumer", "none", 4),  # four server PSUs, all carrying load
        ("tower-define7xl-z790", "none", 1),
    ],
)
def test_redundancy_is_the_chassis_column(catalog, chassis, scheme, active_of_full):
    box = catalog.chassis[chassis]
    assert redundancy(box) == scheme
    assert active_psus(box, box.psu_bays) == active_of_full


def test_a_3_plus_1_server_adds_one_spare_not_a_second_set(catalog):
    """Two active 2,700 W modules in the SYS-421GE-TNRT are installed as three (2+1), not four (2+2)."""
    box = catalog.chassis["rack-4u-sys-421ge-tnrt"]
    assert [installed_psus(box, a) for a in (1, 2, 3)] == [2, 3, 4]


@given(st.data())
def test_installed_sets_fill_no_more_than_the_bays(catalog, data):
    box = data.draw(st.sampled_from(sorted(catalog.chassis.values(), key=lambda c: c.id)))
    for a in range(1, active_psus(box, box.psu_bays) + 1):
        n = installed_psus(box, a)
        assert n <= box.psu_bays and active_psus(box, n) == a


def test_module_rating_is_the_usable_watts_over_the_active_units(catalog):
    assert module_w(catalog.chassis["rack-4u-gigabyte-g482-z54"]) == pytest.approx(2200)  # 4,400 W in 2+1
    assert module_w(catalog.chassis["rack-10u-sys-a21ge-nbrt"]) == pytest.approx(5250)  # 15,750 W in 3+3
    assert module_w(catalog.chassis["ws-cube-w790-4gpu"]) is None  # ATX units: the case limit applies instead


def test_rack_builds_use_modules_their_bays_take(catalog):
    """A 5,250 W HGX module does not go into a 2,200 W PCIe-server bay (it did while any CRPS module fitted any
    chassis: 8 x L40S in a G482-Z54 got 2 x 5,250 W, 3.0x the load)."""
    r = recommend(catalog, RecommendRequest(model="7b", form_factor="rack"))
    assert r.options
    for o in r.options:
        largest = module_w(o.build.chassis)
        assert largest is None or o.build.psu.watts <= largest + 1e-6, (o.build.chassis.id, o.build.psu.id)
        assert o.power.psu_redundancy == redundancy(o.build.chassis)


def test_a_data_folder_without_the_column_infers_it_from_the_bays(data_copy):
    rows = read_rows(data_copy / "chassis.csv")
    k = rows[0].index("psu_redundancy")
    write_rows(data_copy / "chassis.csv", [r[:k] + r[k + 1 :] for r in rows])
    old = cat.load(data_copy)
    assert redundancy(old.chassis["rack-4u-sys-421ge-tnrt"]) == "N+N"  # even bays: the old inference
    assert redundancy(old.chassis["rack-4u-gigabyte-g482-z54"]) == "N+1"
    assert module_w(old.chassis["rack-4u-sys-421ge-tnrt"]) is None


@pytest.mark.parametrize(
    ("chassis", "value", "problem"),
    [
        ("rack-8u-sys-821ge-tnhr", "3+1", "does not fill the 6 psu_bays"),
        ("rack-8u-sys-821ge-tnhr", "4+2", "neither N\\+N \\(a\\+a\\) nor N\\+1"),
        ("rack-8u-sys-821ge-tnhr", "none", "is 'none' but redundant_psu is true"),
        ("rack-riser-8gpu-consumer", "2+2", "but redundant_psu is false"),
    ],
)
def test_a_psu_set_that_contradicts_the_row_fails_at_load(data_copy, chassis, value, problem):
    row = set_cell(data_copy / "chassis.csv", chassis, "psu_redundancy", value)
    with pytest.raises(CatalogError, match=rf"chassis.csv, row {row}, column 'psu_redundancy': .*{problem}"):
        cat.load(data_copy)


def test_a_psu_set_in_another_notation_fails_at_load(data_copy, capsys):
    from sizing.cli import main

    set_cell(data_copy / "chassis.csv", "rack-8u-sys-821ge-tnhr", "psu_redundancy", "3 + 3")
    with pytest.raises(SystemExit) as exit_info:
        main(["catalog", "check", "--data", str(data_copy)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "chassis.csv" in err and "psu_redundancy" in err
    assert "Traceback" not in err
