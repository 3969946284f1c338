"""quant_recipes.csv rows grouped into one precision per recipe, with the checks that span rows."""

from __future__ import annotations

from sizing.specs import Precision, QuantRecipe, RecipeRow

from .tables import CatalogError, numbered

FILE = "quant_recipes.csv"


def build_recipes(
    rows: list[RecipeRow], precisions: dict[str, Precision], aliases: dict[str, str], engines: frozenset[str]
) -> dict[str, Precision]:
    """One Precision per recipe id: family gguf, f16 compute (as precisions.csv's GGUF rows), weight_bits the routed
    experts' gate/up bits and embed_bits the token embedding's, for code that reads one number; the estimator reads
    the recipe. A recipe needs a `default` row and a name; one quant type has one bits value across the file; an id
    must not be a precisions.csv id or alias."""
    grouped: dict[str, list[RecipeRow]] = {}
    bits_of: dict[str, tuple[float, int]] = {}
    for i, row in numbered(rows):
        if row.recipe in precisions or row.recipe in aliases:
            raise CatalogError(FILE, i, "recipe", f"'{row.recipe}' is already a precisions.csv id or alias; rename it")
        unknown = [e for e in row.engines if e not in engines]
        if unknown:
            raise CatalogError(FILE, i, "engines", f"'{unknown[0]}' is not in engines.csv")
        seen = bits_of.setdefault(row.quant_type, (row.bits_per_weight, i))
        if abs(seen[0] - row.bits_per_weight) > 1e-9:
            raise CatalogError(
                FILE,
                i,
                "bits_per_weight",
                f"{row.quant_type} is {seen[0]} bits on row {seen[1]}; one type has one size",
            )
        grouped.setdefault(row.recipe, []).append(row)
    out: dict[str, Precision] = {}
    for rid, items in grouped.items():
        if not any(r.tensor_class == "default" and r.is_plain for r in items):
            raise CatalogError(FILE, None, "tensor_class", f"recipe '{rid}' has no 'default' row; add one")
        name = next((r.name for r in items if r.name), None)
        if name is None:
            raise CatalogError(FILE, None, "name", f"recipe '{rid}' has no name on any row; name it on one row")
        recipe = QuantRecipe(id=rid, name=name, rows=tuple(items))
        if any(r.engines for r in items) and not recipe.engines:
            raise CatalogError(FILE, None, "engines", f"no engine loads every type of recipe '{rid}'; fix its engines")
        out[rid] = Precision(
            id=rid,
            name=name,
            family="gguf",
            weight_bits=recipe.bits("exps_gate_up"),  # the plain row: the bulk of an MoE file
            embed_bits=recipe.bits("token_embd"),
            compute_dtype="f16",
            source="; ".join(dict.fromkeys(r.source for r in items)),
            notes="per-tensor recipe (data/quant_recipes.csv): "
            + ", ".join(f"{r.tensor_class}{_span(r)}={r.quant_type}" for r in items),
            recipe=recipe,
        )
    return out


def _span(row: RecipeRow) -> str:
    if row.first_n_layers:
        return f" (first {row.first_n_layers} layers)"
    return " (llama.cpp use_more_bits layers)" if row.more_bits_layers else ""
