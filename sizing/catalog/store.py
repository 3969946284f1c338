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
    FxRate,
    Gpu,
    ModelSpec,
    NetworkPart,
    Precision,
    Psu,
    SizingError,
    Trainer,
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
        return self.engines[self._find("engines", name, "engine")]

    def trainer(self, name: str) -> Trainer:
        return self.trainers[self._find("trainers", name, "trainer")]

    def precision(self, name: str) -> Precision:
        """A weight or KV format. `exl2-4.65bpw` (any bpw) is built from the exl2 template row."""
        match = re.fullmatch(r"exl2[-_](\d+(?:\.\d+)?)(?:bpw)?", name.strip().lower())
        if match and "exl2" in self.precisions:
            bits = float(match.group(1))
            if not 1.0 <= bits <= 16.0:
                raise SizingError(f"exl2 bits per weight must be between 1 and 16, got {bits}")
            template = self.precisions["exl2"]
            return template.model_copy(
                update={"id": f"exl2-{bits:g}bpw", "name": f"EXL2 {bits:g} bpw", "weight_bits": bits}
            )
        found = self.precisions[self._find("precisions", name, "precision")]
        if found.weight_bits is None:  # a template row: the bits come from the name
            raise SizingError(f"'{name}' needs its bits per weight in the name, e.g. {found.id}-4.0bpw")
        return found

    def default_engine(self, family: str) -> Engine:
        """The engine that runs a precision family when the request names none (engines.csv `default_for_families`;
        the load check guarantees exactly one per family in precisions.csv)."""
        for engine in self.engines.values():
            if family in engine.default_for_families:
                return engine
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
                return by_key[key]
        raise SizingError(f"no efficiency factors for engine '{engine}' in efficiency.csv; add a row for it")

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
