"""Catalog listings: the models and GPUs tables, and one model for `sizing models --json`."""

from __future__ import annotations

from sizing.specs import Gpu, ModelSpec
from sizing.units import fmt_bytes, fmt_count, fmt_money

from .core import _table


def kind_of(m: ModelSpec) -> str:
    kind = "MLA" if m.is_mla else ("MoE" if m.is_moe else "dense")
    kind += "+linear" if m.n_linear_layers else ""
    return kind + ("+vision" if m.n_vision_params else "")


def model_json(m: ModelSpec) -> dict:
    """A catalog model for `sizing models --json`: stated counts (else the shape's), context, shipped format."""
    active = m.n_active_params or m.derived_active_params
    return {
        "id": m.id,
        "name": m.name,
        "aliases": list(m.aliases),
        "hf_repo": m.hf_repo,
        "kind": kind_of(m),
        "n_params": round(m.n_params),
        "n_active_params": round(active),
        "n_vision_params": round(m.n_vision_params or 0),
        "max_context_tokens": m.max_context_tokens,
        "default_precision": m.default_precision,
        "expert_weight_bits": m.expert_weight_bits,
    }


def models_table(models: list[ModelSpec]) -> str:
    rows = [
        [
            m.id,
            m.name,
            fmt_count(m.n_params),
            fmt_count(m.n_active_params or m.derived_active_params),
            f"{m.n_layers} x {m.hidden_size}",
            f"{m.n_heads}/{m.n_kv_heads}",
            kind_of(m),
            f"{m.max_context_tokens:,}",
            (m.default_precision or "-") + (f" ({m.expert_weight_bits:g}-bit experts)" if m.expert_weight_bits else ""),
        ]
        for m in models
    ]
    return _table(
        f"{len(models)} models",
        ["id", "name", "params", "active", "layers", "heads/kv", "kind", "context", "ships as"],
        rows,
    )


def gpus_table(gpus: list[Gpu]) -> str:
    rows = [
        [
            g.id,
            g.name,
            fmt_bytes(g.memory_bytes),
            f"{g.mem_bw_bytes_s / 1e9:,.0f} GB/s",
            f"{g.bf16_flops / 1e12:,.1f}",
            f"{g.tdp_w:,.0f} W",
            g.cooling,
            fmt_money(g.price_usd) if g.price_usd else "unconfirmed",
            "; ".join(g.unconfirmed) or "-",
        ]
        for g in gpus
    ]
    return _table(
        f"{len(gpus)} GPUs (dense BF16 TFLOPS, FP32 accumulate)",
        ["id", "name", "memory", "bandwidth", "bf16 TFLOPS", "TDP", "cooling", "price", "unconfirmed"],
        rows,
    )


def gpu_json(g: Gpu) -> dict:
    """A catalog GPU for the web calculator's type-ahead: the figures the `sizing gpus` table shows."""
    return {
        "id": g.id,
        "name": g.name,
        "aliases": list(g.aliases),
        "vendor": g.vendor,
        "memory_bytes": round(g.memory_bytes),
        "mem_bw_bytes_s": round(g.mem_bw_bytes_s),
        "bf16_dense_tflops": round(g.bf16_flops / 1e12, 1),
        "tdp_w": g.tdp_w,
        "cooling": g.cooling,
        "price_usd": g.price_usd,
        "price_date": g.price_date,
        "price_kind": g.price_kind,
        "unconfirmed": list(g.unconfirmed),
    }
