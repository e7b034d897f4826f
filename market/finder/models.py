"""Search outbox, saved searches, synonyms and places (notifications: market.notifications)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.accounts.models import User
from market.db import Base, utcnow


class SearchOutbox(Base):
    """A listing whose index entry must be refreshed. Written in the same transaction as
    the listing change; a worker delivers it with retries, so an index outage loses nothing."""

    __tablename__ = "listing_index_outbox"
    # Ids order racing index writes of a listing (finder/index.py): never reused on SQLite.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(Integer, index=True)  # no FK: deletions are entries too
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)


class SavedSearch(Base):
    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict] = mapped_column(JSON)  # the search form's query arguments
    notify_mail: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship()


class Municipality(Base):
    """A 市区町村 (city, town, village or Tokyo's special ward) with a point, for distance
    from a place chosen by name. Seeded from migrations/data/municipalities_v1.json
    (総務省 codes and readings; points from JpGeocode, MIT); editable like other
    reference data."""

    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)  # JIS X 0402, check digit
    prefecture_code: Mapped[str] = mapped_column(ForeignKey("prefectures.code"), index=True)
    name_ja: Mapped[str] = mapped_column(String(20), index=True)
    name_kana: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200))


class SynonymGroup(Base):
    """Words of the trade that search treats as one (残土 and 発生土). One-way groups
    (mutual False): the first term finds the others, not the reverse."""

    __tablename__ = "synonym_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    terms: Mapped[list] = mapped_column(JSON)  # at least two words or phrases
    mutual: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
