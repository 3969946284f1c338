"""The loaded catalog: every table by id, and name lookups with suggestions."""

from __future__ import annotations

import difflib
import re

from sizing.specs import (
    Accessory,
    Base,
    Chassis,
    Circuit,
    Cpu,
    CpuEfficiency,
    Dimm,
    Drive,
    EdgeSystem,
    Efficiency,
    Engine,
    EngineMechanics,
    ErrorBand,
    FxRate,
    Gpu,
    LinkLatency,
    LinkMeasurement,
    ModelSpec,
    NetworkPart,
    Precision,
    Psu,
    SizingError,
    Trainer,
    version_key,
)


class Catalog(Base):
    models: dict[str, ModelSpec]
    gpus: dict[str, Gpu]
    precisions: dict[str, Precision]
    engines: dict[str, Engine]
    efficiencies: tuple[Efficiency, ...]
    cpus: dict[str, Cpu]
    dimms: dict[str, Dimm]
    drives: dict[str, Drive]
    psus: dict[str, Psu]
    chassis: dict[str, Chassis]
    network: dict[str, NetworkPart]
    fx: dict[str, FxRate]
    circuits: dict[str, Circuit]
    trainers: dict[str, Trainer]
    cpu_efficiencies: tuple[CpuEfficiency, ...] = ()  # data/cpu_efficiency.csv (optional file)
    accessories: dict[str, Accessory] = {}  # data/accessories.csv (optional file): coolers, rails, NVLink bridges
    systems: dict[str, EdgeSystem] = {}  # data/systems.csv: edge boxes sold whole (optional file)
    mechanics: tuple[EngineMechanics, ...] = ()  # data/engine_mechanics.csv (optional file): defaults per release
    bands: tuple[ErrorBand, ...] = ()  # data/bands.csv (optional file): cross-validated error per engine and class
    recipes: dict[str, Precision] = {}  # data/quant_recipes.csv (optional file): per-tensor mixes, by recipe id
    # data/links.csv (optional file): small-message latency per link kind, fitted by benchmarks/fit_links.py on
    # data/links_measured.csv (optional file: the published all-reduce times); empty: specs/system.py's fallback
    links: dict[str, LinkLatency] = {}
    link_measurements: tuple[LinkMeasurement, ...] = ()
    aliases: dict[str, dict[str, str]]  # table -> alias -> id
    data_dir: str

    # -- lookups ---------------------------------------------------------------------------------------------
    def _find(self, table: str, name: str, what: str) -> str:
        items: dict = getattr(self, table)
        key = name.strip().lower()
        if key in items:
            return key
        if key in self.aliases[table]:
            return self.aliases[table][key]
        names = list(items) + list(self.aliases[table])
        close = difflib.get_close_matches(key, names, n=4, cutoff=0.5)
        hint = (
            f"closest: {', '.join(close)}" if close else f"see `sizing {table}`" if table in ("models", "gpus") else ""
        )
        raise SizingError(f"unknown {what} '{name}'" + (f"; {hint}" if hint else ""))

    def model(self, name: str) -> ModelSpec:
        return self.models[self._find("models", name, "model")]

    def gpu(self, name: str) -> Gpu:
        return self.gpus[self._find("gpus", name, "GPU")]

    def engine(self, name: str) -> Engine:
        """An engine by id or alias; `llama.cpp@b3000` takes the defaults of that release (engine_mechanics.csv: the
        newest row not after it), a bare name those of the newest release the file lists."""
        base, sep, version = name.partition("@")
        engine = self.engines[self._find("engines", base, "engine")]
        rows = sorted((m for m in self.mechanics if m.engine == engine.id), key=lambda m: m.version_key)
        if sep and not version.strip():
            raise SizingError(
                f"'{name}' names no version after '@'; write e.g. {engine.id}@{rows[-1].version if rows else '1.0'}"
            )
        if not rows:
            if sep:
                raise SizingError(f"engine_mechanics.csv has no releases of {engine.id}; drop '@{version}'")
            return engine
        chosen = rows[-1]
        if sep:
            older = [m for m in rows if m.version_key <= version_key(version)]
            if not older:
                raise SizingError(
                    f"{engine.id}@{version} is older than any release in engine_mechanics.csv (first: "
                    f"{rows[0].version}); pick {rows[0].version} or later"
                )
            chosen = older[-1]
        return with_mechanics(engine, chosen, version.strip() if sep else chosen.version)

    def trainer(self, name: str) -> Trainer:
        return self.trainers[self._find("trainers", name, "trainer")]

    def precision(self, name: str) -> Precision:
        """A weight or KV format. `exl2-4.65bpw` (any bpw) is built from the exl2 template row; a quant_recipes.csv id
        is a per-tensor mix."""
        match = re.fullmatch(r"exl2[-_](\d+(?:\.\d+)?)(?:bpw)?", name.strip().lower())
        if match and "exl2" in self.precisions:
            bits = float(match.group(1))
            if not 1.0 <= bits <= 16.0:
                raise SizingError(f"exl2 bits per weight must be between 1 and 16, got {bits}")
            template = self.precisions["exl2"]
            return template.model_copy(
                update={"id": f"exl2-{bits:g}bpw", "name": f"EXL2 {bits:g} bpw", "weight_bits": bits}
            )
        key = name.strip().lower()
        if key in self.recipes:
            return self.recipes[key]
        try:
            found = self.precisions[self._find("precisions", name, "precision")]
        except SizingError:
            names = [*self.precisions, *self.aliases["precisions"], *self.recipes]
            close = difflib.get_close_matches(key, names, n=4, cutoff=0.5)
            raise SizingError(
                f"unknown precision '{name}'" + (f"; closest: {', '.join(close)}" if close else "")
            ) from None
        if found.weight_bits is None:  # a template row: the bits come from the name
            raise SizingError(f"'{name}' needs its bits per weight in the name, e.g. {found.id}-4.0bpw")
        return found

    def default_engine(self, family: str) -> Engine:
        """The engine that runs a precision family when the request names none (engines.csv `default_for_families`;
        the load check guarantees exactly one per family in precisions.csv)."""
        for engine in self.engines.values():
            if family in engine.default_for_families:
                return self.engine(engine.id)  # the current release's defaults (engine_mechanics.csv)
        raise SizingError(f"no engine in engines.csv is the default for '{family}' weights; name one with --engine")

    def cpu(self, name: str) -> Cpu:
        return self._lookup_plain("cpus", name, "CPU")

    def _lookup_plain(self, table: str, name: str, what: str):
        items: dict = getattr(self, table)
        key = name.strip().lower()
        if key in items:
            return items[key]
        close = difflib.get_close_matches(key, list(items), n=4, cutoff=0.4)
        hint = f"closest: {', '.join(close)}" if close else f"use one of {', '.join(items)}"
        raise SizingError(f"unknown {what} '{name}'; {hint}")

    def circuit(self, name: str) -> Circuit:
        return self._lookup_plain("circuits", name, "circuit")

    def usd_to(self, currency: str) -> FxRate | None:
        """The newest rate from USD to `currency` (None for USD)."""
        if currency.upper() == "USD":
            return None
        rates = [r for r in self.fx.values() if r.from_currency == "USD" and r.to_currency == currency.upper()]
        if not rates:
            raise SizingError(f"no USD/{currency.upper()} rate in fx.csv; add one or use --currency USD")
        return max(rates, key=lambda r: r.rate_date)

    def efficiency(self, engine: str, gpu_class: str) -> Efficiency:
        """The engine's factors for this GPU class, else its any-class row."""
        by_key = {(e.engine, e.gpu_class): e for e in self.efficiencies}
        for key in ((engine, gpu_class), (engine, "*")):
            if key in by_key:
                return by_key[key].model_copy(update={"band": self.band(engine, gpu_class)})
        raise SizingError(f"no efficiency factors for engine '{engine}' in efficiency.csv; add a row for it")

    def band(self, engine: str, gpu_class: str) -> tuple[ErrorBand, ...]:
        """The cross-validated error bands for an engine on a GPU class: per metric, the class row, else the '*' row."""
        out = []
        for metric in ("decode", "prefill", "memory"):
            rows: dict[str, ErrorBand] = {
                b.gpu_class: b for b in self.bands if b.engine == engine and b.metric == metric
            }
            found = rows.get(gpu_class) or rows.get("*")
            if found is not None:
                out.append(found)
        return tuple(out)

    def cpu_efficiency(self, engine: str) -> CpuEfficiency:
        """The engine's CPU-side factors (data/cpu_efficiency.csv)."""
        for e in self.cpu_efficiencies:
            if e.engine == engine:
                return e
        have = ", ".join(e.engine for e in self.cpu_efficiencies) or "none (the file is missing)"
        raise SizingError(
            f"no CPU efficiency factors for engine '{engine}' in cpu_efficiency.csv (engines with them: {have}); "
            "add a row, or pick one of those with --engine"
        )

    def dimm(self, name: str) -> Dimm:
        return self._lookup_plain("dimms", name, "memory (DIMM)")


def with_mechanics(engine: Engine, m: EngineMechanics, version: str) -> Engine:
    """The engine as release `version` runs it by default: flash attention on means the score matrix is never
    materialised; `row` split (llama.cpp before 2024) shards matrices like tensor parallel."""
    return engine.model_copy(
        update={
            "version": version,
            "attn_scores_materialized": not m.flash_attn_default,
            "split": "tensor" if m.split_default in ("tensor", "row") else "layer",
            "cuda_graphs": m.cuda_graphs,
            "kernels_per_layer": m.kernels_per_layer,
            "dispatch_s_per_kernel": m.dispatch_s_per_kernel,
            "pp_dispatch_s_per_kernel": m.pp_dispatch_s_per_kernel,
            "quant_linear_kernels": m.quant_linear_kernels,
            "mechanics_unconfirmed": m.unconfirmed,
        }
    )
