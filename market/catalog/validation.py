"""The one validator that the listing forms, the file import and the API share: ``validate``
turns raw input — an HTML form or a JSON body — into clean column values of a kind (its
fields declared in ``kinds.py``) or a dict of field → message, never a half-applied change.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from market.catalog.kinds import (
    Field,
    cone_index_shortfall,
    fields_for,
    material_properties,
    property_choices,
)
from market.catalog.models import (
    Grade,
    ListingKind,
    Material,
    SoilClass,
)
from market.errors import Invalid
from market.text import has_control_characters


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _number(raw: object, parse, f: Field):
    if isinstance(raw, bool):
        raise ValueError
    try:
        value = parse(str(raw).strip().replace(",", "")) if isinstance(raw, str) else parse(raw)
    except OverflowError:  # float() of an integer too long for it: judged by the bounds below
        value = raw
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError
    try:
        as_float = float(value)
    except OverflowError:  # an integer too long for a float is simply out of range
        as_float = math.inf if value > 0 else -math.inf
    if math.isnan(as_float) or (math.isinf(as_float) and isinstance(value, float)):
        raise ValueError
    if f.minimum is not None and as_float < f.minimum:
        raise OverflowError(str(_l("must be at least %(n)s", n=_fmt(f.minimum))))
    if f.maximum is not None and as_float > f.maximum:
        raise OverflowError(str(_l("must be at most %(n)s", n=_fmt(f.maximum))))
    if math.isinf(as_float):
        raise ValueError
    return value


def _fmt(n: float) -> str:
    return f"{int(n):,}" if float(n).is_integer() else f"{n:g}"


def _int(text):
    if isinstance(text, float) and not text.is_integer():
        raise ValueError
    return int(text)


def _decimal(text):
    try:
        return Decimal(str(text))
    except InvalidOperation as exc:
        raise ValueError from exc


def _date(raw) -> dt.date:
    if isinstance(raw, dt.date):
        return raw
    if not isinstance(raw, str):  # a JSON number such as 20250101 is not a date
        raise ValueError
    return dt.date.fromisoformat(raw.strip())


def _bool(raw) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "on", "yes", "y"}:
        return True
    if text in {"0", "false", "off", "no", "n", ""}:
        return False
    raise ValueError


def validate(
    session: Session,
    kind: ListingKind,
    data: Mapping[str, object],
    *,
    locale: str = "ja",
    partial: bool = False,
    current: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Clean ``data`` for ``kind``. With ``partial`` only the given fields are checked
    (API PATCH); cross-field rules then use ``current`` for the others.
    Raises ``Invalid`` with every problem at once."""
    errors: dict[str, str] = {}
    clean: dict[str, object] = {}
    for f in fields_for(kind):
        if partial and f.name not in data:
            continue
        raw = data.get(f.name)
        try:
            value = _clean_field(session, f, raw, locale, data)
        except _FieldError as exc:
            errors[f.name] = exc.message
            continue
        clean[f.name] = value

    merged = dict(current or {})
    merged.update(clean)
    _cross_checks(session, kind, merged, errors, clean.keys() if partial else None, locale)
    unknown = sorted(set(data) - {f.name for f in fields_for(kind)} - {"kind"})
    for name in unknown:
        errors[name] = str(_l("unknown field"))
    if errors:
        raise Invalid(errors)
    return clean


class _FieldError(Exception):
    def __init__(self, message: object):
        super().__init__(str(message))
        self.message = str(message)


def _clean_field(session, f: Field, raw, locale, data):  # noqa: C901 - one branch per field type
    if f.type in {"prices", "properties", "limits"}:
        return _clean_mapping(session, f, raw, locale)
    if f.type == "multichoice":
        values = raw if isinstance(raw, list | tuple) else ([] if _blank(raw) else [raw])
        values = [str(v) for v in values if not _blank(v)]
        if f.required and not values:
            raise _FieldError(_l("choose at least one"))
        allowed = {code for code, _ in f.choices(session, locale)}
        bad = [v for v in values if v not in allowed]
        if bad:
            raise _FieldError(_l("unknown choice: %(v)s", v=", ".join(bad)))
        return sorted(set(values), key=values.index)
    if f.type == "bool":
        if _blank(raw):
            return False
        try:
            return _bool(raw)
        except ValueError:
            raise _FieldError(_l("must be true or false")) from None
    if _blank(raw):
        if f.required:
            raise _FieldError(_l("this field is required"))
        return "" if f.type in {"text", "textarea"} else None
    if isinstance(raw, list | dict):
        raise _FieldError(_l("must be a single value"))
    if f.type in {"text", "textarea"}:
        text = str(raw).strip()
        if has_control_characters(text):
            raise _FieldError(_l("must not contain control characters"))
        if f.max_length and len(text) > f.max_length:
            raise _FieldError(_l("must be at most %(n)s characters", n=f.max_length))
        if f.name == "municipality_code" and not (text.isdigit() and len(text) in (5, 6)):
            raise _FieldError(_l("must be a 5- or 6-digit local government code"))
        return text
    if f.type == "choice":
        allowed = {code for code, _ in f.choices(session, locale)}
        if str(raw) not in allowed:
            raise _FieldError(_l("unknown choice: %(v)s", v=str(raw)[:40]))
        return str(raw)
    if f.type == "grade":
        if has_control_characters(str(raw)):
            raise _FieldError(_l("must not contain control characters"))
        return str(raw).strip()  # checked against the material in _cross_checks
    if f.type == "date":
        try:
            return _date(raw)
        except ValueError:
            raise _FieldError(_l("must be a date (YYYY-MM-DD)")) from None
    parse = {"int": _int, "decimal": _decimal, "float": float, "lat": float, "lon": float}[f.type]
    try:
        return _number(raw, parse, f)
    except OverflowError as exc:
        raise _FieldError(str(exc)) from None
    except (ValueError, TypeError):
        if f.type == "int":
            raise _FieldError(_l("must be a whole number")) from None
        raise _FieldError(_l("must be a number")) from None


def _clean_mapping(session, f: Field, raw, locale):
    if _blank(raw):
        raw = {}
    if not isinstance(raw, Mapping):
        raise _FieldError(_l("must be an object of name → value"))
    allowed = {code for code, _ in f.keys(session, locale)}
    out: dict[str, object] = {}
    for key, value in raw.items():
        if key not in allowed:
            raise _FieldError(_l("unknown name: %(v)s", v=str(key)[:40]))
        if f.type == "limits":
            if _blank(value):
                continue
            if not isinstance(value, Mapping) or not set(value) <= {"min", "max"}:
                raise _FieldError(_l("%(k)s: give min and/or max", k=key))
            bounds = {}
            for side, bound in value.items():
                if _blank(bound):
                    continue
                try:
                    bounds[side] = float(_number(bound, float, f))
                except (ValueError, TypeError, OverflowError):
                    raise _FieldError(_l("%(k)s: must be a number", k=key)) from None
            if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
                raise _FieldError(_l("%(k)s: min is above max", k=key))
            if bounds:
                out[key] = bounds
            continue
        if _blank(value):
            continue
        try:
            number = _number(value, _int if f.type == "prices" else float, f)
        except OverflowError as exc:
            raise _FieldError(f"{key}: {exc}") from None
        except (ValueError, TypeError):
            raise _FieldError(_l("%(k)s: must be a number", k=key)) from None
        out[key] = int(number) if f.type == "prices" else float(number)
    if f.required and not out:
        raise _FieldError(_l("give at least one value"))
    return out


def _cross_checks(session, kind, merged, errors, touched, locale="ja") -> None:
    def check(name: str) -> bool:
        return name not in errors and (
            touched is None or name in touched or _related(name, touched)
        )

    start, end = merged.get("window_start"), merged.get("window_end")
    if (
        check("window_end")
        and isinstance(start, dt.date)
        and isinstance(end, dt.date)
        and end < start
    ):
        errors["window_end"] = str(_l("must not be before the start date"))
    rate, quantity = merged.get("weekly_rate"), merged.get("quantity")
    if (
        check("weekly_rate")
        and isinstance(rate, Decimal)
        and isinstance(quantity, Decimal)
        and rate > quantity
    ):
        errors["weekly_rate"] = str(_l("must not be more than the quantity"))
    material = merged.get("material_code")
    for name in ("grade_code", "min_grade_code"):
        grade = merged.get(name)
        if grade and material and check(name):
            exists = session.get(Grade, (material, grade))
            if exists is None:
                errors[name] = str(_l("not a grade of this material: %(v)s", v=str(grade)[:40]))
    for name in ("properties", "property_limits"):
        measured = merged.get(name)
        if measured and material and check(name):
            allowed = material_properties(session, material)
            if allowed:
                names = dict(property_choices(session, locale))
                wrong = [names.get(k, k) for k in measured if k not in allowed]
                if wrong:
                    row = session.get(Material, material)
                    errors[name] = str(
                        _l(
                            "not what %(material)s is judged by: %(names)s",
                            material=(row.name_en if locale == "en" else row.name_ja)
                            if row
                            else material,
                            names="、".join(wrong),
                        )
                    )
    soil_class, cone = merged.get("soil_class_code"), merged.get("cone_index")
    if (
        kind == ListingKind.soil_offer
        and soil_class
        and cone is not None
        and check("cone_index")
        and "soil_class_code" not in errors
    ):
        shortfall = cone_index_shortfall(session, str(soil_class), float(cone))
        if shortfall:
            need, supported = shortfall
            chosen = session.get(SoilClass, soil_class)
            english = locale == "en"
            errors["cone_index"] = str(
                _l(
                    "%(cls)s needs a cone index of at least %(need)s kN/m² (MLIT soil-use standard); "
                    "%(qc)s kN/m² supports %(supported)s at best.",
                    cls=chosen.name_en if english else chosen.name_ja,
                    need=f"{need:,}",
                    qc=_fmt(float(cone)),
                    supported=(supported.name_en if english else supported.name_ja)
                    if supported
                    else "—",
                )
            )
    until = merged.get("partner_only_until")
    if (
        check("partner_only_until")
        and isinstance(until, dt.date)
        and isinstance(end, dt.date)
        and until > end
    ):
        errors["partner_only_until"] = str(_l("must not be after the end of the pickup window"))


def _related(name: str, touched) -> bool:
    pairs = {
        "window_end": {"window_start"},
        "grade_code": {"material_code"},
        "min_grade_code": {"material_code"},
        "partner_only_until": {"window_end"},
        "properties": {"material_code"},
        "property_limits": {"material_code"},
        "cone_index": {"soil_class_code"},
        "weekly_rate": {"quantity"},
    }
    return bool(pairs.get(name, set()) & set(touched))


def form_to_data(kind: ListingKind, form) -> dict[str, object]:
    """Turn HTML form fields (``properties.absorption``, ``property_limits.fines.max``,
    repeated multichoice keys) into the nested shape ``validate`` takes."""
    data: dict[str, object] = {}
    for f in fields_for(kind):
        if f.type == "multichoice":
            data[f.name] = form.getlist(f.name)
        elif f.type in {"prices", "properties"}:
            prefix = f.name + "."
            data[f.name] = {k[len(prefix) :]: v for k, v in form.items() if k.startswith(prefix)}
        elif f.type == "limits":
            prefix = f.name + "."
            nested: dict[str, dict[str, str]] = {}
            for key, value in form.items():
                if key.startswith(prefix):
                    prop, _, side = key[len(prefix) :].rpartition(".")
                    nested.setdefault(prop, {})[side] = value
            data[f.name] = nested
        elif f.type == "bool":
            data[f.name] = form.get(f.name, "")
        elif f.name in form:
            data[f.name] = form.get(f.name)
    return data
