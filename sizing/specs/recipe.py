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


def use_more_bits(i_layer: int, n_layer: int) -> bool:
    """llama.cpp's layer rule for the tensors its _M mixes raise (src/llama-quant.cpp `use_more_bits`): the first and
    last eighth of the stack and every third layer between them."""
    return i_layer < n_layer // 8 or i_layer >= 7 * n_layer // 8 or (i_layer - n_layer // 8) % 3 == 2


class RecipeRow(Base):
    """One line of a recipe: a tensor class at a quant type, for every layer, for the first n layers of the class's
    stack (unsloth's higher-bit first MoE down_proj), or for the layers llama.cpp's use_more_bits picks (its Q4_K_M
    attn_v and ffn_down at Q6_K)."""

    COLUMNS: ClassVar[dict[str, Col]] = {
        "recipe": Col("recipe"),
        "name": Col("name", required=False),
        "tensor_class": Col("tensor_class"),
        "quant_type": Col("quant_type"),
        "bits_per_weight": Col("bits_per_weight", "float"),
        "first_n_layers": Col("first_n_layers", "int", required=False),
        "more_bits_layers": Col("more_bits_layers", "bool", required=False),
        "engines": Col("engines", "list", required=False),
        "source": Col("source"),
        "notes": Col("notes", required=False),
    }

    recipe: str
    name: str | None = None
    tensor_class: TensorClass
    quant_type: str
    bits_per_weight: PosFloat
    first_n_layers: PosInt | None = None
    more_bits_layers: bool = False
    engines: tuple[str, ...] = ()  # engines that load the row's type, where not every GGUF engine does
    source: str
    notes: str | None = None

    @property
    def is_plain(self) -> bool:
        """A row for every layer of its class (no layer rule)."""
        return self.first_n_layers is None and not self.more_bits_layers


class QuantRecipe(Base):
    """A recipe's rows. `bits(tensor_class, layers, n_layer)` is the class's bits averaged over its layers."""

    id: str
    name: str
    rows: tuple[RecipeRow, ...]

    @property
    def engines(self) -> tuple[str, ...]:
        """The engines that load every type of the recipe: those all its restricted rows name; () = any GGUF engine."""
        named = [r.engines for r in self.rows if r.engines]
        if not named:
            return ()
        return tuple(e for e in named[0] if all(e in n for n in named))

    @property
    def restricted_types(self) -> tuple[str, ...]:
        """The quant types only some engines load."""
        return tuple(dict.fromkeys(r.quant_type for r in self.rows if r.engines))

    def _row(self, tensor_class: str, rule: str) -> RecipeRow | None:
        return next((r for r in self.rows if r.tensor_class == tensor_class and _rule(r) == rule), None)

    def plain(self, tensor_class: str) -> RecipeRow:
        """The row for a class's layers that no layer rule picks: its own, else its group's, else `default`."""
        for cls in (tensor_class, group_of(tensor_class), "default"):
            row = self._row(cls, "plain") if cls else None
            if row is not None:
                return row
        raise ValueError(f"recipe '{self.id}' has no default row")  # the catalog refuses such a recipe at load

    def bits(self, tensor_class: str, layers: range | None = None, n_layer: int = 1) -> float:
        """Bits per weight of a class over its layers (indices into the model's stack of n_layer), the mean over the
        layers (every layer of a class has the same shape): the first_n_layers row on the class's first layers, the
        use_more_bits row on the layers llama.cpp picks, the plain row on the rest; one layer-free value without
        `layers`."""
        plain = self.plain(tensor_class).bits_per_weight
        first, more = self._row(tensor_class, "first"), self._row(tensor_class, "more")
        if not layers or (first is None and more is None):
            return plain
        n_first = first.first_n_layers or 0 if first is not None else 0
        total = 0.0
        for k, i in enumerate(layers):
            if first is not None and k < n_first:
                total += first.bits_per_weight
            elif more is not None and use_more_bits(i, n_layer):
                total += more.bits_per_weight
            else:
                total += plain
        return total / len(layers)


def _rule(row: RecipeRow) -> str:
    return "first" if row.first_n_layers is not None else "more" if row.more_bits_layers else "plain"
