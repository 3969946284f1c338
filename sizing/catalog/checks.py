"""Checks across rows and files at load: parameter counts, aliases, references between tables."""

from __future__ import annotations

import re

from sizing.specs import (
    Base,
    Chassis,
    Engine,
    ModelSpec,
)

from .tables import OPTIONAL_FILES, CatalogError, numbered

SIZE_LIKE = re.compile(r"\d+(\.\d+)?[bm]")  # `7b`, `500m`: reserved for generic model sizes
PARAM_TOLERANCE = 0.02  # DESIGN.md: a stated parameter count may differ from the shape's count by at most 2%
# circuits.csv ids sizing/recommend uses when --circuit is not given (towers and workstations; rack servers)
DEFAULT_CIRCUITS = {"120v-15a": "towers and workstations", "rack-208v-30a": "rack servers"}
# single-node builds need no network parts; USD needs no rate; a folder without CPU factors runs GPUs only
MAY_BE_EMPTY = ("network.csv", "fx.csv", *OPTIONAL_FILES)  # and every file a data folder may lack


def _alias_map(file: str, table: list[Base]) -> dict[str, str]:
    """alias -> id; an alias may not be another row's id, another row's alias, or look like a model size."""
    aliases: dict[str, str] = {}
    ids = {getattr(item, "id", "") for item in table}
    for row, item in numbered(table):
        item_id = getattr(item, "id", "")
        for alias in getattr(item, "aliases", ()):
            key = alias.lower()
            if key in ids and key != item_id:
                raise CatalogError(file, row, "aliases", f"alias '{alias}' of '{item_id}' is another row's id")
            if aliases.get(key, item_id) != item_id:
                raise CatalogError(file, row, "aliases", f"alias '{alias}' is used by '{aliases[key]}' and '{item_id}'")
            if file == "models.csv" and SIZE_LIKE.fullmatch(key):
                raise CatalogError(file, row, "aliases", f"alias '{alias}' looks like a model size (`--model 7b`)")
            aliases[key] = item_id
    return aliases


def check_model_params(model: ModelSpec) -> str | None:
    """A problem if the stated parameter count disagrees with the shape's count by more than 2%."""
    derived = model.derived_params
    diff = abs(derived - model.n_params) / model.n_params
    if diff > PARAM_TOLERANCE:
        return (
            f"states {model.n_params / 1e9:.3f}B parameters but its shape gives {derived / 1e9:.3f}B "
            f"({diff:.1%} apart, limit {PARAM_TOLERANCE:.0%}); fix the shape or the count"
        )
    return None


def check_active_params(model: ModelSpec) -> str | None:
    """A problem if the stated active count is more than 2% from the shape's, counted with the embeddings, without
    the input embedding, or without both embedding and head: vendors differ (Qwen and Meta count all, DeepSeek and
    Moonshot leave the input embedding out, Zhipu and MiniMax both). Not a load-time check: the frozen test catalog
    keeps DeepSeek-V2-Lite's stated 2.4B (2.1% off)."""
    if model.n_active_params is None:
        return None
    derived, table = model.derived_active_params, model.vocab_size * model.hidden_size
    candidates = (derived, derived - table, derived - table - model.lm_head_params)
    diff = min(abs(c - model.n_active_params) for c in candidates) / model.n_active_params
    if diff > PARAM_TOLERANCE:
        return (
            f"states {model.n_active_params / 1e9:.3f}B active parameters but its shape gives {derived / 1e9:.3f}B "
            f"({diff:.1%} apart, limit {PARAM_TOLERANCE:.0%})"
        )
    return None


# (column, the fields it needs, why) for the optional shape columns that only mean something together
NEEDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("moe_layer_step", ("n_experts",), "MoE on every k-th layer needs n_experts"),
    ("expert_weight_bits", ("n_experts",), "an expert format needs routed experts (n_experts)"),
    (
        "n_linear_attn_layers",
        ("linear_attn_proj_size", "linear_attn_value_size", "linear_attn_state_elems"),
        "linear-attention layers need their projection sizes and state",
    ),
    ("index_topk", ("index_n_heads", "index_head_dim", "kv_lora_rank"), "a sparse-attention indexer (MLA models)"),
)


def _check_models(tables: dict[str, list]) -> None:
    """Optional shape columns come with the columns they need; default_precision names a precisions id."""
    precisions = {p.id for p in tables["precisions.csv"]}
    field = {name: col.field for name, col in ModelSpec.COLUMNS.items()}
    for i, model in numbered(tables["models.csv"]):
        for column, needs, why in NEEDS:
            missing = [n for n in needs if getattr(model, field[n]) is None]
            if getattr(model, field[column]) is not None and missing:
                raise CatalogError("models.csv", i, missing[0], f"'{model.id}': {why}; fill {', '.join(missing)}")
        if model.default_precision is not None and model.default_precision not in precisions:
            raise CatalogError(
                "models.csv", i, "default_precision", f"'{model.default_precision}' is not in precisions.csv"
            )


def check_references(tables: dict[str, list]) -> None:
    """Cross-file checks: every table the tool needs has rows, and every id or value one file names exists in the
    file it points to. Rows are numbered as in the file (read_table's Table keeps each item's row)."""
    for file, rows in tables.items():
        if not rows and file not in MAY_BE_EMPTY:
            raise CatalogError(file, None, None, "has a header but no rows; it needs at least one row")
    _check_models(tables)
    _check_engines(tables)
    _check_engine_support(tables)
    _check_platform(tables)
    _check_circuits(tables)
    _check_trainers(tables["trainers.csv"])
    _check_accessories(tables)


def _check_trainers(trainers: list) -> None:
    """A trainer's default sharding is one it offers; copied factors name another trainer."""
    ids = {t.id for t in trainers}
    for i, t in numbered(trainers):
        if t.default_sharding not in t.shardings:
            raise CatalogError("trainers.csv", i, "default_sharding", f"'{t.default_sharding}' is not in its shardings")
        if t.copied_from is not None and (t.copied_from not in ids or t.copied_from == t.id):
            raise CatalogError("trainers.csv", i, "copied_from", f"'{t.copied_from}' is not another trainers id")


def _check_engines(tables: dict[str, list]) -> None:
    """Efficiency rows name known engines; every engine has a '*' row, a known KV format and the defaults."""
    precisions = {p.id for p in tables["precisions.csv"]}
    engines = {e.id for e in tables["engines.csv"]}
    any_class = {e.engine for e in tables["efficiency.csv"] if e.gpu_class == "*"}
    for i, eff in numbered(tables["efficiency.csv"]):
        if eff.engine not in engines:
            raise CatalogError("efficiency.csv", i, "engine", f"'{eff.engine}' is not in engines.csv")
        if eff.copied_from is not None and (eff.copied_from not in engines or eff.copied_from == eff.engine):
            raise CatalogError("efficiency.csv", i, "copied_from", f"'{eff.copied_from}' is not another engines id")
    for i, engine in numbered(tables["engines.csv"]):
        unknown = [k for k in engine.kv_precisions if k not in precisions]
        if unknown:
            raise CatalogError("engines.csv", i, "kv_precisions", f"'{unknown[0]}' is not in precisions.csv")
        if engine.default_kv_precision not in precisions:
            raise CatalogError(
                "engines.csv",
                i,
                "default_kv_precision",
                f"'{engine.default_kv_precision}' is not in precisions.csv",
            )
        if engine.id not in any_class:
            raise CatalogError(
                "engines.csv",
                i,
                "id",
                f"engine '{engine.id}' has no '*' (any GPU class) row in "
                "efficiency.csv; add one, or copy another engine's factors into one",
            )
    _check_engine_defaults(tables["engines.csv"], {p.family for p in tables["precisions.csv"]})
    for i, cpu_eff in numbered(tables["cpu_efficiency.csv"]):
        if cpu_eff.engine not in engines:
            raise CatalogError("cpu_efficiency.csv", i, "engine", f"'{cpu_eff.engine}' is not in engines.csv")
        source = cpu_eff.copied_from
        if source is not None and (source not in engines or source == cpu_eff.engine):
            raise CatalogError(
                "cpu_efficiency.csv", i, "copied_from", f"'{cpu_eff.copied_from}' is not another engines id"
            )


def _check_engine_support(tables: dict[str, list]) -> None:
    """engine_support.csv names a known engine; its precisions are precisions ids the engine loads (a family in its
    weight_families); a row for a vendor the engine has no kernels for (or `*`) gives the reason and no precisions."""
    engines = {e.id: e for e in tables["engines.csv"]}
    precisions = {p.id: p for p in tables["precisions.csv"]}
    for i, row in numbered(tables["engine_support.csv"]):
        engine = engines.get(row.engine)
        if engine is None:
            raise CatalogError("engine_support.csv", i, "engine", f"'{row.engine}' is not in engines.csv")
        runs = row.gpu_vendor in engine.gpu_vendors
        if not runs and row.precisions:
            raise CatalogError(
                "engine_support.csv",
                i,
                "precisions",
                f"{row.engine} has no kernels for '{row.gpu_vendor}' (engines.csv gpu_vendors); leave precisions empty",
            )
        for p in row.precisions:
            if p not in precisions:
                raise CatalogError("engine_support.csv", i, "precisions", f"'{p}' is not in precisions.csv")
            if precisions[p].family not in engine.weight_families:
                raise CatalogError(
                    "engine_support.csv",
                    i,
                    "precisions",
                    f"'{p}' is {precisions[p].family}, which {row.engine} does not load (engines.csv weight_families)",
                )


def _check_platform(tables: dict[str, list]) -> None:
    """Every chassis socket has a CPU and every chassis PSU form a PSU; 2-socket lane counts only on 2-socket CPUs."""
    cpus, psu_forms = tables["cpus.csv"], {p.form for p in tables["psus.csv"]}
    for i, cpu in numbered(cpus):
        if cpu.pcie_lanes_2s is not None and cpu.max_sockets < 2:
            raise CatalogError(
                "cpus.csv",
                i,
                "pcie_lanes_2s",
                f"'{cpu.id}' is a 1-socket CPU (max_sockets {cpu.max_sockets}); leave pcie_lanes_2s empty",
            )
    for i, box in numbered(tables["chassis.csv"]):
        if not any(c.socket == box.cpu_socket_type and c.max_sockets >= box.cpu_sockets for c in cpus):
            raise CatalogError(
                "chassis.csv",
                i,
                "cpu_socket_type",
                f"no CPU in cpus.csv has socket '{box.cpu_socket_type}' for a {box.cpu_sockets}-socket board; add one",
            )
        if box.psu_form not in psu_forms:
            raise CatalogError("chassis.csv", i, "psu_form", f"no PSU in psus.csv has form '{box.psu_form}'; add one")
        _check_psu_set(box, i)


def _check_psu_set(box: Chassis, i: int) -> None:
    """A chassis' psu_redundancy fills its bays (active + spare = psu_bays), is N+N (a+a) or N+1 (a+1), and agrees
    with redundant_psu."""
    scheme = box.psu_set
    if box.psu_redundancy is None or (scheme is None and not box.redundant_psu):
        return
    if scheme is None:
        problem = "is 'none' but redundant_psu is true; write the vendor's set (e.g. 2+2) or set redundant_psu false"
    elif not box.redundant_psu:
        problem = f"is {box.psu_redundancy} but redundant_psu is false; write 'none' or set redundant_psu true"
    elif sum(scheme) != box.psu_bays:
        problem = f"{box.psu_redundancy} does not fill the {box.psu_bays} psu_bays; write the full set (active+spare)"
    elif scheme[1] not in (1, scheme[0]):
        problem = f"{box.psu_redundancy} is neither N+N (a+a) nor N+1 (a+1); sizing models only those two"
    else:
        return
    raise CatalogError("chassis.csv", i, "psu_redundancy", problem)


def _check_accessories(tables: dict[str, list]) -> None:
    """An accessory fits what the catalog has: a cooler a CPU socket, rails and motherboards a chassis id (or
    `rack`, any rack chassis), a bridge a GPU id."""
    known = {
        "cpu_cooler": ({c.socket for c in tables["cpus.csv"]}, "a cpus.csv socket"),
        "rails": ({b.id for b in tables["chassis.csv"]} | {"rack"}, "a chassis.csv id or 'rack'"),
        "motherboard": ({b.id for b in tables["chassis.csv"]}, "a chassis.csv id"),
        "nvlink_bridge": ({g.id for g in tables["gpus.csv"]}, "a gpus.csv id"),
    }
    for i, a in numbered(tables["accessories.csv"]):
        ids, what = known[a.kind]
        bad = [f for f in a.fits if f not in ids]
        if bad:
            raise CatalogError("accessories.csv", i, "fits", f"'{bad[0]}' is not {what} (a {a.kind} fits those)")


def _check_circuits(tables: dict[str, list]) -> None:
    """The circuits the recommender defaults to exist."""
    circuits = {c.id for c in tables["circuits.csv"]}
    for circuit, used_for in DEFAULT_CIRCUITS.items():
        if circuit not in circuits:
            raise CatalogError(
                "circuits.csv",
                None,
                "id",
                f"the default circuit '{circuit}' (used for {used_for} "
                "when --circuit is not given) is missing; add it back",
            )


def _check_engine_defaults(engines: list[Engine], families: set[str]) -> None:
    """Each precision family has exactly one default engine, which runs it; `fit_like` names another engine that
    itself borrows from nobody (calibrate.py copies a fitted row)."""
    ids = {e.id: e for e in engines}
    owner: dict[str, str] = {}
    for i, engine in numbered(engines):
        for family in engine.default_for_families:
            if family in owner:
                raise CatalogError(
                    "engines.csv",
                    i,
                    "default_for_families",
                    f"'{family}' already defaults to '{owner[family]}'; one default engine per precision family",
                )
            if family not in engine.weight_families:
                raise CatalogError(
                    "engines.csv",
                    i,
                    "default_for_families",
                    f"'{engine.id}' does not run '{family}' (not in its weight_families)",
                )
            owner[family] = engine.id
        like = ids.get(engine.fit_like or "")
        if engine.fit_like and (like is None or like.id == engine.id or like.fit_like):
            raise CatalogError(
                "engines.csv",
                i,
                "fit_like",
                f"'{engine.fit_like}' must be another engines id whose factors are fitted (an engine without fit_like)",
            )
    missing = sorted(families - set(owner))
    if missing:
        raise CatalogError(
            "engines.csv",
            None,
            "default_for_families",
            f"no engine is the default for precision "
            f"family '{missing[0]}'; add it to one engine's default_for_families",
        )
