"""The current hardware (issue 8): every new GPU and CPU resolves by id and alias, datasheet facts read back through
the catalog, the OAM / Infinity Fabric additions, and every GPU in at least one passing build of some request."""

from __future__ import annotations

import pytest

from sizing.recommend import search
from sizing.scenarios import problem_of
from sizing.specs import RecommendRequest, System
from sizing.specs.system import gpu_link
from sizing.units import GB, GIB, TERA

NEW_GPUS = {  # id -> an alias users type
    "rtx-5060-ti-16gb": "5060-ti",
    "rtx-5070-ti": "5070ti",
    "rtx-5080": "5080",
    "rtx-pro-6000": "rtx-pro-6000-blackwell",
    "rtx-pro-6000-max-q": "rtx-pro-6000-maxq",
    "rtx-pro-6000-server": "rtx-pro-6000-se",
    "rtx-pro-5000": "pro-5000",
    "rtx-pro-4500": "pro-4500",
    "rtx-pro-4000": "pro-4000",
    "l4": "nvidia-l4",
    "l40": "l40-48gb",
    "b200": "hgx-b200",
    "b300": "blackwell-ultra",
    "mi300x": "instinct-mi300x",
    "mi325x": "instinct-mi325x",
    "mi355x": "instinct-mi355x",
    "radeon-pro-w7900": "w7900",
    "rx-7900-xtx": "7900xtx",
    "arc-pro-b60": "arc-b60",
    "gaudi-3": "gaudi3",
}
NEW_CPUS = (
    "epyc-9135 epyc-9355 epyc-9555 epyc-9655 xeon-6737p xeon-6776p xeon-6960p xeon-w5-2545 xeon-w7-3565x tr-9970x "
    "tr-pro-9975wx tr-pro-9995wx core-ultra-9-285k ryzen-9-9950x"
).split()
NEW_CHASSIS = (
    "rack-10u-sys-a21ge-nbrt rack-9u-asus-xa-nb3i-e12 rack-8u-as-8125gs-tnmr2 ws-cube-w790-4gpu tower-define7xl-z890"
).split()
# GPUs no chassis.csv platform builds yet, and why (issue 8: add the chassis or say why)
UNBUILDABLE: dict[str, str] = {}
# The rack power a request states for a GPU whose node draws more than the default feeds carry: 8 x 1,400 W MI355X
# plus hosts draw ~12.5 kW at the wall, more than the two 208 V / 30 A feeds of its active PSU half (4,992 W each),
# so the request gives each of the 2+2 PSU cords of the AS-4126GS-NMR-LCC its own circuit
RACK_POWER = {"mi355x": {"circuits": 4}}


@pytest.mark.parametrize(("gpu", "alias"), NEW_GPUS.items())
def test_new_gpus_resolve_by_id_and_alias(catalog, gpu, alias):
    assert catalog.gpu(gpu).id == gpu
    assert catalog.gpu(alias).id == gpu
    assert catalog.gpu(gpu.upper()).id == gpu  # look-ups ignore case


@pytest.mark.parametrize("cpu", NEW_CPUS)
def test_new_cpus_resolve(catalog, cpu):
    assert catalog.cpus[cpu].source
    assert cpu in catalog.cpus


def test_new_rows_have_sources_and_say_what_is_unconfirmed(catalog):
    """Every new row names a source; an empty price is listed as unconfirmed or explained as UNPRICED."""
    parts = [catalog.gpu(g) for g in NEW_GPUS] + [catalog.cpus[c] for c in NEW_CPUS]
    parts += [catalog.chassis[c] for c in NEW_CHASSIS]
    for p in parts:
        assert p.source, p.id
        if p.price_usd is None:
            assert "price_usd" in p.unconfirmed or "UNPRICED" in (p.notes or ""), p.id


def test_rtx_pro_6000_datasheet(catalog):
    """NVIDIA RTX PRO 6000 Blackwell Workstation Edition datasheet: 96 GB GDDR7 ECC, 1,792 GB/s, 600 W, PCIe 5.0
    x16, 16-pin; 503.8 TFLOPS FP16 dense with FP32 accumulate (188 SMs x 2.617 GHz x 1024; hmc-tech)."""
    g = catalog.gpu("rtx-pro-6000")
    assert g.memory_bytes == pytest.approx(97_887 * 2**20, rel=1e-4)  # nvidia-smi total of the 96 GB card
    assert g.mem_bw_bytes_s == pytest.approx(1792 * GB)
    assert g.tdp_w == 600 and g.ecc and g.pcie_gen == 5
    assert g.peak_flops("bf16") == pytest.approx(503.8 * TERA)
    assert g.peak_flops("fp8") == pytest.approx(2 * g.peak_flops("bf16"))
    server, max_q = catalog.gpu("rtx-pro-6000-server"), catalog.gpu("rtx-pro-6000-max-q")
    assert server.cooling == "passive" and max_q.cooling == "blower" and max_q.tdp_w == 300
    assert server.memory_bytes == max_q.memory_bytes == g.memory_bytes


def test_blackwell_geforce_keeps_the_half_rate(catalog):
    """GeForce Blackwell halves FP32-accumulate tensor math (5090: 209.5 = 170 SMs x 2.407 GHz x 512; hardware.md
    §1b), pro Blackwell does not: per SM and GHz the RTX PRO 6000 does twice the 5080's work."""
    per_sm_ghz = {
        gid: catalog.gpu(gid).bf16_flops / (sms * ghz * 1e9)
        for gid, sms, ghz in (("rtx-5090", 170, 2.407), ("rtx-5080", 84, 2.617), ("rtx-pro-6000", 188, 2.617))
    }
    assert per_sm_ghz["rtx-5090"] == pytest.approx(512, rel=0.01)
    assert per_sm_ghz["rtx-5080"] == pytest.approx(512, rel=0.01)
    assert per_sm_ghz["rtx-pro-6000"] == pytest.approx(1024, rel=0.01)


def test_b200_and_b300(catalog):
    """HGX B200 (glennklockwood, DGX B200 guide): 1,440 GB over 8 GPUs of HBM3e, 8 TB/s, dense BF16 2,250 (4,500 is
    sparse), FP8 4,500, NVLink 5 at 1.8 TB/s, 1,000 W; B300: 288 GB at the same dense BF16."""
    b200, b300 = catalog.gpu("b200"), catalog.gpu("b300")
    assert b200.memory_bytes * 8 == pytest.approx(1440 * GIB)
    assert b200.mem_bw_bytes_s == pytest.approx(8000 * GB) and b200.tdp_w == 1000
    assert b200.peak_flops("bf16") == pytest.approx(2250 * TERA)
    assert b200.peak_flops("fp8") == pytest.approx(4500 * TERA)
    assert b200.nvlink == "nvlink" and b200.nvlink_bytes_s == pytest.approx(1800 * GB)
    assert b300.memory_bytes == pytest.approx(288 * GIB) and b300.peak_flops("bf16") == b200.peak_flops("bf16")
    assert b200.arch != b300.arch  # each HGX generation is its own baseboard


def test_mi300x_datasheet_and_fabric(catalog):
    """AMD Instinct MI300X: 192 GB HBM3, 5.3 TB/s, 750 W, dense BF16 1,307.4 and FP8 2,614.9; OAM on an 8-GPU
    Infinity Fabric mesh (7 x 128 GB/s = 896 GB/s)."""
    g = catalog.gpu("mi300x")
    assert g.memory_bytes == pytest.approx(192 * GIB) and g.mem_bw_bytes_s == pytest.approx(5300 * GB)
    assert g.peak_flops("bf16") == pytest.approx(1307.4 * TERA) and g.peak_flops("fp8") == pytest.approx(2614.9 * TERA)
    assert (g.vendor, g.software_stack, g.form_factor, g.nvlink) == ("amd", "rocm", "oam", "infinity-fabric")
    link = gpu_link(g, 8)
    assert link.kind == "fabric" and "Infinity Fabric" in link.name and link.bytes_s == pytest.approx(448 * GB)
    assert System.of(catalog.gpu("h100-sxm"), 8).gpu_link.kind == "nvlink"  # NVIDIA keeps its link kind


def test_cpu_facts_and_2dpc(catalog):
    """Xeon 6700P: 8 channels, DDR5-6400 at 1 DIMM per channel and 5200 at 2 (cnews.cz); EPYC 9005 keeps SP5 with
    12 channels; a CPU without a 2DPC figure answers its 1DPC speed."""
    x = catalog.cpus["xeon-6737p"]
    assert (x.socket, x.memory_channels, x.memory_mt_s(1), x.memory_mt_s(2)) == ("lga4710", 8, 6400, 5200)
    e = catalog.cpus["epyc-9655"]
    assert (e.socket, e.cores, e.memory_channels, e.usable_lanes(2)) == ("sp5", 96, 12, 128)
    assert e.max_memory_mt_s_2dpc is None and e.memory_mt_s(2) == e.max_memory_mt_s
    for cpu in catalog.cpus.values():
        if cpu.max_memory_mt_s_2dpc is not None:
            assert cpu.max_memory_mt_s_2dpc <= cpu.max_memory_mt_s, cpu.id


def test_engines_name_the_new_vendors(catalog):
    vllm, llama, lmdeploy = (catalog.engines[e] for e in ("vllm", "llama.cpp", "lmdeploy"))
    assert {"amd", "intel", "intel-gaudi"} <= set(vllm.gpu_vendors)
    assert "intel" in llama.gpu_vendors and "intel-gaudi" not in llama.gpu_vendors  # SYCL/Vulkan run Arc, not Gaudi
    assert lmdeploy.split == "tensor" and lmdeploy.fit_like == "vllm" and lmdeploy.prefill_chunk_tokens == 8192
    row = next(e for e in catalog.efficiencies if e.engine == "lmdeploy")
    assert row.copied_from == "vllm" and row.n_rows == 0 and "UNCONFIRMED" in row.source


def test_oam_platform_takes_only_its_generation(catalog):
    box = catalog.chassis["rack-8u-as-8125gs-tnmr2"]
    assert box.gpu_form_factor == "oam" and box.takes("cdna3", 8)
    assert not box.takes("cdna3", 4) and not box.takes("cdna4", 8)


@pytest.mark.parametrize("gpu", sorted(NEW_GPUS))
def test_every_new_gpu_appears_in_a_passing_build(catalog, gpu):
    """A 7B model on this GPU alone (at most one 8-GPU node, so the search stays small): some build passes every
    rule, or the GPU is listed in UNBUILDABLE with the reason no chassis takes it."""
    req = RecommendRequest(model="7b", gpus_allowed=(gpu,), max_gpus=8, **RACK_POWER.get(gpu, {}))
    options, rejected = search(problem_of(catalog, req))
    if gpu in UNBUILDABLE:
        assert not options, f"{gpu} now builds: drop it from UNBUILDABLE"
        pytest.skip(f"{gpu} cannot be built: {UNBUILDABLE[gpu]}")
    assert options, f"no passing build for {gpu}: " + "; ".join(
        f.message for r in rejected[:4] for f in r.findings if not f.ok
    )
    assert all(o.build.gpu.id == gpu for o in options)
