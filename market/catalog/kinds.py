"""What each listing kind asks for: a list of ``Field``s, the common ones (where, when, how
much, price) plus the kind's own. ``validation.validate`` checks input against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from market.catalog.models import (
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


def property_choices(session: Session, locale: str) -> list[tuple[str, str]]:
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
                keys=property_choices,
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
                keys=property_choices,
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
