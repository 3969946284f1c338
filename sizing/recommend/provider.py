"""What the recommender asks of a catalog: a narrow, typed interface (resolvelib's provider), so the search never
reaches into files or untyped dicts. `sizing.catalog.Catalog` satisfies it; lookups raise SizingError."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

from sizing.specs import (
    Accessory,
    Chassis,
    Circuit,
    Constraints,
    Cpu,
    Dimm,
    Drive,
    Efficiency,
    Execution,
    Gpu,
    LinkLatency,
    ModelSpec,
    NetworkPart,
    Precision,
    Psu,
)


class PartsProvider(Protocol):
    @property
    def gpus(self) -> Mapping[str, Gpu]: ...
    @property
    def chassis(self) -> Mapping[str, Chassis]: ...
    @property
    def cpus(self) -> Mapping[str, Cpu]: ...
    @property
    def dimms(self) -> Mapping[str, Dimm]: ...
    @property
    def drives(self) -> Mapping[str, Drive]: ...
    @property
    def psus(self) -> Mapping[str, Psu]: ...
    @property
    def network(self) -> Mapping[str, NetworkPart]: ...
    @property
    def accessories(self) -> Mapping[str, Accessory]: ...
    @property
    def circuits(self) -> Mapping[str, Circuit]: ...
    @property
    def precisions(self) -> Mapping[str, Precision]: ...
    @property
    def links(self) -> Mapping[str, LinkLatency]: ...  # small-message latency per link kind (data/links.csv)

    def circuit(self, name: str) -> Circuit:
        """The circuit by id; SizingError naming the closest ids when there is none."""
        ...

    def efficiency(self, engine: str, gpu_class: str) -> Efficiency:
        """The engine's factors for this GPU class, else its any-class row; SizingError when it has none."""
        ...


class Problem(NamedTuple):
    """One recommendation problem: where the parts come from, what runs, how (on one GPU: each candidate splits it
    over its own GPUs) and what the user allows."""

    parts: PartsProvider
    model: ModelSpec
    execution: Execution
    constraints: Constraints
