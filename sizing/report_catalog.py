"""Catalog listings as data: one model for `sizing models --json`."""

from __future__ import annotations

from .specs import ModelSpec


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
