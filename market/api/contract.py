"""The API's one contract: each operation declares its query and body as pydantic models,
and the same declarations parse every request and make /api/v1/openapi.json.

A view says what it takes::

    @api.post("/orders")
    @operation("Request an order", body=OrderRequest, ok=(201, Order))
    @token_required
    def api_request_order(body: OrderRequest): ...

``operation`` parses the query string (``query=``) and the JSON body (``body=``) before the
view runs and hands them over as ``query``/``body`` arguments; anything else is refused with
a 400 (query) or 422 (body) whose ``errors`` name each field at fault. Types are strict (a
boolean or a float is not an id), unknown fields are refused, and text carries no control
characters. The OpenAPI document (``market/api/openapi.py``) walks the app's routes and
reads these declarations: a route and its document cannot drift apart.

Another area declares its operations the same way. A multipart upload (a file import)
gives ``body=`` a model whose file fields are ``Upload`` and ``body_media=
"multipart/form-data"``; its fields are read from ``request.form`` and ``request.files``
(form text arrives as text, so the model is validated in lax mode: "true" is a bool)::

    class ListingImport(Body):
        file: Upload
        dry_run: bool = False

    @api.post("/listings/import")
    @token_required
    @operation("Import listings", body=ListingImport, body_media="multipart/form-data",
               ok=(200, ImportDone), errors=(400, 401, 403, 413, 422, 429))
    def import_listings(body: ListingImport): ...

An answer that is a file (an export) declares ``ok_media``: the media types of the file.

What an operation answers is declared the same way: ``ok=(200, Ticket)`` names an ``Answer``
model, and the view serialises through it (``answer(Ticket, data)``), so a key the model
lacks, or a value of another type, fails in the tests rather than drifting from the document
(an answer that is not a model can only be ``""``: no body described).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Annotated, Any, get_args, get_origin

from flask import Response, jsonify, request
from flask_babel import gettext as _
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    RootModel,
    ValidationError,
    WithJsonSchema,
)
from werkzeug.datastructures import FileStorage

from market.core.field_errors import field_errors
from market.db import MAX_ID
from market.errors import Invalid
from market.text import LINE_PATTERN, TEXT_PATTERN


def _upload(value: object) -> FileStorage:
    if not isinstance(value, FileStorage) or not value.filename:
        raise ValueError("upload_missing")
    return value


# A row id: a JSON integer (never true, 1.9 or "1") the database can compare.
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
# One line of text (a name, a reference): no control characters at all.
Line = Annotated[str, Field(strict=True, pattern=LINE_PATTERN)]
# Free text (a note, a reason): lines and tabs allowed, other control characters not.
Text = Annotated[str, Field(strict=True, pattern=TEXT_PATTERN)]
# A quantity in a listing's unit: a JSON number, or a decimal written as text ("12.5").
Quantity = Annotated[
    Annotated[float, Field(strict=True, gt=0, le=1e9)]
    | Annotated[str, Field(strict=True, pattern=r"^\d{1,10}(\.\d{1,3})?$")],
    Field(description="Quantity in the listing's unit (more than 0, at most 3 decimals)"),
]
# Whole yen: a JSON integer, or the same written as text ("20000").
Yen = Annotated[
    Annotated[int, Field(strict=True, ge=0, le=10**9)]
    | Annotated[str, Field(strict=True, pattern=r"^\d{1,10}$")],
    Field(description="Whole yen"),
]


# A moment in UTC, as answers write it ("2026-04-01T09:30:00Z").
UtcTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
# An absolute link into the app.
Url = Annotated[str, WithJsonSchema({"type": "string", "format": "uri"})]


class Answer(BaseModel):
    """A response body, declared: the view serialises through it (``answer``) and the
    OpenAPI document shows it (every key present in every answer, no other key)."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


def answer(model: type[Answer], data: Any, status: int = 200, headers: dict | None = None):
    """``data`` as ``model`` declares it (checked: a key the model lacks, a missing one or a
    value of another type fails here), as JSON."""
    # Keys the data left out stay out (an optional key with a default, as declared).
    body = model.model_validate(data).model_dump(mode="json", by_alias=True, exclude_unset=True)
    response: Response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


# An uploaded file in a multipart body (``body_media="multipart/form-data"``).
Upload = Annotated[
    FileStorage,
    PlainValidator(_upload),
    WithJsonSchema({"type": "string", "format": "binary"}),
]


class Body(BaseModel):
    """A JSON request body: strict types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", str_max_length=100_000)


class Query(BaseModel):
    """Query arguments: text as sent in a URL (so "5" is a number here), unknown names refused."""

    model_config = ConfigDict(extra="forbid", str_max_length=2000)


# What each status means, answered and documented for every operation that can give it.
STANDARD_ERRORS = {
    400: "The request is malformed: a query argument is wrong, or the body is not a JSON object",
    401: "No API token, or a wrong or revoked one",
    403: "The token's user may not do this",
    404: "No such thing, or not visible to you",
    409: "The thing is not in a state that allows this",
    422: "A body field is wrong; errors names each field",
    429: "Too many requests with a wrong API token from this address: wait a minute",
}


@dataclass(frozen=True)
class Operation:
    summary: str
    query: type[Query] | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True
    body_media: str = "application/json"
    ok: tuple[int, type[BaseModel] | str] = (200, "")
    # Media types of a file answered instead of JSON (an export), for the ``ok`` status.
    ok_media: tuple[str, ...] = ()
    more_ok: tuple[tuple[int, type[BaseModel] | str], ...] = ()
    errors: tuple[int, ...] = (400, 401, 429)
    path_enums: dict[str, list[str]] = field(default_factory=dict)
    headers: tuple[dict, ...] = ()
    description: str = ""


def operation(summary: str, **declared: Any) -> Callable:
    """Declare an API operation on its view (below the route, above the token check)."""
    op = Operation(summary=summary, **declared)

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if op.query is not None:
                kwargs["query"] = parse_query(op.query)
            if op.body is not None:
                kwargs["body"] = parse_body(op.body, required=op.body_required)
            return view(*args, **kwargs)

        wrapper.api_operation = op
        return wrapper

    return decorate


# --- parsing ------------------------------------------------------------------------------


def parse_query(model: type[Query]) -> Query:
    raw: dict[str, Any] = {}
    repeated: dict[str, str] = {}
    for name in request.args:
        values = request.args.getlist(name)
        info = model.model_fields.get(name)
        if info is not None and _is_list(info.annotation):
            raw[name] = values
            continue
        raw[name] = values[0]
        if len(values) > 1:  # which one would count? neither: say so
            repeated[name] = _("Give this argument once.")
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        raise Invalid({**repeated, **field_errors(exc)}, status=400) from None
    if repeated:
        raise Invalid(repeated, status=400)
    return parsed


def parse_body(model: type[BaseModel], *, required: bool = True) -> BaseModel:
    try:
        if request.mimetype == "multipart/form-data":
            return model.model_validate(
                {**request.form.to_dict(), **request.files.to_dict()}, strict=False
            )
        if not _json_object(required):
            return model.model_validate({})
        # JSON mode: strict, yet dates arrive as ISO text, as JSON can only send them.
        return model.model_validate_json(request.get_data(cache=True))
    except ValidationError as exc:
        tagged = issubclass(model, RootModel)
        raise Invalid(field_errors(exc, tagged=tagged), status=422) from None


def _json_object(required: bool) -> dict:
    if not request.get_data(cache=True) and not required:
        return {}
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # deeply nested JSON; ``silent`` only covers ValueError
        data = None
    if not isinstance(data, dict):
        raise Invalid(
            {"body": _("Send a JSON object (Content-Type: application/json).")}, status=400
        )
    return data


def _is_list(annotation) -> bool:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return get_origin(annotation) is list or annotation is list
