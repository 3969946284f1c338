"""A mixed per-tensor quantisation recipe (data/quant_recipes.csv): the GGUF type and bits of each tensor class, so
that a precision is a layout rather than one bits-per-weight number (unsloth's dynamic DeepSeek quants, ik_llama.cpp
`_R4` mixes)."""

from __future__ import annotations

from typing import ClassVar, Literal

from .base import Base, Col, PosFloat, PosInt

# The tensor classes a recipe can name, as GGUF names them (llama.cpp llama-arch.cpp LLM_TENSOR_*): token_embd,
# output, norm vectors, the MoE router (ffn_gate_inp), attention (MLA: attn_q_a/q_b/kv_a_mqa/kv_b/output; GQA:
# attn_q/k/v/output), dense MLPs (ffn_gate/up/down of the first_k_dense layers), shared experts (*_shexp) and routed
# experts (*_exps). A class a recipe leaves out takes its group's row (attn, dense, shexp, exps), then `default`.
TensorClass = Literal[
    "default",
    "token_embd",
    "output",
    "norms",
    "router",
    "attn",
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_q_a",
    "attn_q_b",
    "attn_kv_a",
    "attn_kv_b",
    "attn_output",
    "attn_indexer",
    "linear_attn",
    "dense",
    "dense_gate_up",
    "dense_down",
    "shexp",
    "shexp_gate_up",
    "shexp_down",
    "exps",
    "exps_gate_up",
    "exps_down",
]
GROUPS: dict[str, str] = {"attn": "attn", "linear": "attn", "dense": "dense", "shexp": "shexp", "exps": "exps"}


def group_of(tensor_class: str) -> str | None:
    """The group row a class falls back to (attn_q_b -> attn, exps_down -> exps); None for the ungrouped classes."""
    head = tensor_class.split("_")[0]
    group = GROUPS.get(head)
    return group if group and group != tensor_class else None


class RecipeRow(Base):
    """One line of a recipe: a tensor class at a quant type, for every layer or for the first n layers of the class's
    stack (unsloth's higher-bit first MoE down_proj)."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "recipe": Col("recipe"),
        "name": Col("name", required=False),
        "tensor_class": Col("tensor_class"),
        "quant_type": Col("quant_type"),
        "bits_per_weight": Col("bits_per_weight", "float"),
        "first_n_layers": Col("first_n_layers", "int", required=False),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    recipe: str
    name: str | None = None
    tensor_class: TensorClass
    quant_type: str
    bits_per_weight: PosFloat
    first_n_layers: PosInt | None = None
    source: str
    notes: str | None = None


class QuantRecipe(Base):
    """A recipe's rows. `bits(tensor_class, n_layers)` is the class's bits averaged over its stack of n layers."""

    id: str
    name: str
    rows: tuple[RecipeRow, ...]

    def _rows(self, tensor_class: str) -> tuple[RecipeRow | None, RecipeRow | None]:
        """(the row for the first layers, the row for the rest) of one class, through the fallbacks."""
        first = rest = None
        for cls in (tensor_class, group_of(tensor_class), "default"):
            for row in self.rows:
                if row.tensor_class != cls:
                    continue
                if row.first_n_layers is None and rest is None:
                    rest = row
                elif row.first_n_layers is not None and first is None and cls == tensor_class:
                    first = row
            if rest is not None:
                break
        return first, rest

    def bits(self, tensor_class: str, n_layers: float = 1.0) -> float:
        """Bits per weight of a class over its n layers: the first_n_layers row on the first layers, the plain row on
        the rest (a layer-count-weighted mean; every layer of a class has the same shape)."""
        first, rest = self._rows(tensor_class)
        assert rest is not None  # the catalog requires a default row
        if first is None or n_layers <= 0:
            return rest.bits_per_weight
        n_first = min(float(first.first_n_layers or 0), n_layers)
        return (n_first * first.bits_per_weight + (n_layers - n_first) * rest.bits_per_weight) / n_layers
