"""What a refusal says, field by field: pydantic's validation errors as messages in the
user's language (the web forms and the API contract both parse with pydantic), and ``Error``,
the JSON body every error answers with (the error pages and the API alike)."""

from __future__ import annotations

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, ValidationError


class Error(BaseModel):
    """Every error's answer: a sentence saying what is wrong, and each field at fault with
    what is wrong with it (left out when no one field is)."""

    # Declared like every API answer (``Answer``: no other key), keys left out when empty.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=False)

    error: str
    errors: dict[str, str] | None = None


def field_errors(exc: ValidationError, *, tagged: bool = False) -> dict[str, str]:
    """Each field at fault (its dotted path) and what is wrong, in the user's language."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"] if not _is_union_branch(part)]
        if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
            loc = [error["ctx"]["discriminator"].strip("'")]
        elif tagged and len(loc) > 1:
            loc = loc[1:]  # the branch of a tagged union (a listing kind) is not a field
        name = ".".join(loc) or "body"
        errors.setdefault(name, _message(error))
    return errors


def _is_union_branch(part) -> bool:
    # pydantic names the branch of a union it tried ("int", "str", "function-after[...]").
    return isinstance(part, str) and (
        part in {"int", "str", "float", "bool", "list", "dict", "none", "date"}
        or "[" in part
        or part.startswith("constrained-")
    )


def _message(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return _("This field is required.")
    if error.get("msg", "").endswith("upload_missing"):
        return _("Choose a file to upload.")
    if kind == "extra_forbidden":
        return _("Unknown field: leave it out.")
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return _("Must be a whole number.")
    if kind in {"float_type", "float_parsing", "decimal_parsing", "decimal_type"}:
        return _("Must be a number.")
    if kind in {"bool_type", "bool_parsing"}:
        return _("Must be true or false.")
    if kind in {"string_type"}:
        return _("Must be text.")
    if kind in {"list_type"}:
        return _("Must be a list.")
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return _("Must be an object.")
    if kind in {"date_type", "date_parsing", "date_from_datetime_parsing"}:
        return _("Must be a date (YYYY-MM-DD).")
    if kind in {"less_than_equal", "less_than"}:
        return _("Must be at most %(n)s.", n=ctx.get("le", ctx.get("lt")))
    if kind in {"greater_than_equal", "greater_than"}:
        return _("Must be at least %(n)s.", n=ctx.get("ge", ctx.get("gt")))
    if kind == "string_too_short":
        return _("This field is required.")
    if kind == "string_too_long":
        return _("Must be at most %(n)s characters.", n=ctx.get("max_length"))
    if kind == "too_long":
        return _("At most %(n)s items.", n=ctx.get("max_length"))
    if kind == "string_pattern_mismatch":
        return _("Contains a character or form that is not allowed.")
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        return _("Must be one of: %(choices)s", choices=ctx.get("expected_tags", ""))
    if kind in {"literal_error", "enum"}:
        return _("Must be one of: %(choices)s", choices=ctx.get("expected", ""))
    return _("This value is not valid.")
