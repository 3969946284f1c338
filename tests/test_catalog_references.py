"""Cross-file checks at load: every id or value one catalog file names exists where it points, and every table the
tool needs has rows. Each failure is one CatalogError naming file, row and column."""

from __future__ import annotations

import pytest
from csv_edit import drop_rows, read_rows, row_number, set_cell, write_rows

from sizing import catalog as cat
from sizing.catalog import CatalogError


def test_engine_without_an_efficiency_row_fails(data_copy):
    assert drop_rows(data_copy / "efficiency.csv", lambda r: r["engine"] == "gpt-fast") == 1
    row = row_number(data_copy / "engines.csv", "gpt-fast")
    with pytest.raises(CatalogError, match=rf"engines.csv, row {row}, column 'id': engine 'gpt-fast' has no '\*'"):
        cat.load(data_copy)


def test_engine_with_only_a_class_row_fails(data_copy):
    """A class row alone does not cover GPUs of the other classes: the '*' row is required."""
    drop_rows(data_copy / "efficiency.csv", lambda r: r["engine"] == "tensorrt-llm" and r["gpu_class"] == "*")
    with pytest.raises(CatalogError, match=r"engines.csv, row \d+, column 'id': engine 'tensorrt-llm'"):
        cat.load(data_copy)


def test_catalog_check_fails_for_an_engine_without_efficiency(data_copy, capsys):
    from sizing.cli import main

    drop_rows(data_copy / "efficiency.csv", lambda r: r["engine"] == "sglang")
    with pytest.raises(SystemExit) as exit_info:
        main(["catalog", "check", "--data", str(data_copy)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "engines.csv" in err and "'sglang' has no '*'" in err
    assert "Traceback" not in err


def test_efficiency_row_for_an_unknown_engine_fails(data_copy):
    row = set_cell(data_copy / "efficiency.csv", "gpt-fast/*", "engine", "gpt-faster")
    with pytest.raises(CatalogError, match=rf"efficiency.csv, row {row}, column 'engine': 'gpt-faster' is not in"):
        cat.load(data_copy)


def test_unknown_default_kv_precision_fails(data_copy):
    row = set_cell(data_copy / "engines.csv", "vllm", "default_kv_precision", "bf17")
    with pytest.raises(CatalogError, match=rf"engines.csv, row {row}, column 'default_kv_precision': 'bf17'"):
        cat.load(data_copy)


def test_chassis_socket_without_a_cpu_fails(data_copy):
    drop_rows(data_copy / "cpus.csv", lambda r: r["socket"] == "lga3647")
    row = row_number(data_copy / "chassis.csv", "rack-4u-sys-4029gp-trt")
    with pytest.raises(CatalogError, match=rf"chassis.csv, row {row}, column 'cpu_socket_type': no CPU in cpus.csv "
                                           r"has socket 'lga3647' for a 2-socket board"):
        cat.load(data_copy)


def test_two_socket_chassis_needs_a_two_socket_cpu(data_copy):
    set_cell(data_copy / "cpus.csv", "xeon-gold-6248", "max_sockets", "1")
    with pytest.raises(CatalogError, match=r"chassis.csv, row \d+, column 'cpu_socket_type': .*'lga3647'"):
        cat.load(data_copy)


def test_every_bundled_chassis_has_a_cpu(catalog):
    for box in catalog.chassis.values():
        assert any(c.socket == box.cpu_socket_type and c.max_sockets >= box.cpu_sockets
                   for c in catalog.cpus.values()), box.id


def test_lga3647_cpu_is_sourced_and_priced_or_unconfirmed(catalog):
    cpu = catalog.cpu("xeon-gold-6248")  # Intel ARK via felixsteinke/cpu-spec-dataset
    assert (cpu.socket, cpu.cores, cpu.pcie_lanes, cpu.memory_channels, cpu.max_memory_mt_s) == (
        "lga3647", 20, 48, 6, 2933)
    assert "ark.intel.com" in cpu.source
    assert (cpu.price_usd and cpu.price_date and cpu.price_source) or "price_usd" in cpu.unconfirmed


def test_chassis_psu_form_without_a_psu_fails(data_copy):
    drop_rows(data_copy / "psus.csv", lambda r: r["form"] == "crps")
    with pytest.raises(CatalogError, match=r"chassis.csv, row \d+, column 'psu_form': no PSU in psus.csv has form "
                                           r"'crps'"):
        cat.load(data_copy)


@pytest.mark.parametrize("circuit", sorted(cat.DEFAULT_CIRCUITS))
def test_missing_default_circuit_fails_at_load(data_copy, circuit):
    drop_rows(data_copy / "circuits.csv", lambda r: r["id"] == circuit)
    with pytest.raises(CatalogError, match=rf"circuits.csv, column 'id': the default circuit '{circuit}'"):
        cat.load(data_copy)


def test_default_circuits_are_the_recommenders():
    from sizing.recommend.derive import DEFAULT_CIRCUIT

    assert set(DEFAULT_CIRCUIT.values()) == set(cat.DEFAULT_CIRCUITS)


@pytest.mark.parametrize("file", [f for f in cat.TABLES if f not in cat.MAY_BE_EMPTY])
def test_header_only_file_fails(data_copy, file):
    path = data_copy / file
    write_rows(path, read_rows(path)[:1])
    with pytest.raises(CatalogError, match=rf"^{file}: has a header but no rows; it needs at least one row"):
        cat.load(data_copy)


@pytest.mark.parametrize("file", cat.MAY_BE_EMPTY)
def test_header_only_optional_file_loads(data_copy, file):
    path = data_copy / file
    write_rows(path, read_rows(path)[:1])
    assert cat.load(data_copy)
