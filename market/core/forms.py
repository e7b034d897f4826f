"""Declared web forms: each page names the fields it reads (a pydantic model per form, in
the area's ``forms.py``); nothing else of the request reaches the view, and a field that
breaks its declaration is named beside it, in the user's language, like any field error.

The services still judge what the values mean (a taken e-mail address, a wrong password):
a form declares which fields exist, their types and their sizes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar, get_args, get_origin

from flask import request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from werkzeug.datastructures import MultiDict

from market.core.field_errors import field_errors
from market.db import row_id

F = TypeVar("F", bound="Form")


class Form(BaseModel):
    """A page's form. Text arrives as text; other keys (csrf_token, buttons) are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False, frozen=True)

    def sent(self) -> dict[str, object]:
        """The declared fields the request sent, as sent (for services that read a mapping
        and judge the values themselves)."""
        return self.model_dump(exclude_unset=True)


def _text(raw: object) -> str:
    return "" if raw is None else str(raw)


# One text field of a form, at most ``n`` characters (longer is named, never stored cut).
def Text(n: int):  # noqa: N802 - reads as a type in a declaration
    return Annotated[str, BeforeValidator(_text), Field(max_length=n)]


# A row id chosen in a form (a <select> of ids): None when it is not one.
RowId = Annotated[int | None, BeforeValidator(row_id)]


class NextForm(Form):
    """Where to go after a form that only acts (signing out, a language switch): a path on
    this site, checked where it is used."""

    next: Text(2000) = ""


def _checked(raw: object) -> bool:
    return raw in ("1", "on", "true", True)


# A checkbox: ticked when sent as "1" or "on" (a browser sends nothing when it is not).
Checkbox = Annotated[bool, BeforeValidator(_checked)]


def _is_list(annotation) -> bool:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return get_origin(annotation) is list or annotation is list


def form_values(form: type[Form]) -> dict[str, object]:
    """The request's values of the fields ``form`` declares, and nothing else (a list
    field takes every value sent under its name)."""
    raw: dict[str, object] = {}
    for name, info in form.model_fields.items():
        if name not in request.form:
            continue
        raw[name] = request.form.getlist(name) if _is_list(info.annotation) else request.form[name]
    return raw


def form_items(declared: Callable[[str], bool]) -> MultiDict:
    """The request's form fields whose names the page declares, every value of each (for
    forms whose fields a declaration elsewhere lists: a listing kind's fields)."""
    return MultiDict([(k, v) for k, v in request.form.items(multi=True) if declared(k)])


def parse_form(form: type[F]) -> tuple[F | None, dict[str, str]]:
    """The request's form as declared, or (None, each field at fault → what is wrong)."""
    try:
        return form.model_validate(form_values(form)), {}
    except ValidationError as exc:
        return None, field_errors(exc)
