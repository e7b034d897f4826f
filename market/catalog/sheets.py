"""Listings as spreadsheets: the columns (from the kind declarations), reading CSV and XLSX
files into rows of cells, and writing listings back out in the same shape.

The export's columns are the import's, so a file exported here imports back unchanged.
Reading knows nothing of the database; ``market.catalog.imports`` checks the values.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell

from market.catalog import kinds
from market.catalog.models import Listing

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 20_000
FORMATS = ("csv", "xlsx")
MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Column:
    """One column of the sheet: ``name`` is the field's name in the API."""

    name: str
    label: object
    field: kinds.Field | None = None


# Columns before the fields: which listing a row is, and of what kind.
KEY_COLUMNS = (
    Column("id", _l("Meguri ID")),
    Column("external_id", _l("Your reference")),
    Column("kind", _l("Kind")),
)
EXTERNAL_ID_MAX = 100


def columns() -> list[Column]:
    """Every column, in order: the keys, the common fields, then each kind's own."""
    out = list(KEY_COLUMNS)
    seen = {c.name for c in out}
    for kind in kinds.SPECS:
        for f in kinds.fields_for(kind):
            if f.name not in seen:
                seen.add(f.name)
                out.append(Column(f.name, f.label, f))
    return out


def headers(locale: str = "ja") -> list[str]:
    with force_locale(locale):
        return [str(c.label) for c in columns()]


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def header_names() -> dict[str, str]:
    """Header text (Japanese, English or the field name) → column name."""
    names: dict[str, str] = {}
    for locale in ("en", "ja"):
        for c, label in zip(columns(), headers(locale), strict=True):
            names[_key(label)] = c.name
            # Excel saving Shift_JIS writes "?" for what cp932 lacks (the ² of kN/m²).
            names[_key(label.encode("cp932", "replace").decode("cp932"))] = c.name
    for c in columns():
        names[_key(c.name)] = c.name
    return names


# --- reading ---------------------------------------------------------------------------


class UnreadableFile(Exception):
    """The file as a whole cannot be read (not CSV or XLSX, unknown encoding, too big)."""

    def __init__(self, message: object):
        super().__init__(str(message))
        self.message = str(message)


@dataclass
class Sheet:
    """The header row as written and the data rows (``number`` as the spreadsheet counts)."""

    header: list[str]
    rows: list[tuple[int, list[object]]]


def read(content: bytes, filename: str = "") -> Sheet:
    if len(content) > MAX_BYTES:
        raise UnreadableFile(_l("The file is larger than %(n)s MB.", n=MAX_BYTES // 2**20))
    if content.startswith(b"PK\x03\x04"):
        rows = _xlsx_rows(content)
    elif content.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(_l("Old .xls files cannot be read: save the sheet as .xlsx or CSV."))
    else:
        rows = _csv_rows(_decode(content))
    header: list[str] | None = None
    data: list[tuple[int, list[object]]] = []
    for number, cells in enumerate(rows, start=1):
        if all(_empty(c) for c in cells):
            continue
        if header is None:
            header = ["" if c is None else str(c).strip() for c in cells]
            continue
        data.append((number, list(cells)))
        if len(data) > MAX_ROWS:
            raise UnreadableFile(_l("A file may hold at most %(n)s rows.", n=f"{MAX_ROWS:,}"))
    if header is None:
        raise UnreadableFile(_l("The file is empty: the first row must name the columns."))
    while header and header[-1] == "":
        header.pop()
    return Sheet(header, data)


def _empty(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and cell.strip() == "")


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), else Shift_JIS as Excel in Japan saves CSV (cp932)."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    for encoding in ("utf-8", "cp932"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile(_l("The file is neither CSV in UTF-8 or Shift_JIS nor XLSX."))


def _csv_rows(text: str) -> Iterator[list[object]]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as exc:
        raise UnreadableFile(_l("The CSV cannot be read: %(e)s", e=str(exc))) from None


# What openpyxl raises for a zip that is not a well-formed workbook (ParseError is a
# SyntaxError); any of them means the same to the user.
_BROKEN_XLSX = (
    zipfile.BadZipFile,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    OSError,
    SyntaxError,
)


def _xlsx_rows(content: bytes) -> Iterator[list[object]]:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except _BROKEN_XLSX:
        raise UnreadableFile(_l("The XLSX file cannot be opened.")) from None
    try:
        for row in book.worksheets[0].iter_rows(values_only=True):
            yield list(row)
    except _BROKEN_XLSX:
        raise UnreadableFile(_l("The XLSX file cannot be opened.")) from None
    finally:
        book.close()


# --- writing ---------------------------------------------------------------------------


def _number(value) -> str:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def cell_text(f: kinds.Field, value) -> str:
    """A field's value as the import reads it back (CSV)."""
    if value is None:
        return ""
    if f.type == "multichoice":
        return ", ".join(value)
    if f.type in {"prices", "properties"}:
        return "; ".join(f"{k}={_number(v)}" for k, v in value.items())
    if f.type == "limits":
        parts = []
        for k, bounds in value.items():
            if "min" in bounds:
                parts.append(f"{k}>={_number(bounds['min'])}")
            if "max" in bounds:
                parts.append(f"{k}<={_number(bounds['max'])}")
        return "; ".join(parts)
    if f.type == "bool":
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return _number(value)
    return str(value)


def listing_row(listing: Listing) -> list[object]:
    """One listing as cells in ``columns()`` order (blank where its kind has no such field)."""
    own = {f.name for f in kinds.fields_for(listing.kind)}
    cells: list[object] = []
    for c in columns():
        if c.name == "id":
            cells.append(listing.id)
        elif c.name == "external_id":
            cells.append(listing.external_id or "")
        elif c.name == "kind":
            cells.append(listing.kind.value)
        elif c.name == "status":
            cells.append(listing.status.value)
        elif c.name in own:
            cells.append(getattr(listing, c.name))
        else:
            cells.append(None)
    return cells


def write_csv(listings: Iterable[Listing], locale: str = "ja") -> bytes:
    """UTF-8 with BOM so that Excel in Japan opens it without mojibake."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers(locale))
    cols = columns()
    for listing in listings:
        writer.writerow(
            [
                "" if v is None else (cell_text(c.field, v) if c.field else str(v))
                for c, v in zip(cols, listing_row(listing), strict=True)
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def write_xlsx(listings: Iterable[Listing], locale: str = "ja") -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("listings")
    sheet.append(headers(locale))
    cols = columns()
    for listing in listings:
        row = []
        for c, value in zip(cols, listing_row(listing), strict=True):
            if c.field is not None and value is not None:
                if c.field.type in {"multichoice", "prices", "properties", "limits"}:
                    value = cell_text(c.field, value)
                elif isinstance(value, Decimal):
                    value = float(value)
            if isinstance(value, str) and value.startswith("="):
                value = WriteOnlyCell(sheet, value=value)
                value.data_type = "s"  # text, never a formula that Excel would run
            row.append(value)
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
