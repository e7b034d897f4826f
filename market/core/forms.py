"""Declared web forms: each page names the fields it reads (a pydantic model per form, in
the area's ``forms.py``); nothing else of the request reaches the view, and a field that
breaks its declaration is named beside it, in the user's language, like any field error.

The services still judge what the values mean (a taken e-mail address, a wrong password):
a form declares which fields exist, their types and their sizes."""

from __future__ import annotations

from typing import Annotated, TypeVar

from flask import request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from market.api.contract import field_errors
from market.catalog.services import row_id

F = TypeVar("F", bound="Form")


class Form(BaseModel):
    """A page's form. Text arrives as text; other keys (csrf_token, buttons) are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False, frozen=True)


def _text(raw: object) -> str:
    return "" if raw is None else str(raw)


# One text field of a form, at most ``n`` characters (longer is named, never stored cut).
def Text(n: int):  # noqa: N802 - reads as a type in a declaration
    return Annotated[str, BeforeValidator(_text), Field(max_length=n)]


# A row id chosen in a form (a <select> of ids): None when it is not one.
RowId = Annotated[int | None, BeforeValidator(row_id)]


def parse_form(form: type[F]) -> tuple[F | None, dict[str, str]]:
    """The request's form as declared, or (None, each field at fault → what is wrong)."""
    raw = {name: request.form.get(name) for name in form.model_fields if name in request.form}
    try:
        return form.model_validate(raw), {}
    except ValidationError as exc:
        return None, field_errors(exc)
