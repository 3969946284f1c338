"""Attention data parallel for serving (--dp-attention, sizing/estimate/dp_attention.py): the KV cache a GPU holds,
the attention weights it holds and reads, the collectives per layer, the launch flags, the refusals, and that
without the flag the estimate is the tensor-parallel one."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from v3_serving import v3_estimate, v3_execution

from sizing import estimate as est
from sizing import scenarios
from sizing.estimate import dp_attention, expert, inference, parallel
from sizing.specs import RecommendRequest, SizingError, System

# DeepSeek-V3 config.json (deepseek-ai/DeepSeek-V3): hidden_size 7168, q_lora_rank 1536, kv_lora_rank 512,
# num_attention_heads 128, qk_nope_head_dim 128, qk_rope_head_dim 64, v_head_dim 128, 61 layers. One layer's
# attention (DeepSeek-V2 paper §2.1.2): q_a 7168 x 1536, q_b 1536 x 128 x 192, kv_a 7168 x (512 + 64),
# kv_b 512 x 128 x (128 + 128), o 128 x 128 x 7168
V3_ATTENTION_PER_LAYER = 7168 * 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 * 128 * 256 + 128 * 128 * 7168


def test_without_the_flag_the_estimate_is_tensor_parallel(catalog) -> None:
    plain, off = v3_estimate(catalog), v3_estimate(catalog, dp_attention=False)
    assert plain.execution.parallelism.adp == 1
    assert off.speed == plain.speed and off.memory == plain.memory and off.launch_command == plain.launch_command


def test_v3_attention_parameters_are_its_config(catalog) -> None:
    model, _ = v3_execution(catalog)
    assert V3_ATTENTION_PER_LAYER == 187_105_280
    assert dp_attention.attention_params(model) == 61 * V3_ATTENTION_PER_LAYER


def test_the_latent_cache_is_split_by_requests_not_copied(catalog) -> None:
    """SGLang's guide: under tensor parallel an MLA model's one KV head is duplicated on every GPU; with attention
    DP each replica keeps only its own requests' cache."""
    model, tp = v3_execution(catalog)
    _, dpa = v3_execution(catalog, dp_attention=True)
    assert dpa.parallelism.adp == 8 and dp_attention.attention_tp(dpa) == 1
    assert parallel.tp_kv_share(model, tp) == 1.0  # the latent on every GPU
    assert parallel.tp_kv_share(model, dpa) == pytest.approx(math.ceil(32 / 8) / 32)
    _, odd = v3_execution(catalog, dp_attention=True, batch=33)  # the busiest replica serves ceil(33 / 8) = 5
    assert parallel.tp_kv_share(model, odd) == pytest.approx(5 / 33)


def test_every_gpu_holds_all_the_attention_weights(catalog) -> None:
    """At attn_tp = 1 a GPU holds the attention weights whole instead of 1/8 of them: 7/8 x 61 x 187.1M params
    more, one byte each in FP8."""
    tp, dpa = v3_estimate(catalog), v3_estimate(catalog, dp_attention=True)
    extra = dpa.memory.breakdown.weights_bytes - tp.memory.breakdown.weights_bytes
    assert extra == pytest.approx(61 * V3_ATTENTION_PER_LAYER * 1.0 * (1 - 1 / 8), rel=1e-9)


def test_far_more_sequences_fit(catalog) -> None:
    """The cache no longer copied: about 8x the sequences, less what the extra attention weights take."""
    tp, dpa = v3_estimate(catalog, prompt_tokens=7680), v3_estimate(catalog, dp_attention=True, prompt_tokens=7680)
    assert dpa.memory.max_batch_at_context > 5 * tp.memory.max_batch_at_context > 0
    assert dpa.memory.max_batch_at_context % 8 == 0  # each of the 8 replicas holds the same count


def test_batch_one_reads_more_a_long_busy_batch_reads_less(catalog) -> None:
    """One request: one replica works and every GPU reads all the attention weights, so no faster than tensor
    parallel. 256 long requests: each GPU reads its own 32 sequences' latent instead of all 256, so faster."""
    one_tp, one_dpa = v3_estimate(catalog, batch=1), v3_estimate(catalog, batch=1, dp_attention=True)
    assert one_dpa.decode_step.weights_s > one_tp.decode_step.weights_s
    busy = {"batch": 256, "prompt_tokens": 8192}
    busy_tp, busy_dpa = v3_estimate(catalog, **busy), v3_estimate(catalog, **busy, dp_attention=True)
    assert busy_dpa.decode_step.kv_s == pytest.approx(busy_tp.decode_step.kv_s / 8, rel=1e-9)
    assert busy_dpa.decode_step.total_s < busy_tp.decode_step.total_s


def test_a_dense_model_pays_half_the_all_reduces(catalog) -> None:
    """Tensor parallel: two all-reduces per layer (Megatron-LM). Attention DP at attn_tp = 1: the attention's is
    gone, the MLP's gather + scatter moves the same bytes as one all-reduce over tp."""
    kw = {"model": "llama-3.1-70b", "precision": "bf16", "batch": 64}
    model, tp = v3_execution(catalog, **kw)
    _, dpa = v3_execution(catalog, **kw, dp_attention=True)
    system = System.of(catalog.gpu("h200"), 8)
    assert expert.layer_comm_s(model, dpa, system, 64) == pytest.approx(expert.layer_comm_s(model, tp, system, 64) / 2)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 512))
def test_decode_step_never_shrinks_with_batch(catalog, batch: int) -> None:
    model, x = v3_execution(catalog, dp_attention=True)
    system = System.of(catalog.gpu("h200"), 8)
    eff = catalog.efficiency("sglang", "datacenter")

    def step(b: int) -> float:
        return inference.decode_step(model, x.model_copy(update={"batch": b}), system, eff, 4096).total_s

    assert step(batch + 1) >= step(batch) * (1 - 1e-12)


def test_launch_flags_and_notes(catalog) -> None:
    e = v3_estimate(catalog, dp_attention=True)
    assert "--tp 8 --dp-size 8 --enable-dp-attention" in (e.launch_command or "")
    assert any("attention data parallel: 8 replicas" in n for n in e.notes)
    lone = v3_estimate(catalog, dp_attention=True, n_gpus=1, model="deepseek-v2-lite", precision="bf16")
    assert lone.execution.parallelism.adp == 1 and "--enable-dp-attention" not in (lone.launch_command or "")
    assert any("on one GPU" in n for n in lone.notes)


def test_refused_on_an_engine_without_it_and_on_linear_attention(catalog) -> None:
    with pytest.raises(SizingError, match="TensorRT-LLM has no attention data parallel"):
        v3_execution(catalog, engine="tensorrt-llm", dp_attention=True)
    with pytest.raises(SizingError, match="ranks of a dense model are replicas"):  # plain data parallel
        v3_execution(catalog, engine="vllm", model="llama-3.1-70b", precision="bf16", dp_attention=True)
    with pytest.raises(SizingError, match="linear-attention"):
        v3_execution(catalog, model="qwen3-next-80b-a3b", precision="bf16", n_gpus=2, dp_attention=True)


def test_recommend_carries_the_flag_and_keeps_one_group(catalog) -> None:
    from sizing.recommend.search import replica_counts

    req = RecommendRequest(model="deepseek-v3", engine="sglang", precision="fp8", users=8, dp_attention=True)
    problem = scenarios.problem_of(catalog, req)
    assert problem.execution.dp_attention and problem.execution.on_gpus(8).parallelism.adp == 8
    assert replica_counts(problem, 8, 1) == [1]


def test_cli_flag(capsys) -> None:
    from cli_run import run_main

    args = "estimate --model deepseek-v3 --precision fp8 --gpu h200 --gpus 8 --engine sglang --dp-attention --json"
    code, out, _ = run_main(args.split(), capsys)
    assert code == 0 and "--enable-dp-attention" in out
    code, _, err = run_main([*args.split()[:-1], "--engine", "tensorrt-llm"], capsys)
    assert code == 2 and "drop --dp-attention or use --engine sglang or vllm" in err


def test_the_recommender_tries_attention_data_parallel_where_it_applies(catalog) -> None:
    """256 users x 8K tokens of DeepSeek-R1 on 8 x H200: tensor parallel copies the latent cache to every GPU and
    does not fit; the recommender's attention-DP split of the same 8 GPUs does, and the option says so."""
    from sizing.recommend.search import attention_split

    req = RecommendRequest(
        model="deepseek-r1", engine="sglang", precision="fp8", users=256, context=8192, gpus_allowed=("h200",)
    )
    result = scenarios.recommend(catalog, req)
    assert result.options, [r.findings[0].message for r in result.rejected][:3]
    best = result.options[0]
    assert best.candidate.build.n_gpus == 8 and best.candidate.build.n_nodes == 1
    assert best.candidate.estimate.execution.parallelism.adp == 8
    assert "--enable-dp-attention" in (best.candidate.estimate.launch_command or "")
    tp_only = scenarios.problem_of(catalog, req)
    x = tp_only.execution.on_gpus(8)
    model = tp_only.model
    system = System.of(catalog.gpu("h200"), 8)
    assert not est.estimate(model, x, system, catalog.efficiency("sglang", "datacenter")).memory.fits
    # only MLA models on an engine with it, more than one GPU of one node
    assert attention_split(tp_only, 1, 1) is None and attention_split(tp_only, 8, 2) is None
    gqa = scenarios.problem_of(catalog, RecommendRequest(model="llama-3.1-70b", engine="sglang", users=8))
    trt = scenarios.problem_of(catalog, req.model_copy(update={"engine": "tensorrt-llm"}))
    assert attention_split(gqa, 8, 1) is None and attention_split(trt, 8, 1) is None


def test_vllm_ranks_hold_every_layer_but_the_routed_experts(catalog) -> None:
    """vLLM's data-parallel ranks of an MoE model (docs serving/data_parallel_deployment): each rank is its own
    engine holding every layer but the routed experts, which form one group over all GPUs. So a GPU holds 7/8 more
    of the non-expert weights (attention, 3 dense MLPs, shared experts, router, embedding and head) than under
    tensor parallel, more than SGLang's replicas of the attention alone; the cache is split by requests in both."""
    from sizing.estimate import shapes

    model, x = v3_execution(catalog, engine="vllm")
    tp, dense = v3_estimate(catalog, engine="vllm"), v3_estimate(catalog, engine="vllm", dp_attention=True)
    blocks, other = shapes.weight_bytes(model, x.precision)
    non_expert = blocks - shapes.routed_bytes(model, x.precision, 256.0) + other
    extra = dense.memory.breakdown.weights_bytes - tp.memory.breakdown.weights_bytes
    assert extra == pytest.approx(non_expert * 7 / 8, rel=1e-9)
    assert non_expert > 61 * V3_ATTENTION_PER_LAYER  # more than the attention SGLang replicates
    assert parallel.tp_kv_share(model, dense.execution) == pytest.approx(1 / 8)
    cmd = dense.launch_command or ""
    assert "--tensor-parallel-size 1 --data-parallel-size 8" in cmd and "--max-num-seqs 4" in cmd  # 32 users / 8


def test_the_default_engine_serves_a_busy_deepseek_on_one_node(catalog) -> None:
    """The default engine for FP8 (vLLM) tries its data-parallel ranks too: 256 users x 8K of DeepSeek-R1 fit one
    8 x H200 node that tensor parallel alone would not."""
    req = RecommendRequest(model="deepseek-r1", precision="fp8", users=256, context=8192, gpus_allowed=("h200",))
    best = scenarios.recommend(catalog, req).options[0]
    assert best.candidate.estimate.execution.engine.id == "vllm"
    assert best.candidate.build.n_gpus == 8 and best.candidate.build.n_nodes == 1
    assert best.candidate.estimate.execution.parallelism.adp == 8


def test_only_serving_takes_it_and_only_on_one_node(catalog) -> None:
    """Training and embedding runs have no attention replicas to split; a cluster's stages stay tensor parallel (the
    split is modelled on one node), and a note says so."""
    for task, model in (("embed", "qwen3-embedding-0.6b"), ("lora", "qwen3-30b-a3b")):
        with pytest.raises(SizingError, match=f"--task {task} does not take it"):
            v3_execution(catalog, task=task, dp_attention=True, precision="bf16", model=model, tokens="1M")
    _, x = v3_execution(catalog, dp_attention=True)
    two = x.on_gpus(8, 2)
    assert two.parallelism.adp == 1 and x.on_gpus(8).parallelism.adp == 8
    assert any("not modelled across nodes" in n for n in dp_attention.notes(catalog.model("deepseek-v3"), two))


def test_with_expert_parallel_the_launch_command_picks_the_all_to_all(catalog) -> None:
    """DPA + EP dispatches the experts' tokens by all-to-all (the guide's set-up, as expert.py times it)."""
    cmd = v3_estimate(catalog, dp_attention=True, ep=8).launch_command or ""
    assert "--ep-size 8" in cmd and "--dp-size 8 --enable-dp-attention --moe-a2a-backend deepep" in cmd
    assert "--moe-a2a-backend" not in (v3_estimate(catalog, dp_attention=True).launch_command or "")


def test_a_split_that_fits_but_misses_a_target_says_so(catalog) -> None:
    """8 x H200 fit 256 x 8K users of DeepSeek-R1 only with attention DP; when that split misses a per-user speed,
    the rejections say so, not only that tensor parallel needs more memory than a GPU has."""
    req = RecommendRequest(
        model="deepseek-r1",
        precision="fp8",
        users=256,
        context=8192,
        gpus_allowed=("h200",),
        min_user_tokens_per_s=100,
    )
    r = scenarios.recommend(catalog, req)
    eight = [x for x in r.rejected if x.gpu == "h200" and x.n_gpus == 8 and x.n_nodes == 1]
    rules = {f.rule for x in eight for f in x.findings}
    assert {"gpu_memory", "user_speed"} <= rules
    assert eight[0].findings[0].rule == "user_speed"  # the split's reason leads (recommender.telling_first)


def test_a_scenario_row_takes_it_as_a_column(tmp_path, catalog) -> None:
    from sizing import answers

    path = tmp_path / "s.csv"
    head = "model,engine,gpu,n_gpus,precision,batch,dp_attention\n"
    path.write_text(head + "deepseek-v3,sglang,h200,8,fp8,32,true\ndeepseek-v3,sglang,h200,8,fp8,32,maybe\n")
    good, bad = answers.run_scenarios(catalog, path)
    assert not isinstance(good, str) and good.execution.parallelism.adp == 8
    assert good.memory == v3_estimate(catalog, dp_attention=True).memory
    assert bad == "line 3: column 'dp_attention' must be true or false, got 'maybe'"


def test_a_gqa_model_is_told_what_it_gains(catalog) -> None:
    e = v3_estimate(catalog, model="llama-3.1-70b", precision="bf16", dp_attention=True)
    assert any("saves it no cache and adds weights" in n for n in e.notes)


@pytest.mark.parametrize("kw", [{}, {"engine": "vllm"}, {"model": "llama-3.1-70b", "precision": "bf16"}])
def test_the_notes_are_said_in_chinese(catalog, kw) -> None:
    """Each note is one sentence of en.json's text.note.dpa_* templates, so a Chinese answer says all of it."""
    from english_runs import english_runs, kept_names

    from sizing.report.inference_text import estimate_text

    text = estimate_text(v3_estimate(catalog, dp_attention=True, **kw), lang="zh")
    assert "注意力数据并行" in text
    assert english_runs(text, kept_names(catalog)) == []


@pytest.mark.parametrize(("batch", "n_draft"), [(1, 3), (3, 1), (8, 3), (20, 2)])
def test_a_verify_steps_tokens_stay_on_their_sequences_replica(catalog, batch: int, n_draft: int) -> None:
    """A speculative verify step runs n + 1 tokens of each sequence; a sequence lives on one attention replica, so
    the busiest replica's share is that of the sequences (ceil(b / adp) / b), not of the tokens: at batch 1 on 8
    replicas one replica does all of it (the token count would have said a quarter for n = 3)."""
    _, x = v3_execution(catalog, batch=batch, dp_attention=True)
    assert x.parallelism.adp == 8
    wide = x.model_copy(update={"batch": batch * (n_draft + 1), "verify_tokens": n_draft + 1})
    assert dp_attention.replica_share(wide) == pytest.approx(math.ceil(batch / 8) / batch)
    assert dp_attention.replica_share(wide) == dp_attention.replica_share(x)
