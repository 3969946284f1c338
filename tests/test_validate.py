"""The acceptance harness: each probe on the CPU, the OOM bisection, the checks against a saved build, the
verdict, the saved file and the CLI's exit status."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from sizing import report  # noqa: E402
from sizing.bench import probes  # noqa: E402
from sizing.bench.build_check import Promise, part_checks, triad_check  # noqa: E402
from sizing.bench.validate import Check, Validation, save_validation, validation_json  # noqa: E402
from sizing.scenarios import recommend  # noqa: E402
from sizing.specs import RecommendRequest  # noqa: E402


@pytest.mark.parametrize("cap", [1, 7, 64, 1000, 4095])
def test_largest_fitting_finds_the_edge_of_a_fake_allocator(cap):
    calls = []

    def fits(n: int) -> bool:
        calls.append(n)
        return n <= cap

    assert probes.largest_fitting(fits, 1, 4096) == cap
    assert len(calls) < 30  # doubling then bisection, not a scan


def test_largest_fitting_is_zero_when_nothing_fits():
    assert probes.largest_fitting(lambda n: False) == 0


def test_out_of_memory_errors_are_recognised():
    assert probes.is_out_of_memory(MemoryError())
    assert probes.is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not probes.is_out_of_memory(RuntimeError("shape mismatch"))


def test_cpu_probes_are_positive_and_repeatable():
    triads = [probes.measure_triad(probes.TRIAD_BYTES_QUICK, repeats=3) for _ in range(2)]
    assert all(t > 1e8 for t in triads)
    assert max(triads) / min(triads) < 3  # the same machine within a factor of 3 run to run
    assert probes.numpy_matmul_flops(128, repeats=3) > 1e7
    assert probes.host_memory_bytes() is None or probes.host_memory_bytes() > 2**28


@pytest.fixture(scope="module")
def saved_build(catalog_module):
    r = recommend(catalog_module, RecommendRequest(model="qwen2.5-7b"))
    return report.recommendation_json(r)["options"][0]


@pytest.fixture(scope="module")
def catalog_module():
    from sizing import catalog as cat

    return cat.load()


def test_a_machine_without_the_builds_gpus_fails_the_build_checks(saved_build, catalog_module):
    promise = Promise(build=saved_build, kind="recommend")
    device = {"gpus": [], "gpu_id": None, "host_memory_bytes": 16 * 2**30}
    checks = {c.name: c for c in part_checks(promise, device, catalog_module)}
    assert checks["gpu_model"].ok is False and checks["gpu_count"].ok is False
    gpu = catalog_module.gpus[saved_build["gpu"]]
    cpu = catalog_module.cpus[next(p["id"] for p in saved_build["parts"] if p["kind"] == "cpu")]
    right = {
        "gpus": ["x"] * saved_build["n_gpus"],
        "gpu_id": saved_build["gpu"],
        "gpu_memory_bytes": gpu.memory_bytes,
        "cpu": cpu.name,
        "host_memory_bytes": 2e12,
        "nvml": {"available": False, "reason": "NVML not available"},
    }
    assert all(c.ok is not False for c in part_checks(promise, right, catalog_module))


def test_host_memory_bandwidth_is_judged_against_the_builds_populated_channels(saved_build, catalog_module):
    check = triad_check(10e9, saved_build, catalog_module)
    assert check.estimated and check.ratio == pytest.approx(10e9 / check.estimated)
    assert triad_check(10e9, None, catalog_module).ok is None  # nothing promised without a build


def test_a_validation_fails_when_any_figure_falls_short_and_saves_atomically(tmp_path):
    ok = Validation(device={"gpu_id": None}, checks=(Check(name="a", measured=1.0, ok=True),))
    short = ok.model_copy(update={"checks": (*ok.checks, Check(name="b", measured=1.0, estimated=2.0, ok=False))})
    assert ok.ok and not short.ok
    path = save_validation(short, tmp_path)
    data = json.loads(path.read_text())
    assert data["ok"] is False and [m["name"] for m in data["measurements"]] == ["a", "b"]
    assert data == validation_json(short)
    assert not list(path.parent.glob("*.tmp"))


def test_cli_quick_runs_every_step_and_exits_by_the_verdict(tmp_path, capsys, saved_build):
    from cli_run import run_main

    build = tmp_path / "build.json"
    build.write_text(json.dumps({"options": [saved_build]}))
    code, out, _ = run_main(["validate", "--quick", "--json", "--build", str(build)], capsys)
    data = json.loads(out)
    names = {m["name"] for m in data["measurements"]}
    assert {"matmul_f32", "host_memory_bandwidth", "decode_tokens_per_s", "largest_batch", "gpu_model"} <= names
    assert code == (0 if data["ok"] else 1)
    assert data["ok"] is False  # this CI machine has none of the build's GPUs
