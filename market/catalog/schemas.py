"""What the listings API takes and answers: one body model per listing kind, made from the kind's field
declarations (market/catalog/kinds.py), so the form, the API and the document share them."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, ConfigDict, Field, RootModel, WithJsonSchema, create_model
from werkzeug.datastructures import FileStorage

from market.api.contract import Answer, Body, Line, Query, Text, Url, UtcTime
from market.catalog import kinds
from market.catalog.models import ListingKind
from market.core.field_errors import Error
from market.text import LINE_PATTERN

Code = Annotated[str, Field(strict=True, min_length=1, max_length=40, pattern=LINE_PATTERN)]


class Limit(Body):
    min: float | None = None
    max: float | None = None


def _fixed_codes(f: kinds.Field) -> tuple[str, ...] | None:
    """The codes of a fixed choice list; None for codes kept in a reference table."""
    try:
        return tuple(code for code, _label in f.choices(None, "en"))
    except AttributeError:  # a reference table: it needs the database
        return None


def _annotation(f: kinds.Field) -> Any:  # noqa: C901 - one branch per field type
    bounds = {
        k: v
        for k, v in (("ge", f.minimum), ("le", f.maximum))
        if v is not None and f.type in {"int", "decimal", "float", "lat", "lon"}
    }
    described = {"description": str(f.label)}
    if f.type in {"text", "textarea"}:
        base = Line if f.type == "text" else Text
        extra: dict[str, Any] = {"max_length": f.max_length} if f.max_length else {}
        if f.required:
            extra["min_length"] = 1
        if f.name == "municipality_code":
            return Annotated[str, Field(strict=True, pattern=r"^\d{5,6}$", **described)]
        return Annotated[base, Field(**extra, **described)]
    if f.type == "choice":
        fixed = _fixed_codes(f)
        if fixed:
            return Annotated[Literal[fixed], Field(**described)]  # type: ignore[valid-type]
        return Annotated[Code, Field(**described)]
    if f.type == "grade":
        return Annotated[Code, Field(**described)]
    if f.type == "int":
        return Annotated[int, Field(**bounds, **described)]
    if f.type in {"decimal", "float", "lat", "lon"}:
        return Annotated[float, Field(**bounds, **described)]
    if f.type == "date":
        return Annotated[dt.date, Field(**described)]
    if f.type == "bool":
        return Annotated[bool, Field(**described)]
    if f.type == "multichoice":
        return Annotated[list[Code], Field(max_length=100, **described)]
    if f.type == "prices":
        return Annotated[
            dict[Code, Annotated[int, Field(ge=0, le=100_000_000)]],
            Field(max_length=100, **described),
        ]
    if f.type == "properties":
        return Annotated[dict[Code, float], Field(max_length=100, **described)]
    if f.type == "limits":
        return Annotated[dict[Code, Limit], Field(max_length=100, **described)]
    raise ValueError(f"no schema for field type {f.type}")


def _fields(kind: ListingKind, *, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in kinds.fields_for(kind):
        annotation = _annotation(f)
        if f.required and not partial:
            out[f.name] = (annotation, ...)
        elif f.required:
            out[f.name] = (annotation, None)  # may be left out; null is not a value
        else:
            out[f.name] = (annotation | None, None)
    return out


@cache
def kind_model(kind: ListingKind) -> type[Body]:
    """A new listing of one kind: every field of the kind, the required ones required."""
    return create_model(
        kind.value,
        __base__=Body,
        __doc__=str(kinds.SPECS[kind].label),
        kind=(Literal[kind.value], ...),  # type: ignore[valid-type]
        **_fields(kind, partial=False),
    )


@cache
def new_listing_model() -> type[RootModel]:
    union = Union[tuple(kind_model(k) for k in kinds.SPECS)]  # noqa: UP007 - built at run time
    return create_model(
        "NewListing",
        __base__=RootModel[Annotated[union, Field(discriminator="kind")]],
    )


@cache
def listing_patch_model() -> type[Body]:
    """Fields to change on a listing: any of its kind's (a field of another kind is refused
    by the kind's own check, naming it). A field has the same type in every kind."""
    fields: dict[str, Any] = {}
    for kind in kinds.SPECS:
        fields.update(_fields(kind, partial=True))
    return create_model(
        "ListingPatch",
        __base__=Body,
        __doc__="Any fields of the listing's kind; the kind itself cannot change.",
        kind=(Literal[tuple(k.value for k in kinds.SPECS)] | None, None),  # type: ignore[valid-type]
        **fields,
    )


class ListingsQuery(Query):
    kind: ListingKind | None = None
    prefecture_code: Annotated[str, Field(max_length=2)] | None = None
    soil_class_code: Annotated[str, Field(max_length=40)] | None = None
    material_code: Annotated[str, Field(max_length=40)] | None = None
    q: Annotated[str, Field(max_length=200)] | None = None
    mine: bool = Field(default=False, description="Only your organisation's listings (a token)")
    page: Annotated[int, Field(ge=1, le=10**6)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50


class ListingsExportQuery(Query):
    format: Literal["csv", "xlsx"] = Field(default="csv", description="the file's format")
    headers: Literal["ja", "en"] = Field(
        default="ja", description="the language of the header row (Japanese by default)"
    )


def _uploaded_file(value: Any) -> Any:
    if not isinstance(value, FileStorage) or not value.filename:
        raise ValueError("not a file")
    return value


UploadedFile = Annotated[
    Any, AfterValidator(_uploaded_file), WithJsonSchema({"type": "string", "format": "binary"})
]


class ListingsImport(Body):
    """A CSV or XLSX file of listings (multipart/form-data)."""

    file: UploadedFile = Field(description="CSV (UTF-8, with or without BOM, or Shift_JIS) or XLSX")
    dry_run: Literal["true", "false", "1", "0"] = Field(
        default="false", description="check and count only: nothing is written"
    )


# --- what the listings API answers ---------------------------------------------------------


class OrganisationRef(Answer):
    id: int
    name: str


class Photo(Answer):
    full: Url
    thumbnail: Url | None = Field(description="null until the thumbnail is made")


class Listing(Answer):
    """A listing: these keys, and the fields of its kind as the request bodies name them
    (``private_note`` only for its own organisation)."""

    model_config = ConfigDict(extra="allow")

    id: int
    kind: ListingKind
    status: str
    organisation: OrganisationRef
    unit: str
    open_quantity: float
    photos: list[Photo]
    created_at: UtcTime
    updated_at: UtcTime
    url: Url


class ListingsPage(Answer):
    items: list[Listing]
    total: int
    page: int
    per_page: int


class RowError(Answer):
    row: int = Field(description="as the spreadsheet numbers it (header = 1)")
    column: str = Field(description="the column's header as in the file")
    field: str = Field(description="the column's name in this API")
    message: str


class ImportDone(Answer):
    """What was (or, for a dry run, would be) created, updated and left unchanged."""

    created: int
    updated: int
    unchanged: int
    errors: list[RowError]


class ImportFailed(ImportDone):
    """The file has errors (each by row and column) and nothing was written."""

    error: str


class ImportRefused(RootModel[ImportFailed | Error]):
    """The file has errors (each by row and column) and nothing was written; or the request
    lacks its file."""
