"""`sizing validate --build FILE` against saved recommendation and report JSON (tests/fixtures/bench): the parts,
the promised figures within their bands, and the exit status; lscpu / dmidecode / NVML readings from captured
text and a fake NVML; the engine command lines and their absent path."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from sizing.bench import build_check as bc
from sizing.bench import engines, host
from sizing.specs import SizingError

FIX = Path(__file__).resolve().parent / "fixtures" / "bench"
REC = FIX / "recommend_llama-3-70b_h100.json"
REPORT = FIX / "report_llama-3-70b_h100.json"


def machine(**update) -> dict:
    """The machine the fixtures' build describes: 8 x H100 SXM, 2 x Xeon Gold 6430, 16 x 64 GB DDR5-4800."""
    nvml = {"available": True, "gpus": [{"power_limit_w": 700.0, "pcie_width_max": 16}] * 8}
    device = {
        "gpus": ["NVIDIA H100 80GB HBM3"] * 8,
        "gpu_id": "h100-sxm",
        "gpu_memory_bytes": 81559 * 2**20,  # what torch reports for an H100 SXM 80GB
        "cpu": "Intel(R) Xeon(R) Gold 6430",
        "cores": 64,
        "host_memory_bytes": 1007.5 * 2**30,
        "n_dimms": 16,
        "memory_configured_mt_s": 4400,
        "nvml": nvml,
    }
    return device | update


@pytest.mark.parametrize("path", [REC, REPORT])
def test_the_machine_the_build_describes_passes_every_part(catalog, path):
    promise = bc.load_promise(path)
    checks = {c.name: c for c in bc.part_checks(promise, machine(), catalog)}
    want = {"gpu_model", "gpu_count", "gpu_memory", "power_limit", "cpu_model", "cpu_cores", "host_memory"}
    assert want <= set(checks)
    failed = {n: c for n, c in checks.items() if c.ok is False}
    # DDR5-4800 on a Xeon Gold 6430 (rated 4400 MT/s): the board runs it at 4400, the slower of the two
    assert not failed, failed


@pytest.mark.parametrize(
    ("update", "fails"),
    [
        ({"gpus": ["NVIDIA H100 80GB HBM3"] * 4}, "gpu_count"),
        ({"gpu_id": "h100-pcie"}, "gpu_model"),
        ({"gpu_memory_bytes": 40 * 2**30}, "gpu_memory"),
        ({"cpu": "AMD EPYC 9654 96-Core Processor"}, "cpu_model"),
        ({"host_memory_bytes": 512 * 2**30}, "host_memory"),
        ({"n_dimms": 8}, "memory_dimms"),
        ({"nvml": {"available": True, "gpus": [{"power_limit_w": 500.0, "pcie_width_max": 16}] * 8}}, "power_limit"),
        ({"nvml": {"available": True, "gpus": [{"power_limit_w": 700.0, "pcie_width_max": 8}] * 8}}, "pcie_width"),
    ],
)
def test_each_missing_part_fails_its_own_check(catalog, update, fails):
    checks = {c.name: c for c in bc.part_checks(bc.load_promise(REPORT), machine(**update), catalog)}
    assert checks[fails].ok is False
    assert [n for n, c in checks.items() if c.ok is False] == [fails]


def test_without_nvml_the_power_and_link_checks_say_so_and_do_not_fail(catalog):
    device = machine(nvml={"available": False, "reason": "NVML not available (pip install 'sizing[nvml]')"})
    checks = {c.name: c for c in bc.part_checks(bc.load_promise(REPORT), device, catalog)}
    assert checks["power_limit"].ok is None and "NVML not available" in str(checks["power_limit"].measured)


def test_a_report_carries_its_bands_and_bench_model():
    promise = bc.load_promise(REPORT)
    assert promise.kind == "report" and promise.bench_model == "8b"
    near = bc.Check(name="decode_tokens_per_s", measured=1.1, estimated=1.0, ratio=1.1)
    far = bc.Check(name="prefill_tokens_per_s", measured=1.3, estimated=1.0, ratio=1.3)
    judged = {c.name: c.ok for c in bc.banded([near, far], promise, default=0.25)}
    assert judged == {"decode_tokens_per_s": True, "prefill_tokens_per_s": False}  # 12% and 20% bands
    info = bc.Check(name="decode_tokens_per_s", measured=3.0)
    assert bc.banded([info], promise, 0.25)[0].ok is None  # nothing to judge against on a CPU


def test_serve_decode_passes_within_its_band_and_waits_for_an_engine(catalog):
    promise = bc.load_promise(REC)
    promised = promise.build["speed"]["decode_tokens_per_s_total"]
    assert bc.serve_check(promise, None, None, catalog).ok is None
    assert bc.serve_check(promise, promised * 0.9, "vllm", catalog).ok is True  # within the 12% band
    assert bc.serve_check(promise, promised * 0.8, "vllm", catalog).ok is False
    assert bc.serve_check(promise, promised * 1.5, "vllm", catalog).ok is True  # faster than promised is fine


def test_files_that_are_not_builds_are_one_line_errors(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(SizingError, match="not a saved"):
        bc.load_promise(bad)
    bad.write_text("{not json")
    with pytest.raises(SizingError, match="not a saved"):
        bc.load_promise(bad)
    with pytest.raises(SizingError, match="cannot read"):
        bc.load_promise(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("catalog_name", "device_name", "same"),
    [
        ("Intel Xeon Gold 6430", "Intel(R) Xeon(R) Gold 6430", True),
        ("AMD EPYC 9654", "AMD EPYC 9654 96-Core Processor", True),
        ("Intel Core i9-14900K", "13th Gen Intel(R) Core(TM) i9-14900K", True),
        ("AMD EPYC 9654", "AMD EPYC 9554 64-Core Processor", False),
        ("Intel Xeon Gold 6430", "AMD EPYC", False),
    ],
)
def test_cpu_names_match_by_model_number(catalog_name, device_name, same):
    assert bc.cpu_matches(catalog_name, device_name) is same


# ---- lscpu, dmidecode, NVML -------------------------------------------------------------------------------
def test_lscpu_and_dmidecode_parse_captured_text():
    vm = host.parse_lscpu((FIX / "lscpu_kvm_epyc_2core.txt").read_text())
    assert vm["cpu_model"] == "AMD EPYC" and vm["sockets"] == 1 and vm["cores"] == 2
    xeon = host.parse_lscpu((FIX / "lscpu_dual_xeon.txt").read_text())
    assert xeon == {"cpu_model": "Intel(R) Xeon(R) Gold 6430", "sockets": 2, "cores": 64, "threads": 128}
    dimms = host.parse_dmidecode_memory((FIX / "dmidecode_memory.txt").read_text())
    assert [d.locator for d in dimms] == ["CPU0_DIMM_A1", "CPU1_DIMM_A1"]  # the empty slot is left out
    assert [d.size_bytes for d in dimms] == [64 * 2**30, 64 * 2**30]
    assert [(d.kind, d.speed_mt_s, d.configured_mt_s) for d in dimms] == [("DDR5", 4800, 4400), ("DDR5", 4800, 4800)]
    assert host.parse_lscpu("") == {} and host.parse_dmidecode_memory("") == []


class FakeNVMLError(Exception):
    pass


def fake_nvml(n: int = 2, nvlinks: int = 18) -> SimpleNamespace:
    """The pynvml calls the harness makes, answering as an 8-GPU H100 SXM board would (power in milliwatts)."""

    def nvlink_state(_h, link):
        if link >= nvlinks:
            raise FakeNVMLError("not supported")
        return 1

    return SimpleNamespace(
        NVMLError=FakeNVMLError,
        NVML_CLOCK_SM=1,
        NVML_CLOCK_MEM=2,
        NVML_NVLINK_MAX_LINKS=18,
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: n,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetName=lambda h: b"NVIDIA H100 80GB HBM3",
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(total=85520809984),
        nvmlDeviceGetEnforcedPowerLimit=lambda h: 700_000,
        nvmlDeviceGetPowerUsage=lambda h: 650_000,
        nvmlDeviceGetMaxClockInfo=lambda h, c: 1980 if c == 1 else 2619,
        nvmlDeviceGetCurrPcieLinkGeneration=lambda h: 5,
        nvmlDeviceGetCurrPcieLinkWidth=lambda h: 16,
        nvmlDeviceGetMaxPcieLinkGeneration=lambda h: 5,
        nvmlDeviceGetMaxPcieLinkWidth=lambda h: 16,
        nvmlDeviceGetNvLinkState=nvlink_state,
        nvmlSystemGetDriverVersion=lambda: "570.86.15",
    )


def test_nvml_readings_through_a_fake_library():
    got = host.read_nvml(fake_nvml(2))
    assert got["available"] and got["driver"] == "570.86.15" and len(got["gpus"]) == 2
    g = got["gpus"][0]
    assert g["name"] == "NVIDIA H100 80GB HBM3" and g["power_limit_w"] == 700.0 and g["power_draw_w"] == 650.0
    assert (g["pcie_gen"], g["pcie_width_max"], g["nvlinks_active"], g["sm_clock_max_mhz"]) == (5, 16, 18, 1980)
    assert host.read_nvml(fake_nvml(1, nvlinks=0))["gpus"][0]["nvlinks_active"] == 0  # a PCIe card
    calls = []
    assert host.power_under_load(lambda: calls.append(1), 0.05, fake_nvml(2)) == 1300.0 and calls


def test_without_nvml_the_reading_says_so(monkeypatch):
    monkeypatch.setattr(host, "_nvml", lambda: None)
    got = host.read_nvml()
    assert got["available"] is False and got["reason"].startswith("NVML not available")
    assert host.power_under_load(lambda: None, 0.01) is None
    broken = fake_nvml()
    broken.nvmlInit = lambda: (_ for _ in ()).throw(FakeNVMLError("driver not loaded"))
    assert host.read_nvml(broken)["available"] is False


# ---- engines ----------------------------------------------------------------------------------------------
def test_engine_commands_are_the_engines_own_benchmarks():
    vllm = engines.engine_command("vllm", "meta-llama/Meta-Llama-3-70B", 3584, 512, 8)
    assert vllm[:3] == ["vllm", "bench", "throughput"]
    assert vllm[vllm.index("--input-len") + 1] == "3584" and vllm[vllm.index("--max-num-seqs") + 1] == "8"
    llama = engines.engine_command("llama.cpp", "m.gguf", 512, 128, 1)
    assert llama[:3] == ["llama-bench", "-m", "m.gguf"] and llama[-2:] == ["-o", "json"]
    with pytest.raises(SizingError, match="no benchmark"):
        engines.engine_command("tgi", "m", 1, 1, 1)


def test_engine_outputs_parse():
    line = "Throughput: 4.10 requests/s, 16825.09 total tokens/s, 2100.54 output tokens/s"
    assert engines.parse_vllm_throughput(line) == 2100.54
    rows = [{"n_prompt": 512, "n_gen": 0, "avg_ts": 5000.0}, {"n_prompt": 0, "n_gen": 128, "avg_ts": 95.5}]
    assert engines.parse_llama_bench(json.dumps(rows)) == 95.5
    assert engines.parse_vllm_throughput("nothing") is None and engines.parse_llama_bench("oops") is None


def test_an_absent_engine_is_one_line_not_an_error(catalog, monkeypatch):
    monkeypatch.setattr(engines.shutil, "which", lambda _exe: None)
    rate, note = engines.engine_run(catalog, "vllm", None, {"model": "llama-3-70b", "batch": 8})
    assert rate is None and "not on PATH" in note and "\n" not in note
    assert engines.engine_model(catalog, "vllm", None, {"model": "llama-3-70b"}) == "meta-llama/Meta-Llama-3-70B"
    assert engines.engine_model(catalog, "llama.cpp", None, {"model": "llama-3-70b"}) is None  # needs a .gguf


def test_an_installed_engine_is_run_and_read(catalog, monkeypatch):
    monkeypatch.setattr(engines.shutil, "which", lambda exe: f"/usr/bin/{exe}")
    ran = []

    def fake_run(cmd, **_kw):
        ran.append(cmd)
        return SimpleNamespace(
            returncode=0, stdout="Throughput: 1.00 requests/s, 9.0 total tokens/s, 400.5 output tokens/s", stderr=""
        )

    monkeypatch.setattr(engines.subprocess, "run", fake_run)
    rate, note = engines.engine_run(catalog, "vllm", None, {"model": "llama-3-70b", "batch": 8, "prompt_tokens": 3584})
    assert rate == 400.5 and ran[0][:3] == ["vllm", "bench", "throughput"] and "400.5" in note


# ---- the whole command on this CPU ------------------------------------------------------------------------
def test_cli_validate_against_a_saved_recommendation_exits_by_the_verdict(capsys, monkeypatch):
    pytest.importorskip("torch")
    from cli_run import run_main

    from sizing.bench import validate as v

    monkeypatch.setattr(v, "_allreduce", lambda *_a: [])  # tests/test_bench_allreduce.py covers it
    monkeypatch.setattr(v, "training_checks", lambda *_a: [])  # tests/test_bench_training.py covers it
    code, out, err = run_main(["validate", "--quick", "--json", "--build", str(REC), "--engine", "vllm"], capsys)
    data = json.loads(out)
    names = {m["name"] for m in data["measurements"]}
    assert {"gpu_model", "gpu_count", "cpu_model", "host_memory", "serve_decode", "decode_tokens_per_s"} <= names
    assert data["ok"] is False and code == 1  # this CPU box is not 8 x H100
    assert any("vllm" in n for n in data["notes"])
    code, _, err = run_main(["validate", "--quick", "--build", str(FIX / "README.md")], capsys)
    assert code == 2 and "not a saved" in err and "Traceback" not in err
    code, _, err = run_main(["validate", "--quick", "--engine", "tgi"], capsys)
    assert code == 2 and "--engine vllm" in err and "Traceback" not in err
