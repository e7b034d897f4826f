"""The OpenAPI 3.1 document of the JSON API, derived from the listing kinds."""

from __future__ import annotations

import search
from market.catalog import kinds, sheets

_TYPES = {
    "text": {"type": "string"},
    "textarea": {"type": "string"},
    "int": {"type": "integer"},
    "decimal": {"type": "number"},
    "float": {"type": "number"},
    "lat": {"type": "number"},
    "lon": {"type": "number"},
    "date": {"type": "string", "format": "date"},
    "bool": {"type": "boolean"},
    "choice": {"type": "string"},
    "grade": {"type": "string"},
    "multichoice": {"type": "array", "items": {"type": "string"}},
    "prices": {"type": "object", "additionalProperties": {"type": "integer"}},
    "properties": {"type": "object", "additionalProperties": {"type": "number"}},
    "limits": {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "properties": {"min": {"type": "number"}, "max": {"type": "number"}},
            "additionalProperties": False,
        },
    },
}


def _field_schema(f: kinds.Field) -> dict:
    schema = dict(_TYPES[f.type])
    if f.type not in {"multichoice", "prices", "properties", "limits", "bool", "date"}:
        schema = {**schema}
        if f.minimum is not None and schema["type"] in {"integer", "number"}:
            schema["minimum"] = f.minimum
        if f.maximum is not None and schema["type"] in {"integer", "number"}:
            schema["maximum"] = f.maximum
        if f.max_length and schema["type"] == "string":
            schema["maxLength"] = f.max_length
    if f.name == "status":
        schema["enum"] = ["draft", "open"]
    if not f.required and f.type not in {"bool", "multichoice", "prices", "properties", "limits"}:
        schema = {"anyOf": [schema, {"type": "null"}]}
    schema["description"] = str(f.label)
    return schema


def _kind_schema(kind) -> dict:
    fields = kinds.fields_for(kind)
    return {
        "type": "object",
        "title": str(kinds.SPECS[kind].label),
        "properties": {"kind": {"const": kind.value}, **{f.name: _field_schema(f) for f in fields}},
        "required": ["kind", *[f.name for f in fields if f.required]],
        "additionalProperties": False,
    }


def openapi_document() -> dict:
    kind_refs = [{"$ref": f"#/components/schemas/{k.value}"} for k in kinds.SPECS]
    error = {"$ref": "#/components/responses/Error"}
    listing = {
        "description": "A listing",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Listing"}}},
    }
    id_param = {
        "name": "listing_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Meguri API",
            "version": "1",
            "description": "Listings, orders, transfer tickets, search and notifications of Meguri (めぐり).",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **{k.value: _kind_schema(k) for k in kinds.SPECS},
                "NewListing": {"oneOf": kind_refs, "discriminator": {"propertyName": "kind"}},
                "ListingPatch": {
                    "type": "object",
                    "description": "Any fields of the listing's kind.",
                },
                "Listing": {
                    "type": "object",
                    "required": ["id", "kind", "status"],
                    "properties": {
                        "id": {"type": "integer"},
                        "kind": {"type": "string"},
                        "status": {"type": "string"},
                    },
                },
                "Order": {
                    "type": "object",
                    "required": ["id", "status", "listing_id", "quantity"],
                    "properties": {
                        "id": {"type": "integer"},
                        "status": {"type": "string"},
                        "listing_id": {"type": "integer"},
                        "quantity": {"type": "string"},
                        "unit": {"type": "string"},
                        "unit_price_yen": {"type": "integer"},
                        "money": {"type": "object"},
                        "history": {"type": "array"},
                        "payment": {"anyOf": [{"type": "object"}, {"type": "null"}]},
                        "refunds": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Ticket": _ticket_schema(),
                "Notification": _closed(
                    {
                        "id": {"type": "integer"},
                        "message": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "read_at": _nullable({"type": "string", "format": "date-time"}),
                        "order_id": _nullable({"type": "integer"}),
                        "listing_id": _nullable({"type": "integer"}),
                        "url": _nullable({"type": "string", "format": "uri"}),
                    }
                ),
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            },
            "responses": {
                "Error": {
                    "description": "An error naming the fields at fault",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        },
        "paths": {
            "/api/v1/listings": {
                "get": {
                    "summary": "List public listings (or your own with mine=true)",
                    "security": [{}, {"token": []}],
                    "parameters": [
                        {"name": n, "in": "query", "required": False, "schema": s}
                        for n, s in [
                            ("kind", {"type": "string", "enum": [k.value for k in kinds.SPECS]}),
                            ("prefecture_code", {"type": "string"}),
                            ("soil_class_code", {"type": "string"}),
                            ("material_code", {"type": "string"}),
                            ("q", {"type": "string"}),
                            ("mine", {"type": "boolean"}),
                            ("page", {"type": "integer", "minimum": 1}),
                            ("per_page", {"type": "integer", "minimum": 1, "maximum": 200}),
                        ]
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of listings",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "400": error,
                        "401": error,
                    },
                },
                "post": {
                    "summary": "Create a listing",
                    "security": [{"token": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/NewListing"}
                            }
                        },
                    },
                    "responses": {
                        "201": listing,
                        "400": error,
                        "401": error,
                        "403": error,
                        "422": error,
                    },
                },
            },
            "/api/v1/listings/{listing_id}": {
                "parameters": [id_param],
                "get": {
                    "summary": "Read a listing",
                    "security": [{}, {"token": []}],
                    "responses": {"200": listing, "401": error, "404": error},
                },
                "patch": {
                    "summary": "Change some fields of your listing",
                    "security": [{"token": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ListingPatch"}
                            }
                        },
                    },
                    "responses": {
                        "200": listing,
                        "400": error,
                        "401": error,
                        "403": error,
                        "404": error,
                        "409": error,
                        "422": error,
                    },
                },
                "put": {
                    "summary": "Replace every field of your listing (the kind cannot change)",
                    "security": [{"token": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/NewListing"}
                            }
                        },
                    },
                    "responses": {
                        "200": listing,
                        "400": error,
                        "401": error,
                        "403": error,
                        "404": error,
                        "409": error,
                        "422": error,
                    },
                },
            },
            "/api/v1/listings/{listing_id}/close": {
                "parameters": [id_param],
                "post": {
                    "summary": "Close your listing",
                    "security": [{"token": []}],
                    "responses": {"200": listing, "401": error, "403": error, "404": error},
                },
            },
            **_transfer_paths(error),
            **_order_paths(error),
            **_ticket_paths(error),
            **_search_paths(error),
            **_suggest_paths(error),
            **_notification_paths(error),
        },
    }


def _transfer_paths(error: dict) -> dict:
    """Import and export of listings as CSV or XLSX (market/catalog/sheets.py, imports.py)."""
    return {**_export_path(error), **_import_path(error)}


def _import_outcomes() -> tuple[dict, dict]:
    """The import's answer: without errors (200), and with them (422)."""
    row_error = _closed(
        {
            "row": {"type": "integer", "description": "as the spreadsheet numbers it (header = 1)"},
            "column": {"type": "string", "description": "the column's header as in the file"},
            "field": {"type": "string", "description": "the column's name in this API"},
            "message": {"type": "string"},
        }
    )
    outcome = _closed(
        {
            "created": {"type": "integer"},
            "updated": {"type": "integer"},
            "unchanged": {"type": "integer"},
            "errors": {"type": "array", "items": row_error},
        }
    )
    failed = {
        **outcome,
        "properties": {**outcome["properties"], "error": {"type": "string"}},
    }
    return outcome, failed


def _export_path(error: dict) -> dict:
    ja, en = sheets.headers("ja"), sheets.headers("en")
    columns = "; ".join(
        f"{c.name} ({j} / {e})" for c, j, e in zip(sheets.columns(), ja, en, strict=True)
    )
    return {
        "/api/v1/listings/export": {
            "get": {
                "summary": "Every listing of your organisation as CSV (UTF-8 with BOM) or XLSX, "
                "in the columns the import reads: it imports back unchanged",
                "description": f"Columns: {columns}.",
                "security": [{"token": []}],
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": list(sheets.FORMATS)},
                    },
                    {
                        "name": "headers",
                        "in": "query",
                        "required": False,
                        "description": "the header row's language (Japanese by default)",
                        "schema": {"type": "string", "enum": ["ja", "en"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {
                            mimetype: {"schema": {"type": "string", "format": "binary"}}
                            for mimetype in sheets.MIMETYPES.values()
                        },
                    },
                    "400": error,
                    "401": error,
                    "403": error,
                },
            },
        },
    }


def _import_path(error: dict) -> dict:
    outcome, failed = _import_outcomes()
    return {
        "/api/v1/listings/import": {
            "post": {
                "summary": "Create and update your organisation's listings from a CSV or XLSX "
                "file: every row or none",
                "description": "Headers in Japanese or English (or the field names). CSV in "
                "UTF-8, with or without BOM, or Shift_JIS (cp932). A row with `id` or "
                "`external_id` of one of your listings updates it (or leaves it unchanged); "
                "any other row creates a listing. A file with any error writes nothing and "
                f"lists every error. At most {sheets.MAX_ROWS:,} rows.",
                "security": [{"token": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "dry_run": {
                                        "type": "string",
                                        "enum": ["true", "false", "1", "0"],
                                        "description": "check and count only; nothing is written",
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "What was (or, for a dry run, would be) created, updated "
                        "and left unchanged",
                        "content": {"application/json": {"schema": outcome}},
                    },
                    "400": error,
                    "401": error,
                    "403": error,
                    "422": {
                        "description": "The file has errors (each by row and column); nothing "
                        "was written",
                        "content": {"application/json": {"schema": failed}},
                    },
                },
            },
        },
    }


def _order_paths(error: dict) -> dict:
    """The orders API (market/orders/views.py): request, list, read, act, record deliveries,
    refund."""
    from market.orders.models import OrderStatus, TransportArrangement
    from market.orders.states import ACTION_LABELS

    order = {
        "description": "An order",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}},
    }
    order_id = {
        "name": "order_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
    quantity = {"type": ["number", "string"], "description": "Quantity in the listing's unit (> 0)"}
    note = {"type": "string", "maxLength": 2000}
    refusals = {"400": error, "401": error, "403": error, "404": error, "409": error, "422": error}
    return {
        "/api/v1/orders": {
            "get": {
                "summary": "Orders of your organisation (as buyer or seller)",
                "security": [{"token": []}],
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": [st.value for st in OrderStatus]},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Your orders",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["items"],
                                    "properties": {
                                        "items": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Order"},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "401": error,
                },
            },
            "post": {
                "summary": "Request an order on a listing (accepted at once if the seller allows it)",
                "security": [{"token": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["listing_id", "quantity"],
                                "properties": {
                                    "listing_id": {"type": "integer", "minimum": 1},
                                    "quantity": quantity,
                                    "transport_arrangement": {
                                        "type": "string",
                                        "enum": [a.value for a in TransportArrangement],
                                    },
                                    "note": note,
                                },
                            }
                        }
                    },
                },
                "responses": {"201": order, **refusals},
            },
        },
        "/api/v1/orders/{order_id}": {
            "parameters": [order_id],
            "get": {
                "summary": "Read an order you are a party to",
                "security": [{"token": []}],
                "responses": {"200": order, "401": error, "404": error},
            },
        },
        "/api/v1/orders/{order_id}/actions/{action}": {
            "parameters": [
                order_id,
                {
                    "name": "action",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(ACTION_LABELS)},
                },
            ],
            "post": {
                "summary": "Move an order: accept, decline, cancel, issue_invoice, mark_paid, complete, "
                "dispute, resolve",
                "security": [{"token": []}],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "note": note,
                                    "transport_fee_yen": {"type": ["integer", "string"]},
                                },
                            }
                        }
                    },
                },
                "responses": {"200": order, **refusals},
            },
        },
        "/api/v1/orders/{order_id}/deliveries": {
            "parameters": [order_id],
            "post": {
                "summary": "Record a delivery (the seller, on an accepted order)",
                "security": [{"token": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["quantity"],
                                "properties": {
                                    "quantity": quantity,
                                    "delivered_on": {"type": "string", "format": "date"},
                                    "reference": {"type": "string", "maxLength": 100},
                                    "note": note,
                                },
                            }
                        }
                    },
                },
                "responses": {"201": order, **refusals},
            },
        },
        "/api/v1/orders/{order_id}/refunds": {
            "parameters": [order_id],
            "post": {
                "summary": "Refund all or part of a paid order (the organisation that received the payment); "
                "an invoice refund issues a credit note (返還インボイス)",
                "security": [{"token": []}],
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Send the same key again to retry safely: the refund it made "
                        "is answered with 200, never made twice",
                        "schema": {"type": "string", "maxLength": 64},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["amount_yen", "reason"],
                                "properties": {
                                    "amount_yen": {
                                        "type": ["integer", "string"],
                                        "description": "Yen, tax included, at most what is left",
                                    },
                                    "reason": {"type": "string", "maxLength": 500},
                                },
                            }
                        }
                    },
                },
                "responses": {"200": order, "201": order, **refusals, "502": error},
            },
        },
    }


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _closed(properties: dict, required: list[str] | None = None, **extra) -> dict:
    """An object with exactly these keys (all present in every response)."""
    return {
        "type": "object",
        "properties": properties,
        "required": required or list(properties),
        "additionalProperties": False,
        **extra,
    }


def _ticket_schema() -> dict:
    """A transfer ticket (market/trace/views.py ``ticket_json``)."""
    from market.trace.models import TicketStatus

    text, number, integer = {"type": "string"}, _nullable({"type": "number"}), {"type": "integer"}
    org = _nullable(_closed({"id": integer, "name": text}))
    when = {"type": "string", "format": "date-time", "description": "UTC"}
    quantity = {"type": "string", "description": "Decimal quantity in the order's unit"}
    return _closed(
        {
            "id": integer,
            "code": {
                **text,
                "description": "T<order>-<seq>; never reused, not even for a void ticket",
            },
            "order_id": integer,
            "seq": integer,
            "status": {"type": "string", "enum": [st.value for st in TicketStatus]},
            "leg": {"type": "string", "enum": ["first", "onward"]},
            "transit": {"type": "boolean"},
            "origin": _closed(
                {
                    "name": text,
                    "address": text,
                    "listing_id": _nullable(integer),
                    "lat": number,
                    "lon": number,
                }
            ),
            "destination": _closed(
                {
                    "name": text,
                    "address": text,
                    "listing_id": _nullable(integer),
                    "kind": {"type": "string", "enum": ["site", "stockyard", "declared"]},
                    "lat": number,
                    "lon": number,
                    "receiving_organisation": org,
                    "stockyard_registration_no": _nullable(text),
                }
            ),
            "planned": _closed({"name": text, "address": text}),
            "matches_plan": _nullable({"type": "boolean"}),
            "soil_class_code": _nullable(text),
            "vehicle_reg_no": text,
            "driver_name": text,
            "quantity": quantity,
            "unit": text,
            "time_out": when,
            "issued_by_organisation": org,
            "issued_at": when,
            "received": _nullable(
                _closed(
                    {
                        "time_in": when,
                        "quantity": quantity,
                        "discrepancy_note": text,
                        "by_organisation": org,
                        "by_user": _nullable(text),
                        "receipt_number": _nullable(text),
                    },
                    description="Set once the receiving site confirmed the load",
                )
            ),
            "void": _nullable(
                _closed(
                    {
                        "at": when,
                        "by_organisation": org,
                        "by_user": _nullable(text),
                        "reason": text,
                    },
                    description="Set when its issuer voided it (無効): it counts in no total "
                    "and cannot be received",
                )
            ),
            "amendments": {
                "type": "array",
                "items": _closed(
                    {
                        "field": text,
                        "old_value": text,
                        "new_value": text,
                        "reason": text,
                        "at": when,
                        "by_organisation": org,
                    }
                ),
            },
            "url": {"type": "string", "format": "uri"},
        },
        description="Values as amended; the originals and every amendment are listed",
    )


def _ticket_paths(error: dict) -> dict:
    """The read-only tickets API (market/trace/views.py)."""
    from market.trace.models import TicketStatus

    status = {
        "name": "status",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": [st.value for st in TicketStatus]},
    }
    items = {"type": "array", "items": {"$ref": "#/components/schemas/Ticket"}}
    ticket = {
        "description": "A ticket",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ticket"}}},
    }
    return {
        "/api/v1/tickets": {
            "get": {
                "summary": "Tickets of your organisation's orders, or issued by it, or sent to it (newest first)",
                "security": [{"token": []}],
                "parameters": [
                    status,
                    {
                        "name": "page",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1},
                    },
                    {
                        "name": "per_page",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "A page of tickets",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["items", "total", "page", "per_page"],
                                    "properties": {
                                        "items": items,
                                        "total": {"type": "integer"},
                                        "page": {"type": "integer"},
                                        "per_page": {"type": "integer"},
                                    },
                                }
                            }
                        },
                    },
                    "400": error,
                    "401": error,
                },
            },
        },
        "/api/v1/tickets/{ticket_id}": {
            "parameters": [
                {
                    "name": "ticket_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            ],
            "get": {
                "summary": "Read a ticket of an order you are involved in",
                "security": [{"token": []}],
                "responses": {"200": ticket, "401": error, "404": error},
            },
        },
        "/api/v1/orders/{order_id}/tickets": {
            "parameters": [
                {
                    "name": "order_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            ],
            "get": {
                "summary": "Every ticket of an order you are involved in, void ones included",
                "security": [{"token": []}],
                "parameters": [status],
                "responses": {
                    "200": {
                        "description": "The order's tickets",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["items"],
                                    "properties": {"items": items},
                                }
                            }
                        },
                    },
                    "400": error,
                    "401": error,
                    "404": error,
                },
            },
        },
    }


def _notification_paths(error: dict) -> dict:
    """Notifications for programs (market/finder/views.py): read them, mark them read."""
    page = [
        {
            "name": "unread",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["true", "false"]},
        },
        {
            "name": "page",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1},
        },
        {
            "name": "per_page",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
        },
    ]
    return {
        "/api/v1/notifications": {
            "get": {
                "summary": "Your notifications, newest first (order moves, saved-search matches)",
                "security": [{"token": []}],
                "parameters": page,
                "responses": {
                    "200": {
                        "description": "A page of notifications",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["items", "total", "page", "per_page"],
                                    "properties": {
                                        "items": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Notification"},
                                        },
                                        "total": {"type": "integer"},
                                        "page": {"type": "integer"},
                                        "per_page": {"type": "integer"},
                                    },
                                }
                            }
                        },
                    },
                    "400": error,
                    "401": error,
                },
            },
        },
        "/api/v1/notifications/read": {
            "post": {
                "summary": "Mark notifications read: the ids given, or all of yours",
                "security": [{"token": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "ids": {
                                        "type": "array",
                                        "maxItems": 1000,
                                        "items": {
                                            "type": "integer",
                                            "minimum": 1,
                                            "maximum": 2**31 - 1,
                                        },
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "How many were marked",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["marked"],
                                    "properties": {"marked": {"type": "integer"}},
                                }
                            }
                        },
                    },
                    "400": error,
                    "401": error,
                },
            },
        },
    }


PLACE_HELP = (
    "a 市区町村 to measure distance from: its code (JIS X 0402) or name in kanji, kana or"
    " English (八王子市, はちおうじ, Hachioji); a name several places share takes its"
    " prefecture: 府中市 (東京都)"
)


def _search_paths(error: dict) -> dict:
    """The search API (market/finder/views.py): free text, facets, price, window, distance."""
    from market.finder.services import FACET_ARGS

    facets = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "style": "form",
            "explode": True,
            "schema": {"type": "array", "items": {"type": "string"}},
        }
        for name in FACET_ARGS
    ]
    scalars = [
        ("q", {"type": "string"}),
        ("price_min", {"type": "integer"}),
        ("price_max", {"type": "integer"}),
        ("window_from", {"type": "string", "format": "date"}),
        ("window_to", {"type": "string", "format": "date"}),
        (
            "site",
            {"type": "string", "description": "id of one of your sites (listings), for distance"},
        ),
        ("place", {"type": "string", "description": PLACE_HELP}),
        ("lat", {"type": "number", "minimum": -90, "maximum": 90, "description": "a point"}),
        ("lon", {"type": "number", "minimum": -180, "maximum": 180, "description": "a point"}),
        ("radius_km", {"type": "number", "minimum": 0}),
        ("sort", {"type": "string", "enum": list(search.SORTS)}),
        ("page", {"type": "integer", "minimum": 1}),
        ("per_page", {"type": "integer", "minimum": 1, "maximum": 100}),
    ]
    return {
        "/api/v1/search": {
            "get": {
                "summary": "Search public listings",
                "security": [{}, {"token": []}],
                "parameters": [
                    *facets,
                    *[
                        {"name": n, "in": "query", "required": False, "schema": sch}
                        for n, sch in scalars
                    ],
                ],
                "responses": {
                    "200": {
                        "description": "A page of hits with facet counts",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["total", "page", "per_page", "hits"],
                                    "properties": {
                                        "total": {"type": "integer"},
                                        "page": {"type": "integer"},
                                        "per_page": {"type": "integer"},
                                        "facets": {"type": "object"},
                                        "origin": {
                                            "type": ["object", "null"],
                                            "description": "where distance is measured from",
                                        },
                                        "hits": {"type": "array"},
                                    },
                                }
                            }
                        },
                    },
                    "400": error,
                    "401": error,
                    "503": error,
                },
            },
        },
    }


def _suggest_paths(error: dict) -> dict:
    """Suggestions as people type (market/finder/suggest.py)."""
    return {
        "/api/v1/search/suggest": {
            "get": {
                "summary": "Suggestions as people type (from two characters): words, places, listings",
                "security": [{}, {"token": []}],
                "parameters": [
                    {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 20},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "Suggestions in the user's language (none below two characters)",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["q", "suggestions"],
                                    "properties": {
                                        "q": {"type": "string"},
                                        "suggestions": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "required": ["type", "text", "value"],
                                                "properties": {
                                                    "type": {
                                                        "type": "string",
                                                        "enum": ["word", "place", "listing"],
                                                    },
                                                    "text": {"type": "string"},
                                                    "value": {"type": "string"},
                                                    "url": {"type": "string"},
                                                },
                                            },
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "400": error,
                    "401": error,
                    "503": error,
                },
            },
        },
    }
