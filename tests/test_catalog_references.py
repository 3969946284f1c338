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
    with pytest.raises(
        CatalogError,
        match=rf"chassis.csv, row {row}, column 'cpu_socket_type': no CPU in cpus.csv "
        r"has socket 'lga3647' for a 2-socket board",
    ):
        cat.load(data_copy)


def test_two_socket_chassis_needs_a_two_socket_cpu(data_copy):
    set_cell(data_copy / "cpus.csv", "xeon-gold-6248", "max_sockets", "1")
    with pytest.raises(CatalogError, match=r"chassis.csv, row \d+, column 'cpu_socket_type': .*'lga3647'"):
        cat.load(data_copy)


def test_every_bundled_chassis_has_a_cpu(catalog):
    for box in catalog.chassis.values():
        assert any(
            c.socket == box.cpu_socket_type and c.max_sockets >= box.cpu_sockets for c in catalog.cpus.values()
        ), box.id


def test_lga3647_cpu_is_sourced_and_priced_or_unconfirmed(catalog):
    cpu = catalog.cpu("xeon-gold-6248")  # Intel ARK via felixsteinke/cpu-spec-dataset
    assert (cpu.socket, cpu.cores, cpu.pcie_lanes, cpu.memory_channels, cpu.max_memory_mt_s) == (
        "lga3647",
        20,
        48,
        6,
        2933,
    )
    assert "ark.intel.com" in cpu.source
    assert (cpu.price_usd and cpu.price_date and cpu.price_source) or "price_usd" in cpu.unconfirmed


def test_chassis_psu_form_without_a_psu_fails(data_copy):
    drop_rows(data_copy / "psus.csv", lambda r: r["form"] == "crps")
    with pytest.raises(
        CatalogError,
        match=r"chassis.csv, row \d+, column 'psu_form': no PSU in psus.csv has form "
        r"'crps'",
    ):
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


# -- engine and platform facts that live in data ----------------------------------------------------------------
# The engine a request gets when it names none, per precision family (before engines.csv held it, scenarios.py did)
DEFAULT_ENGINES = {
    "gguf": "llama.cpp",
    "exl2": "exllamav2",
    "mlc": "mlc-llm",
    "float": "vllm",
    "gptq": "vllm",
    "awq": "vllm",
    "bnb": "vllm",
}


def test_default_engine_per_precision_family(catalog):
    assert {p.family for p in catalog.precisions.values()} <= set(DEFAULT_ENGINES)
    for family, engine in DEFAULT_ENGINES.items():
        assert catalog.default_engine(family).id == engine
        assert family in catalog.default_engine(family).weight_families


def test_two_default_engines_for_one_family_fail(data_copy):
    row = set_cell(data_copy / "engines.csv", "transformers", "default_for_families", "gguf")
    with pytest.raises(CatalogError, match=rf"engines.csv, row {row}, column 'default_for_families': .*'gguf'"):
        cat.load(data_copy)


def test_default_engine_must_run_the_family(data_copy):
    set_cell(data_copy / "engines.csv", "llama.cpp", "default_for_families", "")
    row = set_cell(data_copy / "engines.csv", "tensorrt-llm", "default_for_families", "gguf")
    with pytest.raises(
        CatalogError,
        match=rf"engines.csv, row {row}, column 'default_for_families': 'tensorrt-llm' "
        r"does not run 'gguf'",
    ):
        cat.load(data_copy)


def test_family_without_a_default_engine_fails(data_copy):
    set_cell(data_copy / "engines.csv", "mlc-llm", "default_for_families", "")
    with pytest.raises(
        CatalogError,
        match=r"engines.csv, column 'default_for_families': no engine is the default "
        r"for precision family 'mlc'",
    ):
        cat.load(data_copy)


def test_fit_like_names_the_engines_calibrate_copies(catalog):
    assert {e.id: e.fit_like for e in catalog.engines.values() if e.fit_like} == {
        "sglang": "vllm",
        "mlc-llm": "vllm",
        "exllamav2": "llama.cpp",
        "autoawq": "transformers",
        "lmdeploy": "vllm",
        "ik_llama.cpp": "llama.cpp",  # its upstream's GPU kernels (CPU factors: data/cpu_efficiency.csv)
        "ktransformers": "llama.cpp",  # GPU part guessed from llama.cpp's; no GPU-only rows of its own
        "vllm-ascend": "vllm",  # no Ascend rows in measured.csv: vLLM's scheduler, a guess for NPU kernels
        "mindie": "vllm",
        "lmdeploy-pytorch": "vllm",
    }


@pytest.mark.parametrize(("engine", "like"), [("sglang", "vlm"), ("sglang", "sglang"), ("sglang", "mlc-llm")])
def test_fit_like_must_name_a_fitted_engine(data_copy, engine, like):
    row = set_cell(data_copy / "engines.csv", engine, "fit_like", like)
    with pytest.raises(CatalogError, match=rf"engines.csv, row {row}, column 'fit_like': '{like}' must be another"):
        cat.load(data_copy)


def test_software_stack_and_its_note(catalog):
    assert all(g.software_stack == "cuda" for g in catalog.gpus.values() if g.vendor == "nvidia")
    ascend = catalog.gpu("ascend-910b")  # hardware.md §5: requires the CANN stack
    assert ascend.software_stack == "cann" and "CANN" in (ascend.stack_note or "")


def test_unknown_software_stack_fails(data_copy):
    row = set_cell(data_copy / "gpus.csv", "rtx-4090", "software_stack", "CUDA")
    with pytest.raises(CatalogError, match=rf"gpus.csv, row {row}, column 'software_stack': 'CUDA' is not allowed"):
        cat.load(data_copy)


def test_two_socket_lanes(catalog):
    """hardware.md §2 notes: a 2-socket EPYC board has 128 device lanes in all; Xeons add theirs."""
    assert catalog.cpu("epyc-7313").usable_lanes(2) == 128
    assert catalog.cpu("epyc-9354").usable_lanes(1) == 128
    assert catalog.cpu("xeon-gold-6338").usable_lanes(2) == 128
    assert catalog.cpu("xeon-gold-6248").usable_lanes(2) == 96


def test_two_socket_lanes_match_the_rule_they_replace(catalog):
    for cpu in catalog.cpus.values():
        if cpu.max_sockets >= 2:
            assert cpu.usable_lanes(2) == (cpu.pcie_lanes if cpu.vendor == "amd" else 2 * cpu.pcie_lanes), cpu.id
            assert (cpu.pcie_lanes_2s is not None) <= ("pcie_lanes_2s" in cpu.unconfirmed), cpu.id


def test_two_socket_lanes_on_a_one_socket_cpu_fail(data_copy):
    row = set_cell(data_copy / "cpus.csv", "ryzen-9-7950x", "pcie_lanes_2s", "48")
    with pytest.raises(
        CatalogError,
        match=rf"cpus.csv, row {row}, column 'pcie_lanes_2s': 'ryzen-9-7950x' is a "
        r"1-socket CPU",
    ):
        cat.load(data_copy)
