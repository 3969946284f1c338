"""The base model, constrained numbers, the CSV column descriptor, the user-facing error and the priced part."""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field


class Base(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]


class Col(NamedTuple):
    """One CSV column: which field it fills, how to parse it, and the factor to base units."""

    field: str
    kind: Literal["str", "int", "float", "bool", "list"] = "str"
    scale: float = 1.0
    required: bool = True  # an empty cell is allowed when False


class SizingError(Exception):
    """A problem with the user's input or data: shown as one line, exit code 2."""


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
    price_kind: str | None = None
    price_source: str | None = None
    unconfirmed: tuple[str, ...] = ()
    source: str
    notes: str | None = None


def price_columns(**specific: Col) -> dict[str, Col]:
    """A part's CSV columns: id, name, its own columns, then the shared price and provenance columns."""
    return {"id": Col("id"), "name": Col("name"), **specific, **PRICE_COLUMNS}

