"""The command that runs what an estimate assumed: the engine, its split over the GPUs, the context, the batch and
the formats, as the engine's own flags (each engine's CLI reference is cited beside its builder). A buyer pastes it
to check the figures on the machine; a flag we cannot infer is left at the engine's default."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from sizing.specs import Execution, ModelSpec

# weight-format families -> vLLM --quantization names (vLLM docs, features/quantization)
VLLM_QUANT = {"gptq": "gptq_marlin", "awq": "awq_marlin", "bnb": "bitsandbytes"}
LLAMA_CPP_KV = {"q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "f16", "bf16", "f32"}


def _repo(model: ModelSpec) -> str:
    """The model's Hugging Face repo; MODEL where the catalog has none (a generic size such as 7b)."""
    return model.hf_repo or "MODEL"


def _context(x: Execution) -> int:
    return x.prompt_tokens + x.new_tokens


def _vllm_speculative(x: Execution) -> list[str]:
    """vLLM --speculative-config (docs: features/speculative_decoding; vllm/config/speculative.py SpeculativeMethod:
    "mtp", "eagle", "draft_model" with the drafter's "model"); num_speculative_tokens = the tokens drafted per step."""
    spec = x.speculative
    if spec is None:
        return []
    method = {"mtp": "mtp", "eagle": "eagle", "draft-model": "draft_model"}[spec.method]
    drafter = f'"model": "{spec.draft_model or "DRAFT"}", ' if spec.method != "mtp" else ""
    return [f'--speculative-config \'{{{drafter}"num_speculative_tokens": {spec.n_draft}, "method": "{method}"}}\'']


def _sglang_speculative(x: Execution) -> list[str]:
    """SGLang speculative flags (server_args): MTP runs through its EAGLE path (--speculative-algorithm EAGLE with
    --speculative-num-steps n --speculative-eagle-topk 1 --speculative-num-draft-tokens n + 1, as gpustack's
    DeepSeek-R1 H200 guide launches MTP on v0.5.3); EAGLE adds the draft head's path; a separate draft model is the
    STANDALONE algorithm with --speculative-draft-model-path."""
    spec = x.speculative
    if spec is None:
        return []
    algo = "STANDALONE" if spec.method == "draft-model" else "EAGLE"
    parts = [f"--speculative-algorithm {algo}"]
    if spec.method != "mtp":
        parts.append(f"--speculative-draft-model-path {spec.draft_model or 'DRAFT'}")
    n = spec.n_draft
    return parts + [
        f"--speculative-num-steps {n}",
        "--speculative-eagle-topk 1",
        f"--speculative-num-draft-tokens {n + 1}",
    ]


def vllm(model: ModelSpec, x: Execution) -> str:
    """vLLM `vllm serve` (docs: serving/engine_args): tensor and pipeline parallel sizes, the context per request,
    the concurrent sequences, the pre-allocated fraction, the KV format and the weight quantization."""
    p = x.parallelism
    parts = [f"vllm serve {_repo(model)}", f"--tensor-parallel-size {p.tp // p.adp}"]
    if p.adp > 1:  # docs serving/data_parallel_deployment: one engine per rank, each with its own tp workers
        parts.append(f"--data-parallel-size {p.adp}")
    if p.pp > 1:
        parts.append(f"--pipeline-parallel-size {p.pp}")
    if p.ep > 1:  # docs serving/expert_parallel_deployment: the experts split over all TP x DP GPUs, no ep size
        parts.append("--enable-expert-parallel")
    note = f"  # vLLM's expert parallel spans all {p.tp} GPUs, not {p.ep}" if 1 < p.ep < p.tp else ""
    parts += [f"--max-model-len {_context(x)}", f"--max-num-seqs {-(-x.batch // p.adp)}"]  # per engine (DP rank)
    if x.engine.gpu_memory_utilization:
        parts.append(f"--gpu-memory-utilization {x.engine.gpu_memory_utilization:g}")
    if x.kv_precision.id.startswith("fp8"):
        parts.append("--kv-cache-dtype fp8")
    quant = VLLM_QUANT.get(x.precision.family) or ("fp8" if x.precision.id.startswith("fp8") else None)
    if quant:
        parts.append(f"--quantization {quant}")
    return " ".join(parts + _vllm_speculative(x)) + note


def sglang(model: ModelSpec, x: Execution) -> str:
    """SGLang `sglang.launch_server` (docs: backend/server_arguments): --tp, --context-length, --max-running-requests,
    --mem-fraction-static, --kv-cache-dtype."""
    parts = [f"python -m sglang.launch_server --model-path {_repo(model)}", f"--tp {x.parallelism.tp}"]
    if x.parallelism.pp > 1:  # a stage per node: --tp-size is per stage (sglang cookbook, Kimi on 2 nodes: --nnodes 2
        # --tp-size 8 --pp-size 2, each node with its --node-rank and the first node's --dist-init-addr)
        parts.append(
            f"--pp-size {x.parallelism.pp} --nnodes {x.parallelism.pp} --node-rank RANK --dist-init-addr HOST:PORT"
        )
    if x.parallelism.ep > 1:  # --ep-size (alias --ep): cookbook reference/server_arguments
        parts.append(f"--ep-size {x.parallelism.ep}")
    if x.parallelism.adp > 1:  # docs advanced_features/dp_dpa_smg_guide: --dp-size must be set with the flag; with
        # --ep the experts' tokens go by all-to-all (the guide's DPA + EP set-up: --moe-a2a-backend deepep), as
        # estimate/expert.py times them, not gathered over the DP ranks (the default backend)
        parts.append(f"--dp-size {x.parallelism.adp} --enable-dp-attention")
        if x.parallelism.ep > 1:
            parts.append("--moe-a2a-backend deepep")
    parts += [f"--context-length {_context(x)}", f"--max-running-requests {x.batch}"]
    if x.engine.gpu_memory_utilization:
        parts.append(f"--mem-fraction-static {x.engine.gpu_memory_utilization:g}")
    if x.kv_precision.id.startswith("fp8"):
        parts.append("--kv-cache-dtype fp8_e5m2")
    return " ".join(parts + _sglang_speculative(x))


def llama_cpp(model: ModelSpec, x: Execution) -> str:
    """llama.cpp `llama-server` (tools/server/README): every layer on the GPUs (-ngl 999), the KV cache for
    `batch` parallel slots of the context (-c is the total over slots, -np the slots), layer split over the GPUs,
    flash attention where the KV cache is quantized (llama.cpp requires it for a quantized V cache)."""
    n = x.parallelism.pp * x.parallelism.tp
    parts = [f"llama-server -m MODEL.{x.precision.id.upper()}.gguf", "-ngl 999", f"-c {_context(x) * x.batch}"]
    if x.batch > 1:
        parts.append(f"-np {x.batch}")
    if n > 1:
        mode = "row" if x.parallelism.tp > 1 else "layer"  # row: a pre-2024 release's default (engine_mechanics.csv)
        parts += [f"--split-mode {mode}", "-ts " + ",".join(["1"] * n)]
    kv = x.kv_precision.id
    if kv in LLAMA_CPP_KV and kv not in ("f16", "f32", "bf16"):
        parts += ["-fa on", f"-ctk {kv}", f"-ctv {kv}"]
    spec = x.speculative
    if spec is not None and spec.method == "draft-model":  # llama-server -md/--model-draft, --draft-max (README)
        parts += ["-md DRAFT.gguf", f"--draft-max {spec.n_draft}"]
    return " ".join(parts)


def tensorrt_llm(model: ModelSpec, x: Execution) -> str:
    """TensorRT-LLM `trtllm-serve` (docs: commands/trtllm-serve): --tp_size, --pp_size, --max_seq_len,
    --max_batch_size, --kv_cache_free_gpu_memory_fraction."""
    p = x.parallelism
    parts = [
        f"trtllm-serve {_repo(model)}",
        f"--tp_size {p.tp}",
        f"--pp_size {p.pp}",
        *([f"--ep_size {p.ep}"] if p.ep > 1 else []),  # docs commands/trtllm-serve: --ep_size
        f"--max_seq_len {_context(x)}",
        f"--max_batch_size {x.batch}",
    ]
    if x.engine.gpu_memory_utilization:
        parts.append(f"--kv_cache_free_gpu_memory_fraction {x.engine.gpu_memory_utilization:g}")
    return " ".join(parts)


def transformers(model: ModelSpec, x: Execution) -> str:
    """Hugging Face transformers: device_map="auto" places layers on the GPUs in turn (accelerate big-model
    inference); 4-bit bitsandbytes through BitsAndBytesConfig."""
    load = f'AutoModelForCausalLM.from_pretrained("{_repo(model)}", device_map="auto", torch_dtype="auto"'
    if x.precision.family == "bnb":
        load += ", quantization_config=BitsAndBytesConfig(load_in_4bit=True)"
    return f"python -c 'from transformers import *; m = {load})'  # then m.generate(..., max_new_tokens={x.new_tokens})"


def exllamav2(model: ModelSpec, x: Execution) -> str:
    """TabbyAPI (ExLlamaV2) `main.py` (config_sample.yml keys): max_seq_len, cache_mode, gpu_split_auto."""
    cache = {"q8_0": "Q8", "q4_0": "Q4"}.get(x.kv_precision.id, "FP16")
    return (
        f"python main.py --model-name {model.id}-{x.precision.id} --max-seq-len {_context(x)} "
        f"--cache-mode {cache} --gpu-split-auto true"
    )


def mlc_llm(model: ModelSpec, x: Execution) -> str:
    """MLC LLM `mlc_llm serve` (docs: deploy/rest): tensor_parallel_shards, context_window_size, max_num_sequence."""
    overrides = (
        f"tensor_parallel_shards={x.parallelism.tp};context_window_size={_context(x)};max_num_sequence={x.batch}"
    )
    return f'mlc_llm serve {model.id} --overrides "{overrides}"'


def lmdeploy(model: ModelSpec, x: Execution) -> str:
    """LMDeploy `lmdeploy serve api_server` (docs: llm/api_server): --tp, --session-len, --max-batch-size,
    --cache-max-entry-count, --quant-policy 8 for an int8 KV cache."""
    parts = [
        f"lmdeploy serve api_server {_repo(model)}",
        f"--tp {x.parallelism.tp}",
        f"--session-len {_context(x)}",
        f"--max-batch-size {x.batch}",
    ]
    if x.kv_precision.id in ("int8", "q8_0"):
        parts.append("--quant-policy 8")
    return " ".join(parts)


def gpt_fast(model: ModelSpec, x: Execution) -> str:
    """pytorch-labs/gpt-fast generate.py: --compile, --max_new_tokens, torchrun for tensor parallel."""
    run = f"torchrun --standalone --nproc_per_node={x.parallelism.tp} " if x.parallelism.tp > 1 else "python "
    quant = " --quantize int4" if x.precision.is_quantized else ""
    return (
        f"{run}generate.py --checkpoint_path checkpoints/{_repo(model)}/model.pth --compile{quant} "
        f"--max_new_tokens {x.new_tokens}"
    )


BUILDERS: dict[str, Callable[[ModelSpec, Execution], str]] = {
    "vllm": vllm,
    "sglang": sglang,
    "llama.cpp": llama_cpp,
    "tensorrt-llm": tensorrt_llm,
    "transformers": transformers,
    "autoawq": transformers,
    "exllamav2": exllamav2,
    "mlc-llm": mlc_llm,
    "lmdeploy": lmdeploy,
    "gpt-fast": gpt_fast,
    "vllm-ascend": vllm,  # vllm-ascend is a vLLM platform plugin: the same `vllm serve` (vllm-ascend docs, quick start)
}

# Data-parallel replicas in one server, by engine: vLLM --data-parallel-size (docs: serving/data_parallel_deployment),
# SGLang --dp-size (docs: advanced_features/server_arguments). For an MoE model vLLM's data-parallel ranks share the
# expert layers (expert layers form a DP x TP group, same page), which is not R independent replicas, so an MoE model
# and the other engines get R separate servers behind a load balancer.
DP_FLAGS = {"vllm": "--data-parallel-size", "vllm-ascend": "--data-parallel-size", "sglang": "--dp-size"}


# launch_command results remembered: a search asks once per estimate (~1,000) for a handful of distinct executions
LAUNCH_KEPT = 1024


@lru_cache(maxsize=LAUNCH_KEPT)
def launch_command(model: ModelSpec, execution: Execution) -> str | None:
    """The engine command for an inference execution (None for an engine without a builder). MODEL stands for the
    user's own checkpoint where the command needs a file or the catalog knows no repo. Pure in its frozen
    arguments, so kept per (model, execution)."""
    builder = BUILDERS.get(execution.engine.id)
    if builder is None:
        return None
    p = execution.parallelism
    one = execution.model_copy(  # one replica's command: dp 1, its share of the users (max-num-seqs is per rank)
        update={"parallelism": p.model_copy(update={"dp": 1}), "batch": -(-execution.batch // p.dp)}
    )
    command = builder(model, one)
    flag = DP_FLAGS.get(execution.engine.id)
    if p.dp > 1 and flag and not model.is_moe:
        command += f" {flag} {p.dp}"
    elif p.dp > 1:
        command += f"  # x {p.dp}: one server per {p.tp}-GPU group (CUDA_VISIBLE_DEVICES), behind a load balancer"
    return command + ("  # MODEL: your checkpoint (repo id, folder or file)" if "MODEL" in command else "")
