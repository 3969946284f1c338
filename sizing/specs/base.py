"""The base model, constrained numbers, the category vocabularies, the CSV column descriptor, the user-facing error
and the priced part."""

from __future__ import annotations

import operator
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:  # typing.Self is 3.11+; the package supports 3.10
    from typing_extensions import Self

T = TypeVar("T")
DERIVED = "_derived_"  # the instance-dict prefix of `derived` values: a leading "_" keeps them out of dict(model)
HASH_KEY = DERIVED + "hash"


class derived(cached_property[T]):  # noqa: N801  (a decorator, named like `property`)
    """A property of a frozen model computed once per instance: its fields never change, so neither does the value.
    Kept in the instance dict under DERIVED + name, which dict(model), model_dump, == and hash ignore (they read the
    fields), and which Base.model_copy drops when an update changes the fields."""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        super().__set_name__(owner, name)
        self.attrname = DERIVED + name

    def __get__(self, instance: Any, owner: type[Any] | None = None) -> Any:
        if instance is None:
            return self
        cache = instance.__dict__
        key = self.attrname
        if key not in cache:
            cache[key] = self.func(instance)
        return cache[key]


class Base(BaseModel):
    # defer_build: a model's validator is built when it is first used, not at import, so a command pays only for the
    # models it touches (pydantic "defer_build"; the schema and the answers are the same)
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, ignored_types=(derived,))

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Each model's hash, pydantic's (the hash of its field values), computed once per instance and kept like a
        `derived` value: the search keys its memos by frozen parts, requirements and executions. Equality is
        pydantic's too (same class, equal field values; these models keep no extra or private values), answered
        at once for the same object and for two whose kept hashes differ: the memos compare equal keys that are
        different objects (an execution copied per estimate), where pydantic's own `==` misses its `__dict__` fast
        path on the kept `derived` values and filters the fields of both."""
        super().__pydantic_init_subclass__(**kwargs)
        if not cls.model_config.get("frozen") or "__hash__" in cls.__dict__ and cls.__dict__["__hash__"] is None:
            return  # a model that may change, or one that is unhashable, keeps pydantic's behaviour
        names = tuple(cls.__pydantic_fields__)
        values = operator.itemgetter(*names) if names else (lambda _: 0)

        if cls.model_config.get("extra") != "allow" and not cls.__private_attributes__:

            def __eq__(self: Base, other: object) -> bool:  # noqa: N807
                if self is other:
                    return True
                if type(other) is not type(self):
                    return BaseModel.__eq__(self, other)
                mine, theirs = self.__dict__, other.__dict__
                if HASH_KEY in mine and HASH_KEY in theirs and mine[HASH_KEY] != theirs[HASH_KEY]:
                    return False
                return bool(values(mine) == values(theirs))

            cls.__eq__ = __eq__  # type: ignore[method-assign,assignment]

        def __hash__(self: Base) -> int:  # noqa: N807
            cache = self.__dict__
            if HASH_KEY not in cache:
                cache[HASH_KEY] = hash(values(cache))
            return cache[HASH_KEY]  # a Python call less than cast(): the memos hash ~80,000 keys a search

        cls.__hash__ = __hash__  # type: ignore[method-assign,assignment]

    def model_copy(self, *, update: Any = None, deep: bool = False) -> Self:
        """pydantic's copy, less the `derived` values where `update` changes a field they may be computed from."""
        copied = super().model_copy(update=update, deep=deep)
        if update:
            for key in [k for k in copied.__dict__ if k.startswith(DERIVED)]:
                del copied.__dict__[key]
        return copied


PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]

# -- vocabularies: the allowed values of every category column (data/README.md lists them per file). A CSV cell
# outside its vocabulary, or in another case (`GeForce`, `NVLink`), fails at load with file, row and column.
# gpus.vendor; engines.gpu_vendors. "intel-gaudi": Intel Gaudi accelerators, whose kernels come from the Intel
# Gaudi software stack (SynapseAI), not from oneAPI/SYCL as Intel Arc's do: an engine that runs on Arc may not on Gaudi
GpuVendor = Literal["nvidia", "amd", "huawei", "intel", "intel-gaudi", "apple", "cambricon"]
GpuClass = Literal["datacenter", "geforce", "workstation"]  # gpus.gpu_class; efficiency.gpu_class (or "*")
GpuFormFactor = Literal[
    "pcie", "sxm", "oam", "module"
]  # oam: OCP Accelerator Module on a baseboard (AMD Instinct, Gaudi)
SoftwareStack = Literal[
    "cuda", "rocm", "cann", "oneapi", "synapseai", "metal", "neuware"
]  # the vendor runtime a GPU's kernels build on
Cooling = Literal["blower", "open-air", "passive", "sxm", "oam"]  # sxm/oam: cooled on the baseboard
# the scale-up link: nvlink (NVLink/NVSwitch board), infinity-fabric (AMD Instinct xGMI mesh on an OAM baseboard),
# roce (Gaudi's on-chip RoCE ports wired all-to-all on its baseboard); all three join every GPU of the board
NvLink = Literal["none", "bridge", "nvlink", "infinity-fabric", "roce"]
PowerConnector = Literal["8-pin-pcie", "2x8-pin-pcie", "3x8-pin-pcie", "8-pin-eps", "12vhpwr", "12v-2x6", "board"]
CpuVendor = Literal["intel", "amd", "huawei"]  # huawei: Kunpeng (Arm)
CpuIsa = Literal["avx2", "avx512", "amx"]  # cpus.isa: the vector and matrix extensions engines use
NetProtocol = Literal["ethernet", "infiniband", "both"]
PriceKind = Literal["msrp", "list", "street", "used", "quote", "estimate"]
PrecisionFamily = Literal["float", "gptq", "awq", "bnb", "gguf", "exl2", "mlc"]  # precisions.family; engines lists
ComputeDtype = Literal["f32", "bf16", "f16", "fp8", "int8"]  # the dtype matmuls run in; selects a gpus.csv peak
EffFactor = Literal["bw_eff", "quant_bw_eff", "layer_overhead_us", "kv_traffic", "mm_eff", "quant_mm_eff", "attn_eff"]
# chassis.psu_redundancy: the vendor's PSU set at full bays, active+spare ("3+1", "2+2", "5+5"), or "none"
PsuSet = Annotated[str, Field(pattern=r"^(none|[1-9][0-9]?\+[1-9][0-9]?)$")]
# efficiency.csv provenance: fitted by the data, stuck at a LOWER/UPPER bound of the fit, or left at its prior
FactorStatus = Literal["fitted", "at-bound", "prior"]


class Provenanced(Base):
    """A row of fitted factors with a `provenance` cell: items `factor=status` (e.g. `bw_eff=fitted`), every factor of
    FACTORS once, or none at all (efficiency.csv, trainers.csv, cpu_efficiency.csv)."""

    FACTORS: ClassVar[tuple[str, ...]] = ()

    @field_validator("provenance", mode="before", check_fields=False)
    @classmethod
    def _split_pairs(cls, value: object) -> object:
        """CSV items become (factor, status) pairs; anything but a list goes on to pydantic's own check."""
        if not isinstance(value, (tuple, list)):
            return value
        pairs = []
        for item in value:
            if isinstance(item, str):
                factor, sep, status = item.partition("=")
                if not sep:
                    raise ValueError(f"'{item}' is not factor=status (e.g. {cls.FACTORS[0]}=fitted)")
                item = (factor.strip(), status.strip())
            pairs.append(item)
        return tuple(pairs)

    @field_validator("provenance", check_fields=False)
    @classmethod
    def _every_factor_once(cls, value: tuple) -> tuple:
        names = [factor for factor, _ in value]
        missing = [f for f in cls.FACTORS if f not in names]
        twice = sorted({f for f in names if names.count(f) > 1})
        if value and (missing or twice):
            raise ValueError(
                f"names {twice[0]} twice"
                if twice
                else f"lacks {', '.join(missing)}; give a status for every factor or leave the cell empty"
            )
        return value


class Col(NamedTuple):
    """One CSV column: which field it fills, how to parse it, and the factor to base units."""

    field: str
    kind: Literal["str", "int", "float", "bool", "list"] = "str"
    scale: float = 1.0
    required: bool = True  # an empty cell is allowed when False


class SizingError(Exception):
    """A problem with the user's input or data: shown as one line, exit code 2."""


SHOW_CHARS = 40  # a value quoted in a message is cut to this many characters


def show(text: str, limit: int = SHOW_CHARS) -> str:
    """A value for a one-line message: quoted, invisible characters escaped, cut to `limit` characters."""
    cut = text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"
    return "'" + one_line(cut) + "'"


def one_line(text: str) -> str:
    """`text` with line breaks and other non-printing characters escaped (`\\n`, `\\u2028`): never two lines."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


PRICE_COLUMNS: dict[str, Col] = {
    "price_usd": Col("price_usd", "float", required=False),
    "price_date": Col("price_date", required=False),
    "price_kind": Col("price_kind", required=False),
    "price_source": Col("price_source", required=False),
    "unconfirmed": Col("unconfirmed", "list", required=False),
    "source": Col("source"),
    "notes": Col("notes", required=False),
}


class Part(Base):
    """What every server part has: an id, a name, a dated price (or none: unconfirmed) and a source."""

    id: str
    name: str
    price_usd: PosFloat | None = None
    price_date: str | None = None
    price_kind: PriceKind | None = None
    price_source: str | None = None
    unconfirmed: tuple[str, ...] = ()
    source: str
    notes: str | None = None


def price_columns(**specific: Col) -> dict[str, Col]:
    """A part's CSV columns: id, name, its own columns, then the shared price and provenance columns."""
    return {"id": Col("id"), "name": Col("name"), **specific, **PRICE_COLUMNS}
