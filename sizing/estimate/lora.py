"""LoRA adapters' shapes and sizes (Hu et al. 2021): the adapted projections of a layer and their parameters."""

from __future__ import annotations

from sizing.specs import ModelSpec


def lora_module_dims(model: ModelSpec, targets: str) -> list[tuple[int, int]]:
    """(in, out) of every adapted projection in one dense layer (Hu et al. 2021 put A: r x in and B: out x r on each).
    qv = PEFT's default for Llama; qkv = one fused q/k/v projection (Qwen-1 c_attn); attention = q, k, v, o;
    attention-mlp / all-linear add the MLP projections."""
    h, q, kv = model.hidden_size, model.n_heads * model.head_dim, model.n_kv_heads * model.head_dim
    if model.is_mla:  # DeepSeek-V2 §2.1.2: q (or q_a, q_b), kv_a, kv_b and o
        nope, rope, v = model.qk_nope_head_dim or 0, model.qk_rope_head_dim or 0, model.v_head_dim or 0
        r_kv, r_q = model.kv_lora_rank or 0, model.q_lora_rank or 0
        qd = model.n_heads * (nope + rope)
        attn = [(h, r_q), (r_q, qd)] if r_q else [(h, qd)]
        attn += [(h, r_kv + rope), (r_kv, model.n_heads * (nope + v)), (model.n_heads * v, h)]
        qv = attn[:-1]
    else:
        attn = [(h, q), (h, kv), (h, kv), (q, h)]
        qv = [(h, q), (h, kv)]
    if targets == "qv":
        return qv
    if targets == "qkv":
        return [(h, sum(o for _, o in qv) + (attn[2][1] if not model.is_mla else 0))]
    if targets == "attention":
        return attn
    f = model.ffn_size
    mlp = [(h, f), (h, f), (f, h)] if model.gated_mlp else [(h, f), (f, h)]
    return attn + mlp


def lora_params(model: ModelSpec, rank: int, targets: str) -> float:
    """Adapter parameters: r x (in + out) per adapted projection and layer. MoE layers adapt their routed and shared
    experts' projections when the MLP is targeted (PEFT all-linear matches every nn.Linear but the head)."""
    per_layer = sum(rank * (i + o) for i, o in lora_module_dims(model, targets))
    total = per_layer * model.n_layers
    if model.is_moe and targets in ("attention-mlp", "all-linear"):
        dense_mlp = sum(rank * (i + o) for i, o in lora_module_dims(model, targets)[-3:])
        ef = model.expert_ffn_size or 0
        expert = rank * 3 * (model.hidden_size + ef)
        n_exp = (model.n_experts or 0) + (model.n_shared_experts or 0)
        total += model.n_moe_layers * (n_exp * expert - dense_mlp)
    return float(total)
