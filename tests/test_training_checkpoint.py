"""Checkpoint saves: what a resumable save holds (per trainer), its write time on the build's drives, how many a run
makes and what they add, and the data-drive capacity the kept ones take (estimate/requirements.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sizing import estimate as est
from sizing.estimate import train_memory
from sizing.scenarios import resolve_execution, run
from sizing.specs import Request, System
from sizing.specs.system import checkpoint_target
from sizing.specs.training import DEFAULT_CHECKPOINT_EVERY_S


def resolved(catalog, **kw):
    return resolve_execution(catalog, Request(**{"model": "qwen2.5-7b", "task": "full-finetune", **kw}))


@pytest.mark.parametrize(
    ("trainer", "bytes_per_param"),
    [
        # mixed-precision AdamW with an fp32 master copy (ZeRO paper §3: 2 + 12 bytes of the 16 are states a
        # resumable save keeps; the gradients are not saved): bf16 weights 2 + fp32 master 4 + fp32 m and v 8 = 14,
        # what DeepSpeed writes (bf16 mp_rank_*_model_states plus fp32 zero_pp_rank_*_optim_states)
        ("deepspeed", 14.0),
        ("transformers", 14.0),
        # torchtune's full fine-tune keeps weights and AdamW moments in bf16 and no master copy: 2 + 2 + 2
        ("torchtune", 6.0),
    ],
)
def test_a_full_fine_tune_save_holds_the_model_states_it_resumes_from(catalog, trainer, bytes_per_param):
    model, x = resolved(catalog, trainer=trainer)
    saved = train_memory.resumable_checkpoint_bytes(model, x)
    assert saved == pytest.approx(bytes_per_param * model.n_params, rel=1e-9)
    assert 6.0 <= saved / model.n_params <= 16.0


def test_a_lora_save_holds_only_the_adapters_and_their_optimizer(catalog):
    model, x = resolved(catalog, task="lora", trainer="torchtune")
    n = train_memory.trainable_params(model, x)
    saved = train_memory.resumable_checkpoint_bytes(model, x)
    assert n < 0.02 * model.n_params
    # torchtune's LoRA adapters in bf16 (adapter_bits 16), AdamW moments in bf16, no master copy: 2 + 4 bytes each
    assert saved == pytest.approx(6.0 * n)
    assert saved < 0.01 * train_memory.resumable_checkpoint_bytes(*resolved(catalog, trainer="torchtune"))


def test_a_save_takes_its_bytes_over_the_drives_write_bandwidth(catalog):
    """Data drives: the array's sequential write (n x one drive, striped); no data drive: the system NVMe."""
    model, x = resolved(catalog, tokens=1e9)
    gpu = catalog.gpu("h100-pcie")
    hdd = catalog.drives["hdd-16tb-exos-x16"]
    nvme = catalog.drives["m2-gen4-1tb-990pro"]
    for data, n in ((hdd, 4), (None, 0)):
        where = System.of(gpu, 1).model_copy(update=_target(nvme, data, n))
        e = est.estimate(model, x.on_gpus(1), where, catalog.efficiency("transformers", gpu.gpu_class))
        ck = e.training.checkpoint
        bw = n * data.write_bytes_s if data else nvme.write_bytes_s
        assert ck.write_bytes_s == bw
        assert ck.write_s == pytest.approx(ck.bytes_per_node / bw)
        assert ck.bytes == pytest.approx(14.0 * model.n_params)  # HF Trainer: bf16 + fp32 master + 2 fp32 moments
        # 4 x Exos X16 at 261 MB/s: 107 GB in ~102 s; the 990 PRO at 6.9 GB/s: ~15 s
        assert ck.write_s == pytest.approx(14.0 * model.n_params / bw)
        assert ck.every_s == DEFAULT_CHECKPOINT_EVERY_S and not ck.asynchronous
        assert ck.n_saves == math.ceil(e.training.train_s / ck.every_s)
        assert ck.added_s == pytest.approx(ck.n_saves * ck.write_s)  # synchronous: each save stalls its write
        assert e.training.total_s == pytest.approx(e.training.train_s + ck.added_s)


def _target(system, data, n):
    class B:  # the two fields checkpoint_target reads, as a Build carries them
        system_drive, data_drive, n_data_drives = system, data, n

    return checkpoint_target(B())  # type: ignore[arg-type]


def test_asynchronous_saves_stall_only_for_the_copy_to_host(catalog):
    """Megatron-Core --async-save: the states go to host RAM, the drive write overlaps the next steps."""
    req = Request(model="qwen2.5-7b", task="full-finetune", trainer="megatron", gpu="h100-sxm", n_gpus=8, tokens=1e9)
    ck = run(catalog, req).training.checkpoint
    assert ck.asynchronous
    assert ck.stall_s < ck.write_s


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 20), st.integers(50, 5000))
def test_more_frequent_saves_never_shorten_the_run(catalog, steps_a, extra):
    base = Request(model="qwen2.5-1.5b", task="full-finetune", gpu="rtx-4090", tokens=2e8)
    sparse = run(catalog, base.model_copy(update={"checkpoint_every_steps": steps_a + extra})).training
    dense = run(catalog, base.model_copy(update={"checkpoint_every_steps": steps_a})).training
    assert dense.checkpoint.n_saves >= sparse.checkpoint.n_saves
    assert dense.total_s >= sparse.total_s
    assert dense.train_s == pytest.approx(sparse.train_s)


@pytest.mark.parametrize("kept", [1, 2, 5])
def test_the_data_drive_holds_the_kept_saves(catalog, kept):
    model, x = resolved(catalog, keep_checkpoints=kept)
    gpu = catalog.gpu("h100-pcie")
    one = est.requirements(model, x.on_gpus(2), System.of(gpu, 2))
    _, x0 = resolved(catalog, keep_checkpoints=1)
    base = est.requirements(model, x0.on_gpus(2), System.of(gpu, 2))
    per = train_memory.checkpoint_bytes_per_node(model, x.on_gpus(2), 1)
    assert one.data_drive_bytes - base.data_drive_bytes == pytest.approx((kept - 1) * per)


def test_sharded_saves_split_over_nodes_and_ddp_saves_are_whole(catalog):
    model, x = resolved(catalog, sharding="zero3")
    assert train_memory.checkpoint_bytes_per_node(model, x, 4) == pytest.approx(
        train_memory.resumable_checkpoint_bytes(model, x) / 4
    )
    model, d = resolved(catalog, sharding="ddp")
    assert train_memory.checkpoint_bytes_per_node(model, d, 4) == train_memory.resumable_checkpoint_bytes(model, d)
