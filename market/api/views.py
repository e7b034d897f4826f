"""The API's OpenAPI document, made from every area's declared operations."""

from __future__ import annotations

from flask import Blueprint, jsonify

from market.api.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
