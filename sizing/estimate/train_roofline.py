"""The memory-bound half of a training step: the bytes the non-GEMM kernels move (training.speed divides them by the
GPU's memory bandwidth and adds them to the matmuls' time).

Per token and layer, the elementwise kernels (norms, rotary, activation and gating, residual adds, dropout, a
non-fused attention's softmax) write every activation tensor of the forward pass once and the next kernel reads it
once: 2 x the bytes train_memory.layer_activation_bytes counts without recomputation (the tensors Korthikanti et
al. 2022 §4.1 count, 34·h per token and layer for their GPT; eager or fused, as the trainer runs them: fused kernels
such as torch.compile's write fewer intermediates). The backward pass reads the saved tensors and the incoming
gradient and writes the outgoing one: 2 forward passes' traffic. Full or op-level recomputation runs the forward
once more. The loss writes and reads its bytes per logit once; the optimizer step reads the gradients and reads and
writes the weights and the optimizer states once per step (AdamW with an fp32 master copy: 2 + 2 x 14 = 30 bytes per
parameter, ZeRO paper §3's 16 bytes of state).
"""

from __future__ import annotations

from sizing.specs import Execution, ModelSpec

from .train_memory import (
    layer_activation_bytes,
    model_states,
    split,
    trainable_params,
    trained_bytes,
    training_of,
    unfused_adamw_state_bytes,
)

# Forward passes' worth of elementwise traffic in one training step: the forward (1) and the backward (2).
BACKWARD_PASSES = 2.0
# A multiple of the hand count above, fitted by benchmarks/calibrate_training.py (pooled over every source's tokens/s
# rows, with each trainer's GEMM efficiency refitted at every candidate). 1.0 is the hand count itself.
NONGEMM_BYTES_MULT = 1.00


def elementwise_passes(execution: Execution) -> float:
    """Forward passes' worth of elementwise traffic per step: forward, backward and any recomputed forward."""
    t = training_of(execution)
    return 1.0 + BACKWARD_PASSES + (1.0 if t.recompute in ("full", "op") else 0.0)


def nongemm_bytes_per_token(model: ModelSpec, execution: Execution) -> float:
    """Bytes the non-GEMM kernels of a step move per trained token (hand count of the module docstring)."""
    t = training_of(execution)
    seq = max(1, execution.prompt_tokens)
    kept = t.model_copy(update={"recompute": "none"})  # every tensor the forward writes
    written = layer_activation_bytes(model, kept, seq) / seq
    layers = model.n_layers * 2 * written * elementwise_passes(execution)
    loss = 2 * t.trainer.loss_bytes_per_logit * model.vocab_size
    return layers + loss


def optimizer_step_bytes(model: ModelSpec, execution: Execution) -> float:
    """Bytes one GPU's optimizer step moves: its share of the gradients read, of the trained weights and the optimizer
    states (moments and master copy) read and written, as a fused kernel does it. torch's foreach and for-loop AdamW
    (torch/optim/adam.py _multi_tensor_adam: weight decay, lerp, mul, addcmul, sqrt into a temporary, div, add eps,
    addcdiv) pass over the memory eight times: 4 P + 14 M + 2 G bytes per parameter (P the updated weight, M a
    moment, G the gradient) against the fused 2 P + 4 M + G, i.e. 2 P + 10 M + G more (bf16: 40 against 14).
    Offloaded optimizers step on the CPU (none on the GPU); device-map GPUs step their layers one after another (the
    whole model's bytes, as its forward and backward)."""
    t = training_of(execution)
    if t.offload != "none":
        return 0.0
    st, sp = model_states(model, execution), split(model, execution)
    train_bytes = trained_bytes(execution)
    n = trainable_params(model, execution)
    share = 1.0 if t.sharding == "device-map" else sp.optimizer
    fused = n * train_bytes + 2 * (n * train_bytes + st.optimizer)
    state = unfused_adamw_state_bytes(execution)
    if state is None:
        return fused * share
    return (fused + n * (2 * state + 10 * state + train_bytes)) * share  # + 2 P + 10 M + G, P = M = state
