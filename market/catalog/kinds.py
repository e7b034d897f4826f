"""What each listing kind asks for, and the one validator that forms and the API share.

A listing kind is a list of ``Field``s: the common ones (where, when, how much, price)
plus the kind's own. ``validate`` turns raw input — an HTML form or a JSON body — into
clean column values or a dict of field → message, never a half-applied change.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from market.catalog.models import (
    Grade,
    GradeProperty,
    ListingKind,
    Material,
    MaterialCategory,
    MaterialProperty,
    Prefecture,
    ReuseCategory,
    SoilClass,
    SoilUse,
)
from market.errors import Invalid
from market.text import has_control_characters

Choices = Callable[[Session, str], list[tuple[str, str]]]


_CACHE = "kinds.choices"


def _ref(model, order=None) -> Choices:
    def load(session: Session, locale: str) -> list[tuple[str, str]]:
        cache = session.info.get(_CACHE)
        key = (model.__tablename__, locale)
        if cache is not None and key in cache:
            return cache[key]
        rows = session.scalars(select(model).order_by(order if order is not None else model.code))
        choices = [(r.code, r.name_en if locale == "en" else r.name_ja) for r in rows]
        if cache is not None:
            cache[key] = choices
        return choices

    return load


@contextmanager
def cached_choices(session: Session) -> Iterator[None]:
    """Read each reference table once while validating many rows (a file import)."""
    session.info[_CACHE] = {}
    try:
        yield
    finally:
        session.info.pop(_CACHE, None)


def _fixed(*pairs: tuple[str, object]) -> Choices:
    return lambda _session, _locale: [(code, str(label)) for code, label in pairs]


CONTAMINATION = _fixed(
    ("not_required", _l("No check required (no history of contamination)")),
    ("checked_clean", _l("Checked: within standards")),
    ("pending", _l("Check in progress")),
    ("designated_area", _l("From a designated contaminated-land area")),
)
CONDITION = _fixed(
    ("A", _l("A: like new")), ("B", _l("B: used, good")), ("C", _l("C: needs repair"))
)
MATERIAL_CONDITION = _fixed(
    ("unused", _l("Unused")), ("opened", _l("Opened, unused")), ("offcut", _l("Offcuts"))
)
STATUS_ON_SAVE = _fixed(
    ("draft", _l("Draft (only your organisation sees it)")), ("open", _l("Open (published)"))
)


@dataclass(frozen=True)
class Field:
    name: str
    label: object
    type: str  # text textarea int decimal float date bool choice multichoice lat lon
    required: bool = False
    choices: Choices | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    help: object = ""
    # For dict-valued fields: the reference table whose codes are the keys.
    keys: Choices | None = None


@dataclass(frozen=True)
class KindSpec:
    kind: ListingKind
    label: object
    family: str  # soil, material, reuse, recycled, stockyard
    side: str  # offer, want, yard
    unit: str | None  # fixed unit, or None when it comes from a reference row
    fields: list[Field] = field(default_factory=list)
    org_kinds: tuple[str, ...] = ()  # organisation kinds that may create it; empty = any


COMMON = [
    Field("title", _l("Title"), "text", required=True, max_length=200),
    Field("description", _l("Description"), "textarea", max_length=5000),
    Field(
        "lat",
        _l("Latitude"),
        "lat",
        required=True,
        minimum=20.0,
        maximum=46.0,
        help=_l("Set by the map pin"),
    ),
    Field("lon", _l("Longitude"), "lon", required=True, minimum=122.0, maximum=154.0),
    Field("prefecture_code", _l("Prefecture"), "choice", required=True, choices=_ref(Prefecture)),
    Field(
        "municipality_code",
        _l("Municipality code"),
        "text",
        max_length=6,
        help=_l("6-digit local government code, e.g. 131130"),
    ),
    Field("address", _l("Address"), "text", max_length=300),
    Field("window_start", _l("Available from"), "date", required=True),
    Field("window_end", _l("Available until"), "date", required=True),
    Field("quantity", _l("Quantity"), "decimal", required=True, minimum=0.001, maximum=1e9),
    Field(
        "price_per_unit",
        _l("Price per unit (yen)"),
        "int",
        required=True,
        minimum=-10_000_000,
        maximum=100_000_000,
        help=_l("Negative when you pay the receiver, as is common for surplus soil"),
    ),
    Field("status", _l("Status"), "choice", required=True, choices=STATUS_ON_SAVE),
    Field("private_note", _l("Private note (never shown to others)"), "textarea", max_length=2000),
]

SOIL_CLASSES = _ref(SoilClass, SoilClass.rank)


def _properties(session: Session, locale: str) -> list[tuple[str, str]]:
    """Measurable properties named with their unit: 吸水率 (%)."""
    rows = session.scalars(select(GradeProperty).order_by(GradeProperty.code))
    return [
        (
            r.code,
            f"{r.name_en if locale == 'en' else r.name_ja} ({r.unit})"
            if r.unit
            else (r.name_en if locale == "en" else r.name_ja),
        )
        for r in rows
    ]


def material_properties(session: Session, material_code: str) -> list[str]:
    """The properties a lot of ``material_code`` is judged by, in the form's order."""
    return list(
        session.scalars(
            select(MaterialProperty.property_code)
            .where(MaterialProperty.material_code == material_code)
            .order_by(MaterialProperty.position)
        )
    )


def cone_index_shortfall(session: Session, class_code: str, cone_index: float):
    """(the class's required minimum qc, the best class ``cone_index`` supports) when the
    measured cone index is below what the 土質区分 requires, else None.

    MLIT's 発生土利用基準 defines the classes by cone index: 第2種 ≥ 800 kN/m², 第3種 ≥ 400,
    第4種 ≥ 200, 泥土 below. A class without a figure of its own (第1種) is better than
    the ones below it, so it needs at least their highest. A lower class than the test
    supports is allowed: rain or groundwater may downgrade soil (REFERENCE.md §1.1)."""
    classes = session.scalars(select(SoilClass).order_by(SoilClass.rank)).all()
    by_code = {c.code: c for c in classes}
    chosen = by_code.get(class_code)
    if chosen is None:
        return None

    def required(c: SoilClass) -> int | None:
        figures = [d.min_cone_index for d in classes if d.rank >= c.rank and d.min_cone_index]
        return max(figures) if figures else None

    need = required(chosen)
    if need is None or cone_index >= need:
        return None
    supported = next(
        (c for c in classes if not c.improved and (required(c) or 0) <= cone_index), None
    )
    return need, supported


HAUL = Field("max_haul_km", _l("Maximum haul distance (km)"), "float", minimum=1, maximum=500)
# Planning over time: most the site ships or receives in one week (its trucks, its gate).
WEEKLY_RATE = Field(
    "weekly_rate",
    _l("Weekly rate (m³ per week)"),
    "decimal",
    minimum=0.001,
    maximum=1e9,
    help=_l("Most the site can ship or receive in one week; empty: no weekly limit"),
)

SPECS: dict[ListingKind, KindSpec] = {
    ListingKind.soil_offer: KindSpec(
        ListingKind.soil_offer,
        _l("Surplus soil offered"),
        "soil",
        "offer",
        "m3",
        [
            Field(
                "soil_class_code",
                _l("Soil class"),
                "choice",
                required=True,
                choices=SOIL_CLASSES,
            ),
            Field("cone_index", _l("Cone index qc (kN/m²)"), "int", minimum=0, maximum=100_000),
            Field(
                "contamination_status",
                _l("Contamination check"),
                "choice",
                required=True,
                choices=CONTAMINATION,
            ),
            HAUL,
            WEEKLY_RATE,
        ],
    ),
    ListingKind.soil_want: KindSpec(
        ListingKind.soil_want,
        _l("Soil wanted"),
        "soil",
        "want",
        "m3",
        [
            Field("soil_use_code", _l("Use"), "choice", required=True, choices=_ref(SoilUse)),
            Field(
                "accepted_classes",
                _l("Accepted soil classes"),
                "multichoice",
                required=True,
                choices=SOIL_CLASSES,
            ),
            Field(
                "min_cone_index",
                _l("Minimum cone index qc (kN/m²)"),
                "int",
                minimum=0,
                maximum=100_000,
            ),
            Field("improved_allowed", _l("Improved soil accepted"), "bool"),
            Field(
                "max_particle_mm", _l("Maximum particle size (mm)"), "int", minimum=1, maximum=2000
            ),
            Field("contamination_check_required", _l("Contamination check required"), "bool"),
            HAUL,
            WEEKLY_RATE,
        ],
    ),
    ListingKind.material_offer: KindSpec(
        ListingKind.material_offer,
        _l("Construction materials offered"),
        "material",
        "offer",
        None,
        [
            Field(
                "material_category_code",
                _l("Material category"),
                "choice",
                required=True,
                choices=_ref(MaterialCategory),
            ),
            Field(
                "condition", _l("Condition"), "choice", required=True, choices=MATERIAL_CONDITION
            ),
            HAUL,
        ],
    ),
    ListingKind.material_want: KindSpec(
        ListingKind.material_want,
        _l("Construction materials wanted"),
        "material",
        "want",
        None,
        [
            Field(
                "material_category_code",
                _l("Material category"),
                "choice",
                required=True,
                choices=_ref(MaterialCategory),
            ),
            HAUL,
        ],
    ),
    ListingKind.reuse_item: KindSpec(
        ListingKind.reuse_item,
        _l("Municipal reuse item (bulky waste)"),
        "reuse",
        "offer",
        "item",
        [
            Field(
                "reuse_category_code",
                _l("Category"),
                "choice",
                required=True,
                choices=_ref(ReuseCategory),
            ),
            Field("condition", _l("Condition"), "choice", required=True, choices=CONDITION),
            Field("pickup_point", _l("Pickup point"), "text", required=True, max_length=300),
            Field(
                "partner_only_until",
                _l("Partners only until"),
                "date",
                help=_l("Until this date only partner reuse operators may take the item"),
            ),
        ],
        org_kinds=("municipality",),
    ),
    ListingKind.reuse_want: KindSpec(
        ListingKind.reuse_want,
        _l("Reuse operator's standing want"),
        "reuse",
        "want",
        "item",
        [
            Field(
                "category_prices",
                _l("Price per category (yen)"),
                "prices",
                required=True,
                keys=_ref(ReuseCategory),
                minimum=0,
                maximum=10_000_000,
            ),
            Field(
                "service_radius_km",
                _l("Service area radius (km)"),
                "float",
                required=True,
                minimum=1,
                maximum=300,
            ),
            Field(
                "daily_pickup_capacity",
                _l("Pickups per day"),
                "int",
                required=True,
                minimum=1,
                maximum=10_000,
            ),
        ],
        org_kinds=("reuse_operator",),
    ),
    ListingKind.recycled_offer: KindSpec(
        ListingKind.recycled_offer,
        _l("Recycled material lot offered"),
        "recycled",
        "offer",
        "t",
        [
            Field("material_code", _l("Material"), "choice", required=True, choices=_ref(Material)),
            Field("grade_code", _l("Grade"), "grade", required=True),
            Field(
                "properties",
                _l("Measured properties"),
                "properties",
                keys=_properties,
                minimum=0,
                maximum=1e6,
            ),
            Field("monthly", _l("Monthly volume (recurring)"), "bool"),
            HAUL,
        ],
        org_kinds=("recycler",),
    ),
    ListingKind.recycled_want: KindSpec(
        ListingKind.recycled_want,
        _l("Recycled material wanted"),
        "recycled",
        "want",
        "t",
        [
            Field("material_code", _l("Material"), "choice", required=True, choices=_ref(Material)),
            Field("min_grade_code", _l("Minimum grade"), "grade"),
            Field(
                "property_limits",
                _l("Property limits"),
                "limits",
                keys=_properties,
                minimum=0,
                maximum=1e6,
            ),
            Field(
                "blend_allowed",
                _l("Blending of lots acceptable"),
                "bool",
                help=_l("Limits then apply to the quantity-weighted average"),
            ),
            HAUL,
        ],
    ),
    ListingKind.stockyard: KindSpec(
        ListingKind.stockyard,
        _l("Stockyard"),
        "stockyard",
        "yard",
        "m3",
        [
            Field(
                "capacity_m3", _l("Capacity (m³)"), "decimal", required=True, minimum=1, maximum=1e9
            ),
            Field(
                "accepted_classes",
                _l("Accepted soil classes"),
                "multichoice",
                required=True,
                choices=SOIL_CLASSES,
            ),
            Field(
                "holding_price_per_week",
                _l("Holding price (yen per m³ per week)"),
                "int",
                minimum=0,
                maximum=1_000_000,
                help=_l(
                    "Charged for each week soil waits in the yard; handling is the price per unit"
                ),
            ),
        ],
        org_kinds=("stockyard_operator",),
    ),
}


def fields_for(kind: ListingKind) -> list[Field]:
    return COMMON + SPECS[kind].fields


def kind_from(value: str | None) -> ListingKind | None:
    try:
        return ListingKind(value)
    except ValueError:
        return None


# --- validation -------------------------------------------------------------------


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
                names = dict(_properties(session, locale))
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
