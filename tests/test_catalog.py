"""Catalog loading: every row checked, errors name file, row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from csv_edit import set_cell

from sizing import catalog as cat
from sizing.catalog import CatalogError
from sizing.specs import SizingError

REQUIRED_MODELS = """llama-2-7b llama-2-13b llama-2-70b llama-3-8b llama-3-70b llama-3.1-8b llama-3.1-70b
llama-3.1-405b llama-3.2-1b llama-3.2-3b llama-3.3-70b qwen-1.8b qwen-7b qwen-14b qwen-72b qwen2.5-0.5b
qwen2.5-1.5b qwen2.5-3b qwen2.5-7b qwen2.5-14b qwen2.5-32b qwen2.5-72b qwen3-0.6b qwen3-1.7b qwen3-4b qwen3-8b
qwen3-14b qwen3-32b qwen3-30b-a3b qwen3-235b-a22b deepseek-r1-distill-qwen-1.5b deepseek-r1-distill-qwen-7b
deepseek-r1-distill-qwen-14b deepseek-r1-distill-qwen-32b deepseek-r1-distill-llama-8b
deepseek-r1-distill-llama-70b deepseek-v2-lite deepseek-v3 deepseek-r1 mistral-7b mixtral-8x7b mixtral-8x22b
codellama-7b codellama-34b deepseek-coder-33b tinyllama-1.1b vicuna-7b mpt-7b falcon-7b octocoder-15.5b chatglm2-6b
gemma-2-9b gemma-2-27b phi-3-mini""".split()

REQUIRED_GPUS = """rtx-4090 rtx-4090-d rtx-4090-blower rtx-5090 rtx-a6000 rtx-6000-ada l20 l40s a100-40gb-pcie
a100-80gb-pcie a100-40gb-sxm a100-80gb-sxm h100-pcie h100-sxm h100-nvl h200 h20 a800-80gb-pcie h800-sxm rtx-3090
rtx-3090-ti rtx-3080 rtx-3080-ti rtx-3070 rtx-4070-ti rtx-4080 rtx-4000-ada rtx-5000-ada a40 a10g ascend-910b""".split()


def test_bundled_catalog_loads(catalog):
    assert set(REQUIRED_MODELS) <= set(catalog.models)
    assert all(catalog.gpu(g) for g in REQUIRED_GPUS)


def test_every_measured_slug_resolves(catalog):
    """The slugs measured.csv uses for models, engines, precisions and GPUs are ids or aliases here."""
    for name in ("llama-3-8b", "qwen2.5-72b", "llama-3.1-405b", "llama-3.3-70b"):
        catalog.model(name)
    for name in (
        "llama.cpp",
        "vllm",
        "transformers",
        "tensorrt-llm",
        "gpt-fast",
        "exllama",
        "exllamav2",
        "mlc-llm",
        "autoawq",
        "ollama",
    ):
        catalog.engine(name)
    for name in (
        "awq-int4",
        "bf16",
        "f16",
        "fp8",
        "gptq-int4",
        "gptq-int8",
        "int4",
        "int8",
        "nf4",
        "q4_k_m",
        "q4_0",
        "q8_0",
        "bnb-int8",
        "mlc-q4f16",
        "exl2-4.0bpw",
        "exl2-6.5bpw",
    ):
        catalog.precision(name)
    for name in ("a100-80gb", "rtx-a6000", "rtx-6000-ada", "h100-pcie", "l40s", "a40", "rtx-4000-ada"):
        catalog.gpu(name)
    assert catalog.model("starcoder-15.5b").id == "octocoder-15.5b"
    assert catalog.model("qwen-7b").id == "qwen-7b"


def test_every_row_has_a_source(catalog):
    for table in (catalog.models, catalog.gpus, catalog.precisions, catalog.engines):
        assert all(item.source.strip() for item in table.values())


def test_unconfirmed_gpu_is_marked(catalog):
    assert catalog.gpu("ascend-910b").unconfirmed


def test_every_model_matches_its_stated_parameter_count(catalog):
    for model in catalog.models.values():
        assert cat.check_model_params(model) is None, model.id


def test_exl2_any_bpw(catalog):
    assert catalog.precision("exl2-4.65bpw").weight_bits == pytest.approx(4.65)
    with pytest.raises(SizingError):
        catalog.precision("exl2-40bpw")


def test_q4_k_m_is_not_four_bits(catalog):
    assert catalog.precision("q4_k_m").weight_bits > 4.5  # llama.cpp quantize table: ~4.8-4.9 bpw


def test_unknown_name_lists_closest(catalog):
    with pytest.raises(SizingError, match="llama-3-8b"):
        catalog.model("llama3-8bb")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_duplicate_id_is_rejected(data_copy):
    lines = (data_copy / "gpus.csv").read_text().splitlines()
    (data_copy / "gpus.csv").write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(CatalogError, match=r"gpus.csv, row \d+, column 'id': duplicate id"):
        cat.load(data_copy)


def test_unknown_column_is_rejected(data_copy):
    _edit(data_copy / "engines.csv", "id,name,", "id,nmae,")
    with pytest.raises(CatalogError, match=r"engines.csv, row 1, column 'nmae': unknown column"):
        cat.load(data_copy)


def test_negative_number_is_rejected(data_copy):
    text = (data_copy / "gpus.csv").read_text().splitlines()
    cells = text[1].split(",")
    header = text[0].split(",")
    cells[header.index("tdp_w")] = "-450"
    text[1] = ",".join(cells)
    (data_copy / "gpus.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(CatalogError, match=r"gpus.csv, row 2, column 'tdp_w'"):
        cat.load(data_copy)


def test_zero_where_positive_is_required(data_copy):
    text = (data_copy / "models.csv").read_text().splitlines()
    header = text[0].split(",")
    cells = text[1].split(",")
    cells[header.index("n_layers")] = "0"
    text[1] = ",".join(cells)
    (data_copy / "models.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(CatalogError, match=r"models.csv, row 2, column 'n_layers'"):
        cat.load(data_copy)


def test_parameter_count_disagreeing_with_shape_is_rejected(data_copy):
    text = (data_copy / "models.csv").read_text().splitlines()
    header = text[0].split(",")
    row = next(i for i, line in enumerate(text) if line.startswith("llama-2-7b,"))
    cells = text[row].split(",")
    cells[header.index("params_b")] = "7.0"  # the nominal size, 4% off the shape's 6.74B
    text[row] = ",".join(cells)
    (data_copy / "models.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(CatalogError, match=r"models.csv, row \d+, column 'params_b'.*6.738B"):
        cat.load(data_copy)


def test_broken_row_is_rejected(data_copy):
    with (data_copy / "engines.csv").open("a") as fh:
        fh.write('broken,"unterminated\n')
    with pytest.raises(CatalogError, match="engines.csv"):
        cat.load(data_copy)


def test_missing_folder(tmp_path):
    with pytest.raises(SizingError, match="does not exist"):
        cat.load(tmp_path / "nope")


def test_csv_with_bom_loads(data_copy):
    path = data_copy / "gpus.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert cat.load(data_copy).gpu("rtx-4090")


def test_uppercase_id_is_rejected(data_copy):
    _edit(data_copy / "gpus.csv", "\nrtx-4090,", "\nRTX-4090,")
    with pytest.raises(CatalogError, match=r"gpus.csv, row \d+, column 'id': 'RTX-4090' is not a lowercase slug"):
        cat.load(data_copy)


def test_alias_that_looks_like_a_size_is_rejected(data_copy):
    _edit(data_copy / "models.csv", "llama2-7b;", "llama2-7b;7b;")
    with pytest.raises(CatalogError, match="looks like a model size"):
        cat.load(data_copy)


def test_older_efficiency_file_without_quant_mm_eff_still_loads(data_copy):
    import csv as csv_module

    path = data_copy / "efficiency.csv"
    with path.open(newline="") as fh:
        rows = list(csv_module.reader(fh))
    drop = rows[0].index("quant_mm_eff")
    with path.open("w", newline="") as fh:
        csv_module.writer(fh).writerows([r[:drop] + r[drop + 1 :] for r in rows])
    assert all(e.quant_mm_eff == 1.0 for e in cat.load(data_copy).efficiencies)


@pytest.mark.parametrize(
    ("file", "key", "column", "bad", "allowed"),
    [
        ("gpus.csv", "rtx-4090", "gpu_class", "GeForce", "datacenter, geforce, workstation"),
        ("gpus.csv", "h100-sxm", "nvlink", "NVLink", "none, bridge, nvlink"),
        ("gpus.csv", "rtx-4090", "vendor", "NVIDIA", "nvidia, amd, huawei, intel, intel-gaudi, apple"),
        ("gpus.csv", "rtx-4090", "cooling", "open air", "blower, open-air, passive, sxm"),
        ("gpus.csv", "rtx-4090", "form_factor", "PCIe", "pcie, sxm, oam, module"),
        ("gpus.csv", "rtx-4090", "power_connector", "16-pin", "12vhpwr"),
        ("gpus.csv", "rtx-4090", "price_kind", "retail", "msrp, list, street, used, quote"),
        ("cpus.csv", "epyc-7313", "vendor", "AMD", "intel, amd"),
        ("network.csv", "nic-cx7-ndr-400g-1p", "protocol", "IB", "ethernet, infiniband, both"),
        ("precisions.csv", "q4_k_m", "family", "GGUF", "float, gptq, awq, bnb, gguf, exl2, mlc"),
        ("precisions.csv", "bf16", "compute_dtype", "bfloat16", "f32, bf16, f16, fp8, int8"),
        ("engines.csv", "vllm", "gpu_vendors", "nvidia;ROCm", "nvidia, amd, huawei, intel, intel-gaudi, apple"),
        ("engines.csv", "vllm", "weight_families", "float;marlin", "float, gptq, awq"),
        (
            "efficiency.csv",
            "llama.cpp/geforce",
            "gpu_class",
            "consumer",
            "datacenter, geforce, workstation, *",
        ),
    ],
)
def test_value_outside_its_vocabulary_is_rejected(data_copy, file, key, column, bad, allowed):
    row = set_cell(data_copy / file, key, column, bad)
    with pytest.raises(CatalogError) as info:
        cat.load(data_copy)
    message = str(info.value)
    assert message.startswith(f"{file}, row {row}, column '{column}': '{bad.split(';')[-1]}' is not allowed")
    assert allowed in message and "\n" not in message


def test_wrong_case_gets_a_hint(data_copy):
    set_cell(data_copy / "gpus.csv", "rtx-4090", "gpu_class", "GeForce")
    with pytest.raises(CatalogError, match="did you mean 'geforce'"):
        cat.load(data_copy)


@pytest.mark.parametrize("bad", ["Yes", "True", "y", "2"])
def test_boolean_spellings_outside_the_list_are_rejected(data_copy, bad):
    row = set_cell(data_copy / "gpus.csv", "h100-sxm", "p2p", bad)
    with pytest.raises(
        CatalogError,
        match=rf"gpus.csv, row {row}, column 'p2p': '{bad}' is not a boolean; use "
        r"true/false, yes/no or 1/0",
    ):
        cat.load(data_copy)


def test_excel_booleans_load(data_copy):
    set_cell(data_copy / "gpus.csv", "h100-sxm", "p2p", "TRUE")
    set_cell(data_copy / "gpus.csv", "rtx-4090", "ecc", "FALSE")
    loaded = cat.load(data_copy)
    assert loaded.gpu("h100-sxm").p2p is True and loaded.gpu("rtx-4090").ecc is False


def test_p2p_is_a_boolean(catalog):
    assert catalog.gpu("rtx-4090").p2p is False and not catalog.gpu("rtx-4090").has_p2p  # hardware.md §0
    assert catalog.gpu("h100-sxm").p2p is True and catalog.gpu("h100-sxm").has_p2p


def test_peak_flops_per_compute_dtype(catalog):
    rtx4090 = catalog.gpu("rtx-4090")  # hardware.md §1b: 165.2 bf16 / 330.3 fp8 (FP32 accumulate), dense
    assert rtx4090.peak_flops("bf16") == pytest.approx(165.2e12)
    assert rtx4090.peak_flops("fp8") == pytest.approx(330.3e12)
    assert rtx4090.peak_flops("f32") == pytest.approx(82.6e12)


def test_peak_flops_fallback_is_the_16_bit_peak(catalog):
    """fp8 on a GPU without FP8 units (A100: hardware.md §1b '—') runs weight-only at the bf16 peak."""
    a100 = catalog.gpu("a100-80gb-sxm")
    assert a100.fp8_flops is None
    assert a100.peak_flops("fp8") == a100.bf16_flops == pytest.approx(312e12)
    assert a100.peak_flops("int8") == pytest.approx(624e12)
    ascend = catalog.gpu("ascend-910b")
    assert ascend.fp32_flops is None and ascend.peak_flops("f32") == ascend.bf16_flops


def test_peak_flops_rejects_an_unknown_dtype(catalog):
    with pytest.raises(ValueError, match="unknown compute dtype 'fp4'"):
        catalog.gpu("h100-sxm").peak_flops("fp4")  # type: ignore[arg-type]


def test_default_data_dir_is_this_checkouts():
    """Run from a checkout, the bundled catalog is this checkout's data/, not an installed copy elsewhere."""
    assert cat.default_data_dir() == Path(__file__).resolve().parent.parent / "data"
