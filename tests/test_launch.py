"""The launch command realises what the estimate assumed: the split, the context, the batch and the formats."""

from __future__ import annotations

import pytest

from sizing.reverse import largest
from sizing.scenarios import run
from sizing.specs import Request


def command(catalog, **kw) -> str:
    e = run(catalog, Request(**kw))
    assert e.launch_command
    return e.launch_command


def test_vllm_carries_tensor_parallel_context_batch_and_formats(catalog):
    c = command(catalog, model="qwen2.5-7b", n_gpus=2, batch=16, prompt_tokens=3584, new_tokens=512, kv_precision="fp8")
    assert c.startswith("vllm serve Qwen/")
    for flag in ("--tensor-parallel-size 2", "--max-model-len 4096", "--max-num-seqs 16", "--kv-cache-dtype fp8"):
        assert flag in c
    assert "--quantization awq_marlin" in command(catalog, model="qwen2.5-7b", precision="awq-int4")


def test_llama_cpp_splits_layers_and_sizes_the_cache_for_every_slot(catalog):
    c = command(catalog, model="llama-3-70b", precision="q4_k_m", gpu="rtx-4090", n_gpus=2, batch=4, prompt_tokens=1536)
    assert "--split-mode layer" in c and "-ts 1,1" in c and "-np 4" in c
    assert "-c 8192" in c  # 4 slots x (1,536 + 512)
    assert "-ctk q8_0" in command(catalog, model="llama-3-8b", precision="q4_k_m", kv_precision="q8_0")


@pytest.mark.parametrize(("engine", "start"), [("sglang", "python -m sglang"), ("tensorrt-llm", "trtllm-serve")])
def test_other_engines_name_their_server(catalog, engine, start):
    assert command(catalog, model="llama-3-8b", engine=engine).startswith(start)


def test_a_generic_size_names_the_users_own_checkpoint(catalog):
    c = command(catalog, model="7b")
    assert "MODEL" in c and "your checkpoint" in c


def test_largest_context_fits_and_one_more_does_not(catalog):

    req = Request(model="qwen2.5-7b", gpu="rtx-4090", batch=8)
    value, at = largest(catalog, req, "context")
    assert at.memory.fits and value == at.execution.context_tokens
    more = run(catalog, req.model_copy(update={"prompt_tokens": value + 1 - 512}))
    assert value == at.model.max_context_tokens or not more.memory.fits


@pytest.mark.parametrize("what", ["users", "context"])
def test_largest_is_monotone_in_gpu_memory(catalog, what):

    small, big = (
        largest(catalog, Request(model="llama-3-8b", gpu=g, batch=4), what)[0] for g in ("rtx-4090", "h100-sxm")
    )
    assert big >= small


def test_largest_training_sequence(catalog):

    value, at = largest(catalog, Request(model="llama-2-7b", task="qlora", gpu="rtx-4090"), "seq-len")
    assert value > 2048 and at.memory.fits and at.execution.prompt_tokens == value


def test_speculative_decoding_is_in_the_command(catalog):
    """--speculative reaches the engine's flags: vLLM --speculative-config with the method and the tokens drafted
    per step (and the drafter's repo for a draft model); SGLang's EAGLE path for MTP (num-draft-tokens = n + 1);
    llama-server -md with --draft-max."""
    spec = {"speculative": "mtp", "acceptance": 0.8, "draft_tokens": 2}
    c = command(catalog, model="deepseek-v3", gpu="h200", n_gpus=8, precision="fp8", **spec)
    assert '"num_speculative_tokens": 2' in c and '"method": "mtp"' in c
    c = command(catalog, model="deepseek-v3", gpu="h200", n_gpus=8, precision="fp8", engine="sglang", **spec)
    assert "--speculative-algorithm EAGLE" in c and "--speculative-num-draft-tokens 3" in c
    draft = {"speculative": "draft-model", "acceptance": 0.6, "draft_tokens": 4, "draft_model": "llama-3.2-1b"}
    c = command(catalog, model="llama-3.1-70b", gpu="h100-sxm", n_gpus=4, **draft)
    assert '"method": "draft_model"' in c and '"model": "meta-llama/' in c
    c = command(
        catalog, model="llama-3.1-70b", precision="q4_k_m", gpu="rtx-4090", n_gpus=2, engine="llama.cpp", **draft
    )
    assert "-md DRAFT.gguf" in c and "--draft-max 4" in c
    assert "speculative" not in command(catalog, model="llama-3-8b")


def test_sglang_across_nodes_names_the_pipeline_stages(catalog):
    """A cluster pipelines one stage per node (Parallelism.for_engine: tp per node, pp = nodes): SGLang takes that as
    --tp-size per stage with --pp-size and --nnodes (its cookbook: Kimi on 2 nodes, --nnodes 2 --tp-size 8
    --pp-size 2), each node started with its own --node-rank."""
    from sizing import estimate as est
    from sizing.scenarios import resolve_execution
    from sizing.specs import System

    model, x = resolve_execution(catalog, Request(model="deepseek-r1", engine="sglang", precision="bf16"))
    two = x.on_gpus(8, 2)
    gpu = catalog.gpu("h100-sxm")
    found = est.estimate(model, two, System.of(gpu, 8, 2), catalog.efficiency("sglang", gpu.gpu_class))
    cmd = found.launch_command or ""
    assert "--tp 8 --pp-size 2 --nnodes 2 --node-rank RANK --dist-init-addr HOST:PORT" in cmd
