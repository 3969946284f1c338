"""The *how*: what task runs, with which engine and formats, split how over the GPUs, on how many tokens."""

from __future__ import annotations

from typing import Literal

from .base import Base, NonNegInt, PosInt
from .model import Engine, Precision

Task = Literal["inference"]

# Defaults, defined once (the CLI, the scenario files and the library requests all read these).
DEFAULT_PROMPT_TOKENS = 512  # llama-bench's pp512 and most serving benchmarks' prompt length
DEFAULT_NEW_TOKENS = 512  # llama-bench's tg512
DEFAULT_USERS = 4  # `sizing recommend`: concurrent sequences when --users is not given
DEFAULT_CONTEXT_TOKENS = 4096  # `sizing recommend`: prompt + new tokens per user, a chat turn with history


class Parallelism(Base):
    """How the work is split over GPUs: tensor-parallel ways (within a node), pipeline stages (layer split within a
    node times the nodes), data-parallel replicas and expert-parallel ways (Megatron-LM's tp x pp x dp grid)."""

    tp: PosInt = 1
    pp: PosInt = 1
    dp: PosInt = 1
    ep: PosInt = 1

    @classmethod
    def for_engine(cls, engine: Engine, n_gpus_per_node: int, n_nodes: int = 1) -> Parallelism:
        """Inference: a tensor-splitting engine shards every layer over the node's GPUs and pipelines across nodes;
        a layer-splitting engine (llama.cpp, accelerate device_map) pipelines over every GPU."""
        if engine.split == "tensor":
            return cls(tp=n_gpus_per_node, pp=n_nodes)
        return cls(tp=1, pp=n_gpus_per_node * n_nodes)


class Execution(Base):
    """How the model runs. Token counts are per sequence; batch is the number of concurrent sequences."""

    task: Task = "inference"
    engine: Engine
    precision: Precision
    kv_precision: Precision
    parallelism: Parallelism = Parallelism()
    batch: PosInt = 1
    prompt_tokens: NonNegInt = DEFAULT_PROMPT_TOKENS
    new_tokens: NonNegInt = DEFAULT_NEW_TOKENS

    @property
    def context_tokens(self) -> int:
        return self.prompt_tokens + self.new_tokens
