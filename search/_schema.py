"""The embedded engine's tables and rows, shared by its SQLite and PostgreSQL dialects:
narrow key rows for filters and sorts, the stored public document, the analysed text
of each listing and the typo lexicon."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

from .documents import ListingDocument, json_and_hash
from .geo import unit_vector
from .tags import cluster_key, document_tags
from .text import AnalysedText, analyse, normalise
from .typos import lexicon_keys

# Narrow rows the filters and sorts read; the full public document lives in a
# separate store table and is fetched only for the page being shown.
KEYS = (
    "id",
    "title_norm",
    "title_reading",
    "kind",
    "soil_class",
    "grade",
    "material",
    "category",
    "prefecture",
    "municipality_code",
    "status",
    "unit",
    "price_per_unit",
    "window_start",
    "window_end",
    "lat",
    "lon",
    "cx",
    "cy",
    "cz",
    "created_ts",
    "content_hash",
)
KEY_TYPES = {
    "sqlite": {"id": "INTEGER PRIMARY KEY", "int": "INTEGER", "real": "REAL"},
    "postgresql": {"id": "BIGINT PRIMARY KEY", "int": "BIGINT", "real": "DOUBLE PRECISION"},
}
# Secondary indexes: the facets people filter on most, price, recency and position.
INDEXED = (
    ("kind",),
    ("category",),
    ("prefecture",),
    ("price_per_unit",),
    ("created_ts",),
    ("lat", "lon"),
)
# What a table of the current layout has (ensure() rebuilds tables that lack it).
LAYOUT_COLUMNS = ("cx", "title_reading")
_DERIVED = ("title_norm", "title_reading", "cx", "cy", "cz", "created_ts", "content_hash")
_PLAIN_KEYS = tuple(k for k in KEYS if k not in _DERIVED)
_CLUSTERED_IDS = 1 << 32


def chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def row_key(document: ListingDocument) -> int:
    """SQLite rowid of a listing: its grid cell in Z-order above its id, so the rows
    (and FTS5 postings) of one area sit together and a radius query reads few pages.
    Ids outside 0..2**32 are not clustered (negative rowids, still unique)."""
    if 0 <= document.id < _CLUSTERED_IDS:
        return (cluster_key(document.lat, document.lon) << 32) | document.id
    return document.id if document.id < 0 else -document.id


@dataclass
class Prepared:
    """One document ready to write: key row, stored JSON and its analysed text."""

    document: ListingDocument
    row: dict
    stored: str
    title: AnalysedText
    body: AnalysedText

    @property
    def words(self) -> set[str]:
        return self.title.words | self.body.words

    def text_terms(self) -> tuple[list[str], list[str]]:
        """(title terms, body terms): as written, then the dictionary forms."""
        return self.title.surface + self.title.variants, self.body.surface + self.body.variants

    def reading_terms(self) -> list[str]:
        return self.title.reading + self.body.reading

    def head_terms(self) -> list[str]:
        return list(dict.fromkeys(self.title.heads + self.body.heads))

    def tags(self) -> list[str]:
        return document_tags(self.document)


def prepare(document: ListingDocument) -> Prepared:
    data, content_hash = json_and_hash(document)
    title, body = analyse(document.title), analyse(document.searchable_body())
    row = {name: data[name] for name in _PLAIN_KEYS}  # dates already ISO strings
    row["title_norm"] = normalise(document.title) + (
        "\n" + title.variant_text if title.variant_text else ""
    )
    row["title_reading"] = title.reading_text
    if document.lat is not None and document.lon is not None:
        row["cx"], row["cy"], row["cz"] = unit_vector(document.lat, document.lon)
    else:
        row["cx"] = row["cy"] = row["cz"] = None
    row["created_ts"] = document.created_ts
    row["content_hash"] = content_hash
    return Prepared(document, row, json.dumps(data, ensure_ascii=False), title, body)


def lexicon_rows(words: Iterable[str]) -> list[tuple[str, str]]:
    return [(key, word) for word in sorted(words) for key in sorted(lexicon_keys(word))]


def keys_ddl(dialect: str, table: str, extra: str = "", first: str = "") -> str:
    types = KEY_TYPES[dialect]
    return f"""CREATE TABLE {table} (
        {first}id {types["id"] if not first else types["int"] + " NOT NULL UNIQUE"}, title_norm TEXT NOT NULL, title_reading TEXT NOT NULL, kind TEXT NOT NULL, soil_class TEXT, grade TEXT, material TEXT,
        category TEXT, prefecture TEXT, municipality_code TEXT, status TEXT NOT NULL,
        unit TEXT, price_per_unit {types["int"]}, window_start TEXT, window_end TEXT,
        lat {types["real"]}, lon {types["real"]}, cx {types["real"]}, cy {types["real"]},
        cz {types["real"]}, created_ts {types["real"]},
        content_hash TEXT NOT NULL{extra})"""


def insert_sql(table: str, columns: Sequence[str], casts: Mapping[str, str] = {}) -> str:
    values = ", ".join(f"CAST(:{c} AS {casts[c]})" if c in casts else f":{c}" for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"


class Tables:
    """The names of one generation of an index's tables (live, or being rebuilt), and
    of its settings, versions, log and clock tables (one for all generations)."""

    def __init__(self, name: str, suffix: str = "") -> None:
        self.keys = f"search_{name}_docs{suffix}"
        self.store = f"search_{name}_store{suffix}"
        self.fts = f"search_{name}_fts{suffix}"
        self.lexicon = f"search_{name}_lexicon{suffix}"
        self.settings = f"search_{name}_settings"
        # The version of the last change written for each listing id (deletions too), so
        # that a late, older change cannot overwrite a newer one; see EmbeddedIndex._claim.
        self.versions = f"search_{name}_versions"
        # Every write's ids under an increasing number, and the last number with the
        # build token of the live tables: what each process's in-memory columns follow
        # (see EmbeddedIndex._columns).
        self.log = f"search_{name}_log"
        self.clock = f"search_{name}_clock"
        # Common query words' ids as of a change number, for new processes (_sync.py)
        self.words = f"search_{name}_words"
