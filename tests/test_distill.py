"""Distillation plans: soft-label storage, the phases of each mode, one build for every phase, the CLI's JSON."""

from __future__ import annotations

import json

import pytest
from cli_run import run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing import distillation
from sizing.estimate.distill import label_bytes
from sizing.specs import RecommendRequest, Request

TEACHER, STUDENT = "deepseek-r1-distill-qwen-32b", "qwen2.5-1.5b"


@given(tokens=st.floats(1e3, 1e12), k=st.integers(1, 1000))
def test_top_k_storage_is_tokens_times_k_times_value_and_id_bytes(tokens, k):
    """Offline soft labels: one fp16 value and one token id per kept entry per position; ids fit 16 bits only for
    vocabularies up to 65,536 (Qwen's 151,936 needs int32)."""
    assert label_bytes(tokens, k, 32_000) == pytest.approx(tokens * k * (2 + 2))
    assert label_bytes(tokens, k, 151_936) == pytest.approx(tokens * k * (2 + 4))
    assert label_bytes(2 * tokens, k, 151_936) == pytest.approx(2 * label_bytes(tokens, k, 151_936))
    assert label_bytes(tokens, 2 * k, 151_936) == pytest.approx(2 * label_bytes(tokens, k, 151_936))


def request(**kw) -> Request:
    base = {"model": STUDENT, "task": "distill", "teacher": TEACHER, "tokens": 2e8, "gpu": "h100-sxm", "n_gpus": 8}
    return Request(**{**base, **kw})


def test_offline_plan_runs_the_teacher_then_trains_the_student(catalog):
    plans = distillation.estimate(catalog, request(mode="offline", kd_top_k=20))
    (plan,) = plans
    teacher, student = plan.phases
    assert (teacher.name, student.name) == ("teacher-labels", "student-training")
    assert teacher.storage_bytes == pytest.approx(label_bytes(2e8, 20, 151_936))
    assert teacher.time_s == pytest.approx(2e8 / teacher.estimate.speed.prefill_tokens_per_s)
    assert student.time_s == pytest.approx(2e8 / student.estimate.training.train_tokens_per_s)
    assert plan.total_time_s == pytest.approx(teacher.time_s + student.time_s)
    assert teacher.estimate.execution.engine.all_prompt_logits  # every position's logits are computed


def test_online_distillation_carries_the_teacher_in_every_step(catalog):
    offline, online = distillation.estimate(catalog, request())
    (step,) = online.phases
    student = offline.phases[1]
    assert step.estimate.memory.per_gpu_bytes > student.estimate.memory.per_gpu_bytes
    assert step.estimate.training.train_tokens_per_s < student.estimate.training.train_tokens_per_s
    assert step.estimate.memory.breakdown.total_bytes == pytest.approx(step.estimate.memory.per_gpu_bytes)


@settings(max_examples=10, deadline=None)
@given(epochs=st.sampled_from([1.0, 2.0, 4.0]))
def test_offline_pays_the_teacher_once_online_every_epoch(catalog, epochs):
    offline, online = distillation.estimate(catalog, request(epochs=epochs))
    assert offline.phases[0].time_s == pytest.approx(distillation.estimate(catalog, request())[0].phases[0].time_s)
    assert online.total_time_s == pytest.approx(epochs * distillation.estimate(catalog, request())[1].total_time_s)


def test_sequence_level_generates_then_fine_tunes(catalog):
    (plan,) = distillation.estimate(catalog, request(mode="sequence", samples=10_000, response_tokens=2048))
    gen, train = plan.phases
    assert gen.name == "teacher-generation" and gen.tokens == 10_000 * 2048
    assert train.tokens == pytest.approx(10_000 * (512 + 2048))


def test_recommend_gives_one_build_for_both_phases(catalog):
    r = distillation.recommend(catalog, RecommendRequest(**{**request().model_dump(), "gpu": "rtx-4090"}))
    assert r.build is not None and r.chosen is not None
    assert all(p.estimate.fits for p in r.chosen.phases)
    assert all(p.estimate.system.gpu.id == r.build.build.gpu.id for p in r.chosen.phases)
    assert {p.name for p in r.chosen.phases} <= {"teacher-labels", "student-training", "online"}


def test_cli_prints_phases_and_a_plan_a_buyer_can_act_on(capsys):
    code, out, _ = run_main(
        ["recommend", "--task", "distill", "--teacher", TEACHER, "--student", STUDENT, "--tokens", "200M", "--json"],
        capsys,
    )
    assert code == 0
    data = json.loads(out)
    assert data["mode"] in ("offline", "online")
    assert data["total_time_s"] > 0 and data["build"]["gpu"]
    for phase in data["phases"]:
        assert {"name", "task", "model", "memory", "time_s", "storage_bytes", "build"} <= set(phase)


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (["--tokens", "200M"], "--teacher"),
        (["--teacher", TEACHER], "--tokens"),
        (["--teacher", TEACHER, "--tokens", "lots"], "200M"),
    ],
)
def test_distill_requests_that_lack_a_part_say_which(args, fix, capsys):
    code, out, err = run_main(["estimate", "--task", "distill", "--model", STUDENT, *args], capsys)
    assert code == 2 and fix in err and "Traceback" not in err
