"""One entry for every task: `estimate(model, execution, system, eff)` dispatches on the execution's task, so
training, distillation, RL and CPU-offload estimators slot in beside inference."""

from __future__ import annotations

from collections.abc import Callable

from sizing.specs import Efficiency, Estimate, Execution, ModelSpec, System

from . import embed, hybrid, inference, replicas, training

Estimator = Callable[[ModelSpec, Execution, System, Efficiency], Estimate]
ESTIMATORS: dict[str, Estimator] = {
    "inference": inference.estimate,
    "embed": embed.estimate,
    "full-finetune": training.estimate,
    "pretrain": training.estimate,
    "lora": training.estimate,
    "qlora": training.estimate,
}


def estimate(model: ModelSpec, execution: Execution, system: System, eff: Efficiency) -> Estimate:
    """Memory, time per component and speed of `execution` of `model` on `system`. Inference that keeps weights in
    host RAM (execution.hybrid: CPU only, layer or expert offload) goes to the hybrid estimator, inference on
    data-parallel replicas to the replicas estimator."""
    if execution.hybrid is not None and execution.task == "inference":
        return hybrid.estimate(model, execution, system, eff)
    if execution.task == "inference" and execution.parallelism.dp > 1:  # serving replicas (estimate/replicas.py)
        return replicas.estimate(model, execution, system, eff)
    return ESTIMATORS[execution.task](model, execution, system, eff)
