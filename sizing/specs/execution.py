"""The *how*: what task runs, with which engine and formats, split how over the GPUs, on how many tokens."""

from __future__ import annotations

import math
from typing import Literal

from .base import Base, NonNegInt, PosInt
from .host import HybridSetup
from .model import Engine, Precision
from .runtime import Speculative
from .training import Sharding, Training, TrainTask

Task = Literal["inference", "embed"] | TrainTask  # embed: an embedding / reranker server, prefill only

# Defaults, defined once (the CLI, the scenario files and the library requests all read these).
DEFAULT_PROMPT_TOKENS = 512  # llama-bench's pp512 and most serving benchmarks' prompt length
DEFAULT_NEW_TOKENS = 512  # llama-bench's tg512
DEFAULT_USERS = 4  # `sizing recommend`: concurrent sequences when --users is not given
DEFAULT_CONTEXT_TOKENS = 4096  # `sizing recommend`: prompt + new tokens per user, a chat turn with history
DEFAULT_TRAIN_SEQ_LEN = 2048  # training: tokens per packed sequence (torchtune's and fsdp_qlora's benchmark length)
DEFAULT_TRAIN_BATCH = 1  # training: micro-batch per GPU (HF Trainer per_device_train_batch_size default 8 is
# rarely what fits a fine-tune of a 7B+ model on one card; 1 plus gradient accumulation is the common recipe)


class Parallelism(Base):
    """How the work is split over GPUs: tensor-parallel ways (within a node), pipeline stages (layer split within a
    node times the nodes), data-parallel replicas, context-parallel ways (each sequence split over cp GPUs:
    Megatron-Core context parallel, ring attention) and expert-parallel ways (Megatron-LM's tp x pp x cp x dp
    grid; ep lies inside dp). Serving with attention data parallel (SGLang --enable-dp-attention --dp-size N)
    splits the tp GPUs' attention into `adp` replicas of tp / adp GPUs each (estimate/dp_attention.py)."""

    tp: PosInt = 1
    pp: PosInt = 1
    dp: PosInt = 1
    cp: PosInt = 1
    ep: PosInt = 1
    adp: PosInt = 1

    @classmethod
    def for_engine(
        cls, engine: Engine, n_gpus_per_node: int, n_nodes: int = 1, ep: int = 1, dp_attention: bool = False
    ) -> Parallelism:
        """Inference: a tensor-splitting engine shards every layer over the node's GPUs and pipelines across nodes;
        a layer-splitting engine (llama.cpp, accelerate device_map) pipelines over every GPU. `ep` (--ep) splits the
        routed experts over that many of the node's tensor-parallel GPUs, each expert over the tp / ep left
        (SGLang moe_tp_size = tp / ep; TensorRT-LLM's hybrid moe_tp x moe_ep = tp): the largest count dividing both
        the ways asked and the node's GPUs (estimate/expert.py). `dp_attention` (--dp-attention) runs attention data
        parallel over the node's GPUs, one replica per GPU (SGLang `--tp N --dp-size N --enable-dp-attention`, the
        set-up its DP-attention guide recommends for DeepSeek; attn_tp_size = tp_size / dp_size = 1)."""
        if engine.split == "tensor":
            adp = n_gpus_per_node if dp_attention and n_nodes == 1 else 1  # one node's (dp_attention.notes)
            return cls(tp=n_gpus_per_node, pp=n_nodes, ep=math.gcd(ep, n_gpus_per_node), adp=adp)
        return cls(tp=1, pp=n_gpus_per_node * n_nodes)

    @classmethod
    def for_training(
        cls,
        sharding: Sharding,
        n_gpus_per_node: int,
        n_nodes: int = 1,
        grid: tuple[int | None, int | None, int | None] = (None, None, None),
    ) -> Parallelism:
        """Training: data parallel over every GPU (ddp, ZeRO, FSDP); Megatron tensor parallel within a node and data
        parallel across nodes; device-map places layers on every GPU in turn. `grid` = the (tp, pp, cp) the user
        named (--tp, --pp, --cp): data parallel takes the GPUs left (a grid that does not divide them is flagged
        by the estimator's notes, not here)."""
        tp, pp, cp = grid
        if any(g is not None for g in grid) and sharding != "device-map":
            total = n_gpus_per_node * n_nodes
            tp = tp or (n_gpus_per_node if sharding == "tensor" and pp is None and cp is None else 1)
            pp, cp = pp or 1, cp or 1
            return cls(tp=tp, pp=pp, cp=cp, dp=max(1, total // (tp * pp * cp)))
        if sharding == "tensor":
            return cls(tp=n_gpus_per_node, dp=n_nodes)
        if sharding == "device-map":
            return cls(pp=n_gpus_per_node * n_nodes)
        return cls(dp=n_gpus_per_node * n_nodes)


class Execution(Base):
    """How the model runs. Token counts are per sequence; batch is the number of concurrent sequences. Training
    tasks carry `training` (the trainer and its set-up): batch is the micro-batch per GPU, prompt_tokens the trained
    sequence length, and `engine` the PyTorch runtime the trainer's modules run in."""

    task: Task = "inference"
    engine: Engine
    precision: Precision
    kv_precision: Precision
    parallelism: Parallelism = Parallelism()
    batch: PosInt = 1
    prompt_tokens: NonNegInt = DEFAULT_PROMPT_TOKENS
    new_tokens: NonNegInt = DEFAULT_NEW_TOKENS
    training: Training | None = None
    hybrid: HybridSetup | None = None  # inference with weights in host RAM (CPU only, layer or expert offload)
    speculative: Speculative | None = None  # --speculative mtp|eagle|draft-model --acceptance a
    expert_parallel: PosInt | None = None  # inference --ep: the expert-parallel ways asked (None: 1, the engines')
    dp_attention: bool = False  # inference --dp-attention: attention data parallel over the node's GPUs
    # tokens each sequence runs through one step: 1, or n + 1 in a speculative verify step (batch then counts the
    # tokens, batch / verify_tokens the sequences: estimate/inference.py speculative_token_s)
    verify_tokens: PosInt = 1

    def on_gpus(self, n_gpus_per_node: int, n_nodes: int = 1) -> Execution:
        """This execution split over n GPUs per node and n_nodes nodes, as its trainer or engine splits."""
        if self.training is not None:
            t = self.training
            split = Parallelism.for_training(t.sharding, n_gpus_per_node, n_nodes, (t.tp, t.pp, t.cp))
        else:
            split = Parallelism.for_engine(
                self.engine, n_gpus_per_node, n_nodes, self.expert_parallel or 1, self.dp_attention
            )
        return self.model_copy(update={"parallelism": split})

    @property
    def context_tokens(self) -> int:
        return self.prompt_tokens + self.new_tokens
