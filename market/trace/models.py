"""Trace records: transfer tickets, 確認結果票, 受領書 and amendments.

Every foreign key to orders, listings and organisations is ``ondelete="RESTRICT"``: the
law keeps these records five years from completion, so closing or deleting what they
refer to must never take them along (see ``market.trace.guard``).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
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

from market.accounts.models import Organisation, User
from market.catalog.models import Listing
from market.db import Base, utcnow
from market.orders.models import Order

RESTRICT = "RESTRICT"


class TicketStatus(enum.StrEnum):
    issued = "issued"  # the truck left; nobody has confirmed arrival yet
    confirmed = "confirmed"  # the receiving site confirmed: locked from now on
    void = "void"  # 無効: voided by its issuer before arrival; kept, locked, counts nowhere


class PermitBasis(enum.StrEnum):
    moritsuchi_permit = "moritsuchi_permit"  # 盛土規制法の許可
    ordinance_permit = "ordinance_permit"  # 条例の許可
    no_permit_needed = "no_permit_needed"  # e.g. another public works site; reason required


class ContaminationStatus(enum.StrEnum):
    not_required = "not_required"  # 土壌汚染対策法の手続き対象外
    investigated_clean = "investigated_clean"  # 調査済・基準適合
    notified = "notified"  # 法第4条届出済（調査命令なし）
    designated_area = "designated_area"  # 要措置区域等: 手続き済


class TransferTicket(Base):
    """One truckload (搬出伝票 / e-ticket). ``transit`` loads go into a stockyard that is not
    the order's receiver; the soil then leaves the yard on onward tickets."""

    __tablename__ = "trace_tickets"
    __table_args__ = (UniqueConstraint("order_id", "seq", name="uq_trace_tickets_order_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete=RESTRICT), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    onward: Mapped[bool] = mapped_column(Boolean, default=False)  # leaves a stockyard
    transit: Mapped[bool] = mapped_column(
        Boolean, default=False
    )  # goes into a stockyard in transit

    origin_listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listings.id", ondelete=RESTRICT)
    )
    origin_name: Mapped[str] = mapped_column(String(200))
    origin_address: Mapped[str] = mapped_column(String(300))
    origin_lat: Mapped[float | None] = mapped_column(Float)
    origin_lon: Mapped[float | None] = mapped_column(Float)

    destination_listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listings.id", ondelete=RESTRICT)
    )
    destination_name: Mapped[str] = mapped_column(String(200))
    destination_address: Mapped[str] = mapped_column(String(300))
    destination_lat: Mapped[float | None] = mapped_column(Float)
    destination_lon: Mapped[float | None] = mapped_column(Float)
    destination_kind: Mapped[str] = mapped_column(String(16))  # site | stockyard | declared
    receiving_org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete=RESTRICT), index=True
    )
    # The planned destination at issue time and whether this load goes there.
    planned_name: Mapped[str] = mapped_column(String(200), default="")
    planned_address: Mapped[str] = mapped_column(String(300), default="")
    matches_plan: Mapped[bool | None] = mapped_column(Boolean)

    soil_class_code: Mapped[str | None] = mapped_column(String(8))
    vehicle_reg_no: Mapped[str] = mapped_column(String(40))
    driver_name: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit: Mapped[str] = mapped_column(String(8))
    time_out: Mapped[dt.datetime] = mapped_column(DateTime)  # UTC
    token: Mapped[str] = mapped_column(String(64), unique=True)  # random; the QR code's URL
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete=RESTRICT))
    issued_by_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete=RESTRICT))

    status: Mapped[TicketStatus] = mapped_column(
        Enum(TicketStatus, native_enum=False, length=16), default=TicketStatus.issued, index=True
    )
    time_in: Mapped[dt.datetime | None] = mapped_column(DateTime)  # UTC
    quantity_received: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    discrepancy_note: Mapped[str] = mapped_column(Text, default="")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete=RESTRICT))
    confirmed_by_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete=RESTRICT)
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_deliveries.id", ondelete=RESTRICT)
    )
    # Who voided the ticket, when and why (status ``void``); the row and its number stay.
    voided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # UTC
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete=RESTRICT))
    voided_by_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete=RESTRICT)
    )
    void_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship()
    origin_listing: Mapped[Listing | None] = relationship(foreign_keys=[origin_listing_id])
    destination_listing: Mapped[Listing | None] = relationship(
        foreign_keys=[destination_listing_id]
    )
    receiving_org: Mapped[Organisation] = relationship(foreign_keys=[receiving_org_id])
    issued_by_org: Mapped[Organisation] = relationship(foreign_keys=[issued_by_org_id])
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])
    voided_by: Mapped[User | None] = relationship(foreign_keys=[voided_by_id])
    voided_by_org: Mapped[Organisation | None] = relationship(foreign_keys=[voided_by_org_id])

    @property
    def code(self) -> str:
        return f"T{self.order_id:05d}-{self.seq:03d}"

    @property
    def confirmed(self) -> bool:
        return self.status == TicketStatus.confirmed

    @property
    def void(self) -> bool:
        return self.status == TicketStatus.void

    @property
    def locked(self) -> bool:
        """Confirmed or void: either way the ticket is final and never changes again."""
        return self.status != TicketStatus.issued


class ConfirmationSheet(Base):
    """確認結果票: the destination is lawful and the soil-contamination procedure is known,
    recorded by the sending side before the first load of a ≥ 500 m³ soil order."""

    __tablename__ = "trace_confirmation_sheets"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete=RESTRICT), unique=True)
    destination_listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listings.id", ondelete=RESTRICT)
    )
    destination_name: Mapped[str] = mapped_column(String(200))
    destination_address: Mapped[str] = mapped_column(String(300))
    permit_basis: Mapped[PermitBasis] = mapped_column(
        Enum(PermitBasis, native_enum=False, length=24)
    )
    permit_authority: Mapped[str] = mapped_column(String(100), default="")
    permit_no: Mapped[str] = mapped_column(String(60), default="")
    contamination_status: Mapped[ContaminationStatus] = mapped_column(
        Enum(ContaminationStatus, native_enum=False, length=24)
    )
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete=RESTRICT))
    recorded_by_org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete=RESTRICT)
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship()
    recorded_by: Mapped[User | None] = relationship()

    locked = True


class Receipt(Base):
    """受領書 issued by the receiving site from its confirmed tickets. ``content`` is the
    document as issued (fields the rules name, tickets, plan check); it never changes."""

    __tablename__ = "trace_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete=RESTRICT), index=True)
    receiving_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete=RESTRICT))
    destination_manager: Mapped[str] = mapped_column(String(100))
    volume: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit: Mapped[str] = mapped_column(String(8))
    completed_on: Mapped[dt.date] = mapped_column(Date)
    matches_plan: Mapped[bool | None] = mapped_column(Boolean)
    content: Mapped[dict] = mapped_column(JSON)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete=RESTRICT))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship()
    receiving_org: Mapped[Organisation] = relationship()

    locked = True


class ReceiptTicket(Base):
    """Which tickets a receipt covers; the unique ticket id puts each load on one receipt."""

    __tablename__ = "trace_receipt_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(
        ForeignKey("trace_receipts.id", ondelete=RESTRICT), index=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("trace_tickets.id", ondelete=RESTRICT), unique=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    locked = True


class Amendment(Base):
    """A correction to a trace record. The record keeps its original values; its current
    view is the original with the amendments applied in order."""

    __tablename__ = "trace_amendments"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(16))  # ticket | sheet | receipt
    record_id: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete=RESTRICT), index=True)
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    amended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete=RESTRICT))
    amended_by_org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete=RESTRICT)
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    amended_by: Mapped[User | None] = relationship()
    amended_by_org: Mapped[Organisation] = relationship()

    locked = True


TRACE_RECORDS = (TransferTicket, ConfirmationSheet, Receipt, ReceiptTicket, Amendment)
