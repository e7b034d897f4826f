"""Importing listings from a spreadsheet: every row checked by the kinds' ``validate``,
every error named by row and column, and nothing written unless the whole file is good.

A row names its listing by ``id`` (Meguri's) or ``external_id`` (the organisation's own
key): such a row updates that listing, or leaves it unchanged; any other row creates one.
Like every service this one flushes and never commits: the caller commits when the
outcome has no errors and rolls back otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.catalog import kinds, services, sheets, validation
from market.catalog.models import Listing, ListingKind, ListingStatus, MaterialCategory
from market.db import after_commit, id_in_range, japan_today
from market.errors import DomainError, Invalid
from market.text import has_control_characters

Progress = Callable[[str, float], None]
PROGRESS_EVERY = 250
WRITE_BATCH = 500  # listings per flush
_JSON_TYPES = {"multichoice", "prices", "properties", "limits"}
PREVIEW_ROWS = 500  # rows listed on the preview page (the counts cover every row)
KEEP_UPLOADS = dt.timedelta(days=1)


# --- uploaded files, kept between the preview and the confirmation ------------------------


def _upload_dir() -> Path:
    folder = Path(current_app.config["UPLOAD_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store_file(content: bytes) -> str:
    """Keep an uploaded file under a random name (never the user's); old ones are removed."""
    folder = _upload_dir()
    cutoff = time.time() - KEEP_UPLOADS.total_seconds()
    for old in folder.glob("*.upload"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()
    name = uuid.uuid4().hex
    (folder / f"{name}.upload").write_bytes(content)
    return name


def stored_file(name: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", str(name)):
        raise ValueError("not a stored upload")
    return _upload_dir() / f"{name}.upload"


def forget_file(session: Session, name: str) -> None:
    """Remove an imported file once the import commits."""
    after_commit(session, lambda: stored_file(name).unlink(missing_ok=True))


@dataclass(frozen=True)
class RowError:
    row: int  # as the spreadsheet numbers it: the header is row 1
    column: str  # the header as written in the file
    field: str  # the column's name in the API
    message: str

    def as_json(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class Outcome:
    """What the import did (or, for a dry run, would do). With errors nothing is written,
    and a real run then counts nothing as created or updated."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    # (row, "create"/"update"/"unchanged", title, changed field names) for the preview page
    rows: list[tuple[int, str, str, list[str]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_json(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [e.as_json() for e in self.errors],
        }


@dataclass
class _Plan:
    row: int
    kind: ListingKind
    clean: dict
    target: Listing | None
    changes: dict


class _CellError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def import_listings(
    session: Session,
    user: User,
    content: bytes,
    *,
    dry_run: bool = False,
    locale: str = "ja",
    progress: Progress | None = None,
) -> Outcome:
    """Read ``content`` (CSV or XLSX) and create/update the user's organisation's listings."""
    outcome = Outcome(dry_run=dry_run)
    try:
        sheet = sheets.read(content)
    except sheets.UnreadableFile as exc:
        outcome.errors.append(RowError(0, "", "", exc.message))
        return outcome
    checker = _Checker(session, user, sheet, locale, outcome, progress)
    with kinds.cached_choices(session):
        plans = checker.check()
    _count(outcome, plans)  # for a dry run with errors: what the good rows would do
    if outcome.errors and not dry_run:
        outcome.created = outcome.updated = outcome.unchanged = 0
    if outcome.errors or dry_run:
        return outcome
    _write(session, user, plans, checker, progress)
    if outcome.errors:
        outcome.created = outcome.updated = outcome.unchanged = 0
    return outcome


def _count(outcome: Outcome, plans: list[_Plan]) -> None:
    for plan in plans:
        if plan.target is None:
            outcome.created += 1
            action = "create"
        elif plan.changes:
            outcome.updated += 1
            action = "update"
        else:
            outcome.unchanged += 1
            action = "unchanged"
        title = plan.clean.get("title") or (plan.target.title if plan.target else "")
        changes = [] if plan.target is None else sorted(plan.changes)
        outcome.rows.append((plan.row, action, title, changes))


def _write(session: Session, user: User, plans, checker: _Checker, progress) -> None:
    total = max(1, len(plans))
    # Every new row names every column (None where its kind has none), so that a flush
    # sends one multi-row INSERT rather than one per run of rows of the same kind.
    # (JSON columns stay out: an explicit None there would be stored as JSON null, not NULL.)
    blank = dict.fromkeys(
        [c.name for c in sheets.columns() if c.field and c.field.type not in _JSON_TYPES]
        + ["external_id"]
    )
    # The identity map holds rows weakly: keep the material categories (a listing's unit)
    # loaded for the whole write instead of reading one per row.
    categories = session.scalars(select(MaterialCategory)).all()
    batch: list[_Plan] = []
    writing: list[_Plan] = []  # the rows of the statement under way, to name in an error

    def create_batch() -> None:
        writing[:] = batch
        try:
            services.create_listings(session, user, [(p.kind, {**blank, **p.clean}) for p in batch])
        except DomainError as exc:  # checked before; a rule that changed meanwhile
            checker.error(batch[0].row, exc.field or "", exc.message)
        batch.clear()

    # Autoflush off: a reference-table read by a service must not flush half a batch. The
    # savepoint lets a unique-key clash (another import or an edit took a reference
    # meanwhile) be answered as an error; the caller rolls back.
    try:
        with session.begin_nested(), session.no_autoflush:
            for n, plan in enumerate(plans, start=1):
                if plan.target is None:
                    batch.append(plan)
                    if len(batch) == WRITE_BATCH:
                        create_batch()
                elif plan.changes:
                    writing[:] = [plan]
                    try:
                        services.update_listing(session, user, plan.target, plan.changes)
                    except DomainError as exc:
                        checker.error(plan.row, exc.field or "", exc.message)
                if progress and n % PROGRESS_EVERY == 0:
                    progress("writing", 0.5 + 0.5 * n / total)
            if batch:
                create_batch()
    except IntegrityError:
        checker.error(
            writing[0].row if writing else 0,
            "external_id",
            _("Another change to these listings was saved meanwhile: import the file again."),
        )
    del categories


_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_SPLIT = re.compile(r"[,、;；\n]+")
_PAIRS = re.compile(r"[;；、\n]+")
_PAIR = re.compile(r"(.+?)\s*[=:：＝]\s*(.+)")
_LIMIT = re.compile(r"(.+?)\s*(<=|>=|≤|≥|＜＝|＞＝)\s*(.+)")
_TRUE = {"はい", "○", "◯", "有", "あり", "可"}
_FALSE = {"いいえ", "×", "無", "なし", "不可"}


class _Checker:
    """One pass over the rows: each turned into a plan, or into errors."""

    def __init__(self, session, user, sheet, locale, outcome, progress):
        self.session, self.user, self.sheet = session, user, sheet
        self.locale, self.outcome, self.progress = locale, outcome, progress
        self.names: dict[str, dict[str, str]] = {}  # field → {name or code: code}
        self.can_create: dict[ListingKind, str | None] = {}
        self.today = japan_today()
        own = session.scalars(
            select(Listing).where(Listing.organisation_id == user.organisation_id)
        ).all()
        self.by_id = {listing.id: listing for listing in own}
        self.by_external = {lst.external_id: lst for lst in own if lst.external_id}
        self.seen_ids: dict[int, int] = {}
        self.seen_external: dict[str, int] = {}
        with force_locale("ja"):
            self.labels = {c.name: str(c.label) for c in sheets.columns()}
        self.kind_names = self._kind_names()

    def error(self, row: int, name: str, message: object) -> None:
        column = self.header_of.get(name) or self.labels.get(name, name)
        self.outcome.errors.append(RowError(row, column, name, str(message)))

    # -- the header ---------------------------------------------------------------------

    def _columns(self) -> dict[str, int]:
        known = sheets.header_names()
        at: dict[str, int] = {}
        self.header_of: dict[str, str] = {}
        for i, text in enumerate(self.sheet.header):
            if not text:
                continue
            name = known.get(sheets._key(text))
            if name is None:
                self.outcome.errors.append(RowError(1, text, "", _("unknown column")))
            elif name in at:
                self.outcome.errors.append(
                    RowError(1, text, name, _("the same column appears twice"))
                )
            else:
                at[name] = i
                self.header_of[name] = text
        if "kind" not in at and "id" not in at and "external_id" not in at:
            self.error(1, "kind", _("missing column"))
        return at

    def check(self) -> list[_Plan]:
        at = self._columns()
        if self.outcome.errors:
            return []
        plans: list[_Plan] = []
        total = max(1, len(self.sheet.rows))
        for n, (row, cells) in enumerate(self.sheet.rows, start=1):
            values = {name: (cells[i] if i < len(cells) else None) for name, i in at.items()}
            plan = self._row(row, values)
            if plan is not None:
                plans.append(plan)
            if self.progress and n % PROGRESS_EVERY == 0:
                self.progress("checking", 0.5 * n / total)
        return plans

    # -- one row ------------------------------------------------------------------------

    def _row(self, row: int, values: dict[str, object]) -> _Plan | None:
        before = len(self.outcome.errors)
        target = self._target(row, values)
        if len(self.outcome.errors) > before:
            return None  # which listing the row is remains unknown: its values say little
        external_id = _text(values.get("external_id"))
        kind = self._kind(row, values, target)
        if kind is None or len(self.outcome.errors) > before:
            return None
        own = {f.name: f for f in kinds.fields_for(kind)}
        for name, raw in values.items():
            if name not in own and name not in {"id", "external_id", "kind"} and not _blank(raw):
                self.error(row, name, _("not a field of this kind of listing"))
        current = services.current_values(target) if target is not None else {}
        data: dict[str, object] = {}
        for name, f in own.items():
            if name not in values:
                if target is not None:
                    data[name] = current[name]  # a column left out keeps its value
                continue
            try:
                data[name] = self._cell(f, values[name])
            except _CellError as exc:
                self.error(row, name, exc.message)
        keep_status = target is not None and target.status not in (
            ListingStatus.draft,
            ListingStatus.open,
        )
        if keep_status and str(data.get("status") or "").strip() in ("", target.status.value):
            data["status"] = "open"  # orders and expiry own these states; checked, not written
        else:
            keep_status = False
        try:
            clean = validation.validate(self.session, kind, data, locale=self.locale)
        except Invalid as exc:
            for name, message in exc.errors.items():
                self.error(row, name, message)
            return None
        if len(self.outcome.errors) > before:
            return None
        if keep_status:
            del clean["status"]
        if "external_id" in values:
            clean["external_id"] = external_id or None
        if target is None:
            return self._new(row, kind, clean)
        changes = {k: v for k, v in clean.items() if not _same(getattr(target, k), v)}
        return _Plan(row, kind, clean, target, changes)

    def _new(self, row: int, kind: ListingKind, clean: dict) -> _Plan | None:
        if kind not in self.can_create:
            try:
                services.ensure_can_create(self.user, kind)
                self.can_create[kind] = None
            except DomainError as exc:
                self.can_create[kind] = str(exc.message)
        if self.can_create[kind]:
            self.error(row, "kind", self.can_create[kind])
            return None
        if clean.get("status") == "open" and clean["window_end"] < self.today:
            self.error(
                row,
                "window_end",
                _(
                    "This period is over: set “Available until” to today or later to publish the listing."
                ),
            )
            return None
        return _Plan(row, kind, clean, None, clean)

    def _target(self, row: int, values: dict[str, object]) -> Listing | None:
        target = None
        raw_id = values.get("id")
        if not _blank(raw_id):
            number = _whole(raw_id)
            target = self.by_id.get(number) if number is not None else None
            if target is None:
                self.error(row, "id", _("no listing of your organisation has this ID"))
                return None
            if number in self.seen_ids:
                self.error(row, "id", _("also on row %(n)s", n=self.seen_ids[number]))
                return None
            self.seen_ids[number] = row
        external_id = _text(values.get("external_id"))
        if external_id:
            if len(external_id) > sheets.EXTERNAL_ID_MAX or has_control_characters(external_id):
                self.error(
                    row,
                    "external_id",
                    _("must be at most %(n)s characters", n=sheets.EXTERNAL_ID_MAX),
                )
                return None
            if external_id in self.seen_external:
                self.error(
                    row, "external_id", _("also on row %(n)s", n=self.seen_external[external_id])
                )
                return None
            self.seen_external[external_id] = row
            named = self.by_external.get(external_id)
            if target is None:
                target = named
            elif named is not None and named is not target:
                self.error(
                    row, "external_id", _("already the reference of listing %(id)s", id=named.id)
                )
                return None
        return target

    def _kind(self, row: int, values: dict[str, object], target: Listing | None):
        raw = _text(values.get("kind"))
        if not raw:
            if target is not None:
                return target.kind
            self.error(row, "kind", _("this field is required"))
            return None
        kind = self.kind_names.get(sheets._key(raw))
        if kind is None:
            self.error(row, "kind", _("unknown listing kind"))
            return None
        if target is not None and kind != target.kind:
            self.error(row, "kind", _("The kind of a listing cannot change."))
            return None
        return kind

    def _kind_names(self) -> dict[str, ListingKind]:
        names = {}
        for locale in ("en", "ja"):
            with force_locale(locale):
                names.update({sheets._key(str(s.label)): k for k, s in kinds.SPECS.items()})
        names.update({k.value: k for k in kinds.SPECS})
        return names

    # -- cells → the shapes ``validate`` takes -------------------------------------------

    def _cell(self, f: kinds.Field, raw):  # noqa: C901 - one branch per field type
        if _blank(raw):
            return None
        if isinstance(raw, dt.datetime):
            raw = raw.date() if f.type == "date" else raw.isoformat()
        if isinstance(raw, str):
            raw = raw.strip()
        if f.type == "date" and isinstance(raw, str):
            m = _DATE.fullmatch(raw)
            return dt.date(*map(int, m.groups())).isoformat() if _valid_date(m) else raw
        if f.type == "bool" and isinstance(raw, str):
            return True if raw in _TRUE else False if raw in _FALSE else raw
        if f.type in {"text", "textarea", "grade"} and not isinstance(raw, str):
            return _whole_text(raw)
        if f.type == "choice":
            text = _whole_text(raw)
            return self._code(f, text)
        if f.type == "multichoice":
            parts = [p.strip() for p in _SPLIT.split(str(raw)) if p.strip()]
            if len(parts) == 1 and " " in parts[0]:
                parts = parts[0].split()
            return [self._code(f, p) for p in parts]
        if f.type in {"prices", "properties"}:
            out = {}
            for part in filter(None, (p.strip() for p in _PAIRS.split(str(raw)))):
                m = _PAIR.fullmatch(part)
                if m is None:
                    raise _CellError(_("write name=value; name=value"))
                out[self._code(f, m.group(1).strip())] = m.group(2).strip()
            return out
        if f.type == "limits":
            limits: dict[str, dict[str, str]] = {}
            for part in filter(None, (p.strip() for p in _PAIRS.split(str(raw)))):
                m = _LIMIT.fullmatch(part)
                if m is None:
                    raise _CellError(_("write name<=value or name>=value, separated by ;"))
                side = "max" if m.group(2) in {"<=", "≤", "＜＝"} else "min"
                limits.setdefault(self._code(f, m.group(1).strip()), {})[side] = m.group(3)
            return limits
        return raw

    def _code(self, f: kinds.Field, text: str) -> str:
        """A reference code from its code or its name in Japanese or English."""
        names = self.names.get(f.name)
        if names is None:
            load = f.choices or f.keys
            names = {}
            for locale in ("en", "ja"):
                with force_locale(locale):
                    for code, label in load(self.session, locale):
                        names[sheets._key(label)] = code
            for code, _label in load(self.session, "ja"):
                names[sheets._key(code)] = code
            self.names[f.name] = names
        return names.get(sheets._key(text), text)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _text(value: object) -> str:
    return "" if _blank(value) else _whole_text(value).strip()


def _whole_text(value: object) -> str:
    """Text of a cell; a number Excel stored for a code (131083.0) reads as 131083."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _whole(value: object) -> int | None:
    text = _whole_text(value).strip()
    if not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if id_in_range(number) else None


def _valid_date(m) -> bool:
    if m is None:
        return False
    try:
        dt.date(*map(int, m.groups()))
    except ValueError:
        return False
    return True


def _same(old, new) -> bool:
    if old in (None, "") and new in (None, ""):
        return True
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    if isinstance(old, Decimal | float | int) and isinstance(new, Decimal | float | int):
        return Decimal(str(old)) == Decimal(str(new))
    if hasattr(old, "value") and isinstance(new, str):  # enums (status)
        return old.value == new
    return old == new
