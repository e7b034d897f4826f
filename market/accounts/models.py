"""Prefectures, organisations, their members, invitations and API tokens."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    String,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base, utcnow


class Prefecture(Base):
    """A 都道府県 (reference data, seeded by migrations)."""

    __tablename__ = "prefectures"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)  # JIS X 0401
    name_ja: Mapped[str] = mapped_column(String(10))
    name_en: Mapped[str] = mapped_column(String(20))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class OrgKind(enum.StrEnum):
    contractor = "contractor"  # 建設業者
    municipality = "municipality"  # 自治体
    reuse_operator = "reuse_operator"  # リユース事業者
    recycler = "recycler"  # 再生資源事業者
    stockyard_operator = "stockyard_operator"  # ストックヤード運営事業者
    plant_operator = "plant_operator"  # 改良プラント運営事業者


class Role(enum.StrEnum):
    admin = "admin"
    member = "member"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrgKind] = mapped_column(Enum(OrgKind, native_enum=False, length=32))
    prefecture_code: Mapped[str | None] = mapped_column(ForeignKey("prefectures.code"))
    municipality_code: Mapped[str | None] = mapped_column(String(6))
    address: Mapped[str | None] = mapped_column(String(300))
    # ストックヤード運営事業者登録番号: required for registered stockyard operators.
    stockyard_registration_no: Mapped[str | None] = mapped_column(String(40))
    # 適格請求書発行事業者登録番号 (T + 13 digits), used on invoices.
    invoice_registration_no: Mapped[str | None] = mapped_column(String(14))
    # Stripe Express account for card payouts (Connect): card payments to this organisation
    # go to it once Stripe reports it can take charges (account.updated).
    stripe_account_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    stripe_charges_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    members: Mapped[list[User]] = relationship(back_populates="organisation")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(100))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16), default=Role.member
    )
    is_site_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(5))
    # Mail for each move of an order of the organisation (in-app notifications always).
    notify_order_mail: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when the user opened the link mailed to the address (or accepted an invitation
    # sent to it): only then does Meguri send it notifications by mail.
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Bumped on password change so that old sessions stop working.
    session_generation: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    organisation: Mapped[Organisation | None] = relationship(back_populates="members")

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def mailable(self) -> bool:
        """Active, and the address proven to be the user's."""
        return self.active and self.email_verified_at is not None

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_generation}"

    @property
    def is_org_admin(self) -> bool:
        return self.role == Role.admin


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    organisation: Mapped[Organisation] = relationship()


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


class Partnership(Base):
    """A municipality's partner reuse operator: partner-only items may go to it first."""

    __tablename__ = "partnerships"
    __table_args__ = (UniqueConstraint("municipality_id", "operator_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    municipality: Mapped[Organisation] = relationship(foreign_keys=[municipality_id])
    operator: Mapped[Organisation] = relationship(foreign_keys=[operator_id])


class LoginSession(Base):
    """One signed-in browser. The cookie holds a random key; only its hash is kept here, and
    signing out deletes the row, so a copy of the cookie taken before is worth nothing."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
