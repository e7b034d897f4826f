"""Reference data (土質区分, uses, grade schemes, categories) and listings (prefectures are
in ``accounts.models``: an organisation has one).

Reference data lives in editable tables seeded by migrations; nothing here hard-codes
which soil class may be used where or how grades are ordered.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.accounts.models import Organisation, Prefecture  # prefectures: accounts
from market.db import Base, utcnow


class SoilClass(Base):
    """A 土質区分 sub-class such as 第2a種 or 泥土b."""

    __tablename__ = "soil_classes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    group: Mapped[str] = mapped_column(String(8))  # 1, 2, 3, 4, mud
    name_ja: Mapped[str] = mapped_column(String(20))
    name_en: Mapped[str] = mapped_column(String(40))
    min_cone_index: Mapped[int | None] = mapped_column(Integer)  # kN/m²
    improved: Mapped[bool] = mapped_column(Boolean, default=False)
    rank: Mapped[int] = mapped_column(Integer)  # 0 = best
    source: Mapped[str | None] = mapped_column(String(200))


class SoilUse(Base):
    __tablename__ = "soil_uses"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(80))


class SoilClassUse(Base):
    """Which class group may be used for which use (省令 別表; ◎/○/△/× where finer)."""

    __tablename__ = "soil_class_uses"

    group: Mapped[str] = mapped_column(String(8), primary_key=True)
    use_code: Mapped[str] = mapped_column(ForeignKey("soil_uses.code"), primary_key=True)
    suitability: Mapped[str] = mapped_column(String(2), default="◎")
    source: Mapped[str | None] = mapped_column(String(200))


class Material(Base):
    """A recycled material with its own grade scheme (e.g. road base, scrap steel, rPET)."""

    __tablename__ = "materials"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(80))
    unit: Mapped[str] = mapped_column(String(8), default="t")
    virgin_co2_kg_per_t: Mapped[float | None] = mapped_column(Float)
    recycled_co2_kg_per_t: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(200))

    grades: Mapped[list[Grade]] = relationship(order_by="Grade.rank")


class Grade(Base):
    __tablename__ = "grades"

    material_code: Mapped[str] = mapped_column(ForeignKey("materials.code"), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(80))
    rank: Mapped[int] = mapped_column(Integer)  # 0 = best
    # Property limits the grade implies, e.g. {"absorption": {"max": 3.0}}.
    limits: Mapped[dict] = mapped_column(JSON, default=dict)


class GradeProperty(Base):
    """A measurable property of a graded lot (absorption %, fines %, density g/cm³ …)."""

    __tablename__ = "grade_properties"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(200))


class MaterialProperty(Base):
    """A property a lot of a material is judged by (rPET: IV, moisture …; scrap: 付着物 …),
    in the order the listing form asks for them."""

    __tablename__ = "material_properties"

    material_code: Mapped[str] = mapped_column(ForeignKey("materials.code"), primary_key=True)
    property_code: Mapped[str] = mapped_column(
        ForeignKey("grade_properties.code"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)


class ReuseCategory(Base):
    """Bulky-waste (粗大ごみ) reuse category with a typical weight for impact figures."""

    __tablename__ = "reuse_categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    typical_weight_kg: Mapped[float] = mapped_column(Float)
    co2_kg_per_kg: Mapped[float | None] = mapped_column(Float)  # [U] category factor
    source: Mapped[str | None] = mapped_column(String(200))


class MaterialCategory(Base):
    """Unused construction materials (建設資材) by category."""

    __tablename__ = "material_categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(8))


class ListingKind(enum.StrEnum):
    soil_offer = "soil_offer"  # 発生土 搬出
    soil_want = "soil_want"  # 発生土 搬入
    material_offer = "material_offer"
    material_want = "material_want"
    reuse_item = "reuse_item"
    reuse_want = "reuse_want"
    recycled_offer = "recycled_offer"
    recycled_want = "recycled_want"
    stockyard = "stockyard"


class ListingStatus(enum.StrEnum):
    draft = "draft"
    open = "open"
    reserved = "reserved"
    closed = "closed"
    expired = "expired"  # its period ended while open; the owner extends it to publish again


# What the database itself refuses, whatever code path writes a listing (the quantity
# ledger, ``market.catalog.ledger``, is the only writer meant to move these columns):
# nothing negative, open + committed + delivered = quantity (within the Numeric's 0.001,
# since SQLite keeps decimals as floats), and a published listing is "open" exactly while
# something is open and "reserved" exactly while nothing is.
LISTING_QUANTITY_CHECKS = {
    "open_not_negative": "open_quantity >= 0",
    "committed_not_negative": "committed_quantity >= 0",
    "delivered_not_negative": "delivered_quantity >= 0",
    "quantity_adds_up": (
        "abs(quantity - open_quantity - committed_quantity - delivered_quantity) < 0.0005"
    ),
    "status_follows_open": (
        "(status <> 'open' OR open_quantity > 0) AND (status <> 'reserved' OR open_quantity <= 0)"
    ),
}


class Listing(Base):
    """One offer, want or stockyard. Kind-specific columns are null for other kinds;
    ``market.catalog.kinds`` says which apply and validates them."""

    __tablename__ = "listings"
    # Quantity checks; and an organisation's own reference is unique, so that re-importing
    # a file updates the rows it names instead of adding them again.
    __table_args__ = (
        *(CheckConstraint(text, name=name) for name, text in LISTING_QUANTITY_CHECKS.items()),
        UniqueConstraint("organisation_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # The organisation's own key for the row (a site number in its spreadsheet), if any.
    external_id: Mapped[str | None] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[ListingKind] = mapped_column(
        Enum(ListingKind, native_enum=False, length=24), index=True
    )
    status: Mapped[ListingStatus] = mapped_column(
        Enum(ListingStatus, native_enum=False, length=16), default=ListingStatus.draft, index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    private_note: Mapped[str] = mapped_column(Text, default="")

    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    prefecture_code: Mapped[str] = mapped_column(ForeignKey("prefectures.code"), index=True)
    municipality_code: Mapped[str | None] = mapped_column(String(6))
    address: Mapped[str] = mapped_column(String(300), default="")

    window_start: Mapped[dt.date] = mapped_column(Date)
    window_end: Mapped[dt.date] = mapped_column(Date)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    # quantity = open + committed (reserved by accepted orders and agreed deals) + delivered;
    # moved only through ``market.catalog.ledger``, one ``LedgerEntry`` row per move.
    open_quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    committed_quantity: Mapped[Decimal] = mapped_column(
        Numeric(14, 3), default=Decimal(0), server_default="0"
    )
    delivered_quantity: Mapped[Decimal] = mapped_column(
        Numeric(14, 3), default=Decimal(0), server_default="0"
    )
    unit: Mapped[str] = mapped_column(String(8))
    # Most a site ships or receives in one week (planning over time: the instance's
    # max_per_period); None: no weekly limit.
    weekly_rate: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    price_per_unit: Mapped[int] = mapped_column(
        Integer, default=0
    )  # yen; negative = pays to dispose

    # soil (搬出 / 搬入) and stockyards
    soil_class_code: Mapped[str | None] = mapped_column(ForeignKey("soil_classes.code"))
    cone_index: Mapped[int | None] = mapped_column(Integer)
    contamination_status: Mapped[str | None] = mapped_column(String(16))
    max_haul_km: Mapped[float | None] = mapped_column(Float)
    soil_use_code: Mapped[str | None] = mapped_column(ForeignKey("soil_uses.code"))
    accepted_classes: Mapped[list | None] = mapped_column(JSON)
    min_cone_index: Mapped[int | None] = mapped_column(Integer)
    improved_allowed: Mapped[bool | None] = mapped_column(Boolean)
    max_particle_mm: Mapped[int | None] = mapped_column(Integer)
    contamination_check_required: Mapped[bool | None] = mapped_column(Boolean)
    # construction surplus materials
    material_category_code: Mapped[str | None] = mapped_column(
        ForeignKey("material_categories.code")
    )
    # municipal reuse goods
    reuse_category_code: Mapped[str | None] = mapped_column(ForeignKey("reuse_categories.code"))
    condition: Mapped[str | None] = mapped_column(String(8))
    pickup_point: Mapped[str | None] = mapped_column(String(300))
    partner_only_until: Mapped[dt.date | None] = mapped_column(Date)
    category_prices: Mapped[dict | None] = mapped_column(JSON)  # reuse want: {category: yen}
    service_radius_km: Mapped[float | None] = mapped_column(Float)
    daily_pickup_capacity: Mapped[int | None] = mapped_column(Integer)
    # recycled grades
    material_code: Mapped[str | None] = mapped_column(ForeignKey("materials.code"))
    grade_code: Mapped[str | None] = mapped_column(String(32))
    min_grade_code: Mapped[str | None] = mapped_column(String(32))
    properties: Mapped[dict | None] = mapped_column(JSON)  # measured {property: value}
    property_limits: Mapped[dict | None] = mapped_column(JSON)  # {property: {"max": x, "min": y}}
    blend_allowed: Mapped[bool | None] = mapped_column(Boolean)
    monthly: Mapped[bool | None] = mapped_column(Boolean)
    # stockyards
    capacity_m3: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    # yen per m³ for each week soil is held (the handling charge is price_per_unit)
    holding_price_per_week: Mapped[int | None] = mapped_column(Integer)

    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship()
    photos: Mapped[list[ListingPhoto]] = relationship(
        back_populates="listing", order_by="ListingPhoto.position", cascade="all, delete-orphan"
    )
    soil_class: Mapped[SoilClass | None] = relationship()
    prefecture: Mapped[Prefecture] = relationship()


class ListingPhoto(Base):
    __tablename__ = "listing_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)  # random, no user input
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    has_thumbnail: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="photos")


class LedgerAction(enum.StrEnum):
    publish = "publish"  # the listing's first quantity (or the backfill of an existing one)
    edit = "edit"  # the owner changed the quantity: open changes by the difference
    reserve = "reserve"  # open → committed (an accepted order, an agreed deal)
    release = "release"  # committed → open (a cancelled order, the rest of a short load)
    deliver = "deliver"  # committed → delivered (a load handed over)
    close = "close"  # the owner closed the listing: what was open is withdrawn (a record)


class LedgerEntry(Base):
    """One move of a listing's quantity between open, committed and delivered.

    The listing's three columns are the running totals of these rows' changes (kept in the
    same statement that writes the row, and guarded by the listing's CHECK constraints);
    an order's commitment on a listing is the sum of its rows there.
    """

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="SET NULL"))
    action: Mapped[LedgerAction] = mapped_column(Enum(LedgerAction, native_enum=False, length=16))
    open_change: Mapped[Decimal] = mapped_column(Numeric(14, 3), default=Decimal(0))
    committed_change: Mapped[Decimal] = mapped_column(Numeric(14, 3), default=Decimal(0))
    delivered_change: Mapped[Decimal] = mapped_column(Numeric(14, 3), default=Decimal(0))
    actor_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
