"""The OpenAPI 3.1 document of the JSON API, generated from the app's routes and the
operations declared on them (market/api/contract.py): the request schemas are the pydantic
models that parse the requests, so the document cannot drift from the code."""

from __future__ import annotations

import json
import re

from flask import current_app
from pydantic import BaseModel

from market.api.contract import MAX_ID, STANDARD_ERRORS, Operation
from market.core.field_errors import Error

PATH_ARG = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
REF = "#/components/schemas/{model}"


def openapi_document() -> dict:
    schemas: dict[str, dict] = {}
    rules = sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule)
    declared = [
        (rule, view, view.api_operation)
        for rule in rules
        if (view := current_app.view_functions.get(rule.endpoint)) is not None
        and getattr(view, "api_operation", None) is not None
    ]
    # Request bodies first: they keep their models' names (an answer of the same name and
    # another shape is "<name>Answer"), whatever order the routes come in.
    for _rule, _view, op in declared:
        if op.body is not None:
            _model_ref(op.body, schemas)
    _model_ref(Error, schemas, mode="serialization")
    paths: dict[str, dict] = {}
    for rule, view, op in declared:
        path, parameters = _path(rule.rule, op)
        item = paths.setdefault(path, {})
        if parameters:
            item["parameters"] = parameters
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            item[method.lower()] = _operation(op, getattr(view, "api_auth", None), schemas)
    schemas = dict(sorted(schemas.items()))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Meguri API",
            "version": "1",
            "description": "Listings, orders, transfer tickets, search and notifications of "
            "Meguri (めぐり). Every error answers JSON: error (a sentence) and errors (each "
            "field at fault and what is wrong with it).",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
            "responses": {
                str(status): {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="Error")}}
                    },
                }
                for status, text in {**STANDARD_ERRORS, **OTHER_ERRORS}.items()
            },
        },
        "paths": paths,
    }


OTHER_ERRORS = {
    502: "The card payment provider refused or failed",
    503: "Search is briefly unavailable",
}


def _path(rule: str, op: Operation) -> tuple[str, list[dict]]:
    parameters = []
    for match in PATH_ARG.finditer(rule):
        name, converter = match["name"], match["converter"]
        if converter == "int":
            schema: dict = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        else:
            schema = {"type": "string", "minLength": 1}
        if name in op.path_enums:
            schema = {"type": "string", "enum": list(op.path_enums[name])}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return PATH_ARG.sub(lambda m: "{" + m["name"] + "}", rule), parameters


def _operation(op: Operation, auth: str | None, schemas: dict) -> dict:
    doc: dict = {"summary": op.summary}
    if op.description:
        doc["description"] = op.description
    if auth == "token":
        doc["security"] = [{"token": []}]
    elif auth == "optional":
        doc["security"] = [{}, {"token": []}]
    parameters = list(op.headers)
    if op.query is not None:
        parameters += _query_parameters(op.query, schemas)
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {
            "required": op.body_required,
            "content": {op.body_media: {"schema": _model_ref(op.body, schemas)}},
        }
    responses = {}
    for status, model in (op.ok, *op.more_ok):
        responses[str(status)] = _ok(model, schemas)
    if op.ok_media:
        responses[str(op.ok[0])] = {
            "description": "The file",
            "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in op.ok_media},
        }
    for status in sorted(op.errors):
        if str(status) not in responses:  # an operation's own answer for a status comes first
            responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
    doc["responses"] = responses
    return doc


def _ok(model: type[BaseModel] | str, schemas: dict) -> dict:
    """What a success answers: the ``Answer`` model the view serialises through."""
    if isinstance(model, str):  # no body described (a file, or nothing)
        return {"description": "Done"}
    ref = _model_ref(model, schemas, mode="serialization")
    description = (model.__doc__ or "Done").strip().split("\n\n")[0].replace("\n", " ")
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _model_ref(model, schemas: dict, mode: str = "validation") -> dict:
    """The model's JSON schema in components (its nested models beside it); a reference.
    Requests are described as parsed (``validation``), answers as sent (``serialization``)."""
    schema = model.model_json_schema(ref_template=REF, mode=mode)
    name = schema.get("title", model.__name__)
    found = {**schema.pop("$defs", {}), name: schema}
    if mode == "serialization":  # a request's model of the same name keeps it
        taken = {n for n, s in found.items() if schemas.get(n, _tidy(s)) != _tidy(s)}
        text = json.dumps(found)
        for n in taken:
            text = text.replace(
                json.dumps(REF.format(model=n)), json.dumps(REF.format(model=n + "Answer"))
            )
        found = {(n + "Answer" if n in taken else n): s for n, s in json.loads(text).items()}
        name = name + "Answer" if name in taken else name
    for n, s in found.items():
        schemas[n] = _tidy(s)
    return {"$ref": REF.format(model=name)}


def _query_parameters(model, schemas: dict) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF)
    for name, nested in schema.pop("$defs", {}).items():
        schemas[name] = _tidy(nested)
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        prop = _tidy(_not_null(prop))
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop.pop("description")
        if prop.get("type") == "array":
            param.update(style="form", explode=True)
        out.append(param)
    return out


def _not_null(prop: dict) -> dict:
    """A query argument is left out rather than sent as null (a URL has no null)."""
    branches = prop.get("anyOf")
    if branches:
        kept = [b for b in branches if b != {"type": "null"}]
        rest = {k: v for k, v in prop.items() if k != "anyOf"}
        prop = {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}
    return prop


def _tidy(schema):
    """Drop what only pydantic needs: titles, and a default of null (leaving a field out
    is how to send nothing; null is refused where the type does not allow it)."""
    if isinstance(schema, dict):
        return {
            k: _tidy(v)
            for k, v in schema.items()
            if not (k == "title" and isinstance(v, str)) and not (k == "default" and v is None)
        }
    if isinstance(schema, list):
        return [_tidy(v) for v in schema]
    return schema
