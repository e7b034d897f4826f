"""The OpenAPI 3.1 document of the JSON API, derived from the listing kinds."""

from __future__ import annotations

from market.catalog import kinds

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
    listing = {"description": "A listing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Listing"}}}}
    id_param = {"name": "listing_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Meguri API", "version": "1", "description": "Listings of Meguri (めぐり)."},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **{k.value: _kind_schema(k) for k in kinds.SPECS},
                "NewListing": {"oneOf": kind_refs, "discriminator": {"propertyName": "kind"}},
                "ListingPatch": {"type": "object", "description": "Any fields of the listing's kind."},
                "Listing": {"type": "object", "required": ["id", "kind", "status"],
                            "properties": {"id": {"type": "integer"}, "kind": {"type": "string"},
                                           "status": {"type": "string"}}},
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"},
                                         "errors": {"type": "object", "additionalProperties": {"type": "string"}}}},
            },
            "responses": {
                "Error": {"description": "An error naming the fields at fault",
                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        },
        "paths": {
            "/api/v1/listings": {
                "get": {
                    "summary": "List public listings (or your own with mine=true)",
                    "security": [{}, {"token": []}],
                    "parameters": [
                        {"name": n, "in": "query", "required": False, "schema": s}
                        for n, s in [("kind", {"type": "string", "enum": [k.value for k in kinds.SPECS]}),
                                     ("prefecture_code", {"type": "string"}), ("soil_class_code", {"type": "string"}),
                                     ("material_code", {"type": "string"}), ("q", {"type": "string"}),
                                     ("mine", {"type": "boolean"}),
                                     ("page", {"type": "integer", "minimum": 1}),
                                     ("per_page", {"type": "integer", "minimum": 1, "maximum": 200})]
                    ],
                    "responses": {"200": {"description": "A page of listings",
                                          "content": {"application/json": {"schema": {"type": "object"}}}},
                                  "400": error, "401": error},
                },
                "post": {
                    "summary": "Create a listing",
                    "security": [{"token": []}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewListing"}}}},
                    "responses": {"201": listing, "400": error, "401": error, "403": error, "422": error},
                },
            },
            "/api/v1/listings/{listing_id}": {
                "parameters": [id_param],
                "get": {"summary": "Read a listing", "security": [{}, {"token": []}],
                        "responses": {"200": listing, "401": error, "404": error}},
                "patch": {"summary": "Change some fields of your listing", "security": [{"token": []}],
                          "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ListingPatch"}}}},
                          "responses": {"200": listing, "400": error, "401": error, "403": error, "404": error,
                                        "409": error, "422": error}},
                "put": {"summary": "Replace every field of your listing (the kind cannot change)",
                        "security": [{"token": []}],
                        "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewListing"}}}},
                        "responses": {"200": listing, "400": error, "401": error, "403": error, "404": error,
                                      "409": error, "422": error}},
            },
            "/api/v1/listings/{listing_id}/close": {
                "parameters": [id_param],
                "post": {"summary": "Close your listing", "security": [{"token": []}],
                         "responses": {"200": listing, "401": error, "403": error, "404": error}},
            },
        },
    }
