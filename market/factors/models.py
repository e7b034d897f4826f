"""Editable factor tables behind the impact figures, and the haul recorded for an order.

Every figure carries its source with the REFERENCE.md marker ([V] official, [3p] third
party, [U] unverified); a site administrator edits them on the factors page.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, utcnow


class TruckType(Base):
    """A truck class for the 改良トンキロ法 (its maximum payload enters the formula)."""

    __tablename__ = "truck_types"

    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    max_payload_kg: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))


class BulkDensity(Base):
    """t/m³ to turn volumes (m³) into tonnes for transport and CO2."""

    __tablename__ = "bulk_densities"

    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    t_per_m3: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200))


class ImpactFactor(Base):
    """One figure of the impact model, per family (transport, soil, reuse, recycled, material):
    diesel CO2 per litre, formula coefficients, disposal fees, virgin prices, CO2 factors."""

    __tablename__ = "impact_factors"

    family: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class OrderHaul(Base):
    """The haul a party entered for an order (road km and truck), overriding the estimate."""

    __tablename__ = "order_hauls"

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    road_km: Mapped[float] = mapped_column(Float)
    truck_type_code: Mapped[str] = mapped_column(ForeignKey("truck_types.code"))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_by_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
