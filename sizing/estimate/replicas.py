"""Serving replicas: a node's GPUs running R copies of the model, each tensor parallel over tp = GPUs / R (vLLM
`--data-parallel-size R` beside `--tensor-parallel-size tp`, SGLang `--dp-size`, or R servers behind a router).

The users split over the replicas, so the busiest replica serves ceil(users / R) of them; it runs on its own tp
GPUs with nothing shared, so its memory per GPU and its latencies (time to first token, decode rate per user) are
one replica's at that batch, and what the build delivers (decode and prefill tokens/s over all users) adds up over
the replicas: users x the busiest replica's per-user rate, which is R x one replica's total when R divides the
users (vLLM docs, serving/data_parallel_deployment: each data-parallel rank is an independent engine core with its
own scheduler and KV cache)."""

from __future__ import annotations

import math
from functools import lru_cache

from sizing.specs import Efficiency, Estimate, Execution, ModelSpec, System

from . import inference
from .launch import launch_command

REPLICAS_KEPT = 256  # one_replica results remembered: above one search's distinct executions, bounded across many


def replica_of(execution: Execution, system: System) -> tuple[Execution, System]:
    """The busiest replica: dp 1, ceil(users / R) sequences, on tp x pp GPUs of the node (the node's links)."""
    return one_replica(execution), system.model_copy(
        update={"n_gpus": max(1, system.n_gpus // execution.parallelism.dp)}
    )


@lru_cache(maxsize=REPLICAS_KEPT)
def one_replica(execution: Execution) -> Execution:
    """replica_of's execution: dp 1 and ceil(users / R) sequences. One object per execution (a search estimates
    each split on many systems), so the estimator's memos (decode_work) find it at once, not an equal copy."""
    p = execution.parallelism
    return execution.model_copy(
        update={"parallelism": p.model_copy(update={"dp": 1}), "batch": math.ceil(execution.batch / p.dp)}
    )


def _scaled(pair: tuple[float, float] | None, factor: float) -> tuple[float, float] | None:
    return None if pair is None else (pair[0] * factor, pair[1] * factor)


def estimate(model: ModelSpec, execution: Execution, system: System, eff: Efficiency) -> Estimate:
    """Inference on R = execution.parallelism.dp replicas (see the module's docstring): the replica's memory,
    latencies and steps; decode and prefill throughput over all users; sequences that fit, over all replicas."""
    x1, s1 = replica_of(execution, system)
    one = inference.estimate(model, x1, s1, eff)
    assert one.speed is not None
    r, s = execution.parallelism.dp, one.speed
    factor = execution.batch / x1.batch  # the busiest replica's rate for every user; R when R divides the users
    speed = s.model_copy(
        update={
            "decode_tokens_per_s_total": s.decode_tokens_per_s_total * factor,
            "prefill_tokens_per_s": s.prefill_tokens_per_s * factor,
            "decode_tokens_per_s_total_range": _scaled(s.decode_tokens_per_s_total_range, factor),
            "prefill_tokens_per_s_range": _scaled(s.prefill_tokens_per_s_range, factor),
        }
    )
    memory = one.memory.model_copy(update={"max_batch_at_context": one.memory.max_batch_at_context * r})
    problem = inference.split_problem(execution, system)
    said = (
        f"{r} replicas of {x1.parallelism.tp}-way tensor parallel, {x1.batch} of the {execution.batch} users on "
        f"the busiest: memory and latency are one replica's, throughput adds up over the replicas",
    )
    return one.model_copy(
        update={
            "fits": one.fits and problem is None,
            "execution": execution,
            "system": system,
            "memory": memory,
            "speed": speed,
            "notes": (*one.notes, *said, *((problem,) if problem else ())),
            "launch_command": launch_command(model, execution),
        }
    )
