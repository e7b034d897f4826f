"""Matching runs, their proposals, declined pairs and the editable matching parameters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.accounts.models import Organisation
from market.catalog.models import Listing, Prefecture
from market.db import Base, utcnow


class MatchingParameter(Base):
    """Cost, value and CO2 figures the instance builder uses, per material family.

    Editable data with its source, never constants in code (e.g. the Greater Tokyo
    receiving fee for surplus soil, truck cost per m³-km)."""

    __tablename__ = "matching_parameters"

    family: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(200))


class MatchRun(Base):
    __tablename__ = "match_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    family: Mapped[str] = mapped_column(String(16))
    material_code: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[list] = mapped_column(JSON)  # prefecture codes
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued running done failed
    job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual | schedule
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    instance: Mapped[dict | None] = mapped_column(JSON)
    result: Mapped[dict | None] = mapped_column(JSON)
    solver_status: Mapped[str | None] = mapped_column(String(16))
    net_benefit: Mapped[float | None] = mapped_column(Float)
    upper_bound: Mapped[float | None] = mapped_column(Float)
    greedy_net_benefit: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(2000))
    # Planning over time: weeks planned (None: a version 1 run, windows only) and the
    # carbon price (None: the family's matching parameter).
    horizon_weeks: Mapped[int | None] = mapped_column(Integer)
    carbon_price_per_kg: Mapped[float | None] = mapped_column(Float)

    proposals: Mapped[list[Proposal]] = relationship(back_populates="run", order_by="Proposal.id")


class Deal(Base):
    """The optimiser's group of flows, decided all or nothing: a plain pair, a blend (every
    lot feeding one blended demand) or a chain through a stockyard (supplier, yard operator,
    receiver). It becomes orders only when every party has accepted, all in one
    transaction; any decline ends it for all."""

    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("match_runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # pair blend chain
    state: Mapped[str] = mapped_column(
        String(12), default="proposed"
    )  # proposed agreed declined superseded expired
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    run: Mapped[MatchRun] = relationship()
    proposals: Mapped[list[Proposal]] = relationship(back_populates="deal", order_by="Proposal.id")
    parties: Mapped[list[DealParty]] = relationship(
        back_populates="deal", order_by="DealParty.id", cascade="all, delete-orphan"
    )


class DealParty(Base):
    """One organisation's place in a deal (its roles: supplier, receiver, yard) and its
    decision, which covers every part it plays."""

    __tablename__ = "deal_parties"
    __table_args__ = (UniqueConstraint("deal_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    roles: Mapped[str] = mapped_column(String(40))  # e.g. "supplier,yard"
    decision: Mapped[str] = mapped_column(
        String(12), default="pending"
    )  # pending accepted declined
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    deal: Mapped[Deal] = relationship(back_populates="parties")


class Proposal(Base):
    """One flow of a run's result: a part of its deal (``deal``), offered to every party of
    the deal to accept or decline."""

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("match_runs.id", ondelete="CASCADE"), index=True)
    supply_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    via_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    road_km: Mapped[float] = mapped_column(Float)
    transport_cost: Mapped[int] = mapped_column(Integer)
    handling_cost: Mapped[int] = mapped_column(Integer, default=0)
    co2_kg: Mapped[float] = mapped_column(Float)
    net_benefit: Mapped[int] = mapped_column(Integer)
    # What each side gains against its status quo (yen), for its own breakdown.
    supply_saving: Mapped[int] = mapped_column(Integer)
    demand_saving: Mapped[int] = mapped_column(Integer)
    supply_decision: Mapped[str] = mapped_column(
        String(12), default="pending"
    )  # pending accepted declined
    demand_decision: Mapped[str] = mapped_column(String(12), default="pending")
    state: Mapped[str] = mapped_column(
        String(12), default="proposed"
    )  # proposed agreed declined superseded expired
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Kept true while open: when a listing changes or other orders take its quantity, the
    # proposal is reduced (``offered_quantity`` keeps what the run offered; both parties
    # decide again) or expired, and ``reason`` says why in the parties' words.
    offered_quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL"), index=True
    )
    # Planning over time (a run with a horizon): the treatment line it passes through, the
    # Monday of the week it ships and of the week it is delivered (later when it waits in
    # the yard), the class it arrives as, and what treatment and holding cost.
    conversion_id: Mapped[int | None] = mapped_column(
        ForeignKey("plant_conversions.id", ondelete="SET NULL")
    )
    ship_week: Mapped[dt.date | None] = mapped_column(Date)
    deliver_week: Mapped[dt.date | None] = mapped_column(Date)
    flow_class: Mapped[str | None] = mapped_column(String(8))
    treatment_cost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    holding_cost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    run: Mapped[MatchRun] = relationship(back_populates="proposals")
    deal: Mapped[Deal | None] = relationship(back_populates="proposals")
    supply: Mapped[Listing] = relationship(foreign_keys=[supply_id])
    demand: Mapped[Listing] = relationship(foreign_keys=[demand_id])
    via: Mapped[Listing | None] = relationship(foreign_keys=[via_id])
    conversion: Mapped[PlantConversion | None] = relationship()


class DeclinedPair(Base):
    """A supply–demand pair one side declined; later runs leave it out."""

    __tablename__ = "declined_pairs"
    __table_args__ = (UniqueConstraint("supply_id", "demand_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    supply_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    declined_by_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Plant(Base):
    """An improvement plant (改良プラント) of a plant operator: where it stands and when it
    takes soil. What it does is in its conversion lines."""

    __tablename__ = "plants"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    prefecture_code: Mapped[str] = mapped_column(ForeignKey("prefectures.code"), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    window_start: Mapped[dt.date | None] = mapped_column(Date)
    window_end: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship()
    prefecture: Mapped[Prefecture] = relationship()
    conversions: Mapped[list[PlantConversion]] = relationship(
        back_populates="plant", order_by="PlantConversion.id", cascade="all, delete-orphan"
    )


class PlantConversion(Base):
    """One treatment line of a plant: soil of ``from_class`` comes out as ``to_class``
    (e.g. 第4a種 → 第2b種 with cement), at a price per m³, up to a capacity per week.
    Each line is one plant of the version 2 instance (its own price and capacity)."""

    __tablename__ = "plant_conversions"
    __table_args__ = (
        UniqueConstraint("plant_id", "from_class"),
        CheckConstraint("weekly_capacity > 0", name="weekly_capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plant_id: Mapped[int] = mapped_column(ForeignKey("plants.id", ondelete="CASCADE"), index=True)
    from_class: Mapped[str] = mapped_column(ForeignKey("soil_classes.code"))
    to_class: Mapped[str] = mapped_column(ForeignKey("soil_classes.code"))
    price_per_m3: Mapped[int] = mapped_column(Integer)  # yen
    weekly_capacity: Mapped[Decimal] = mapped_column(Numeric(14, 3))  # m³ per week

    plant: Mapped[Plant] = relationship(back_populates="conversions")


class PlantLoad(Base):
    """What agreed deals have booked on a treatment line in one week. Moved only by the
    guarded UPDATEs of ``allocation.plants`` (never past the line's weekly capacity)."""

    __tablename__ = "plant_loads"
    __table_args__ = (
        UniqueConstraint("conversion_id", "week"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversion_id: Mapped[int] = mapped_column(
        ForeignKey("plant_conversions.id", ondelete="CASCADE"), index=True
    )
    week: Mapped[dt.date] = mapped_column(Date)  # the Monday
    reserved: Mapped[Decimal] = mapped_column(Numeric(14, 3), default=Decimal(0))
