"""Facet values and geo grid cells as opaque terms in the full-text index.

A text+facet+geo query is an intersection of three large sets (every 砕石 listing, every
listing in Kantō, every offer). Putting facets and grid cells into the same inverted
index lets FTS5 / GIN intersect posting lists, so only real candidates are read back
and checked exactly. Tags are hex so no tokenizer or query syntax can alter them."""

from __future__ import annotations

import hashlib
import math

from .documents import FACETS, ListingDocument
from .geo import bounding_box

# Cell sizes in degrees, finest first; a radius query ORs the cells of the finest level
# that covers its bounding box in at most MAX_CELLS cells.
GRID_LEVELS = (0.1, 0.4, 1.6, 6.4)
MAX_CELLS = 30


def facet_tag(facet: str, value: str) -> str:
    digest = hashlib.blake2b(f"{facet}\x00{value}".encode(), digest_size=8).hexdigest()
    return "f" + digest


def _cell(level: int, lat: float, lon: float) -> tuple[int, int]:
    size = GRID_LEVELS[level]
    return math.floor((lat + 90.0) / size), math.floor((lon + 180.0) / size)


def cluster_key(lat: float | None, lon: float | None) -> int:
    """Z-order (Morton) number of the finest grid cell, 1..2**24; 0 without a position.
    Rows ordered by it keep neighbouring cells close together."""
    if lat is None or lon is None:
        return 0
    y, x = _cell(0, min(max(lat, -90.0), 89.999), min(max(lon, -180.0), 179.999))
    key = 0
    for bit in range(12):
        key |= ((x >> bit) & 1) << (2 * bit) | ((y >> bit) & 1) << (2 * bit + 1)
    return key + 1


def cell_tag(level: int, y: int, x: int) -> str:
    return f"g{level}y{y}x{x}"


def document_tags(document: ListingDocument) -> list[str]:
    tags = [
        facet_tag(facet, value)
        for facet in FACETS
        if (value := getattr(document, facet)) is not None
    ]
    if document.lat is not None and document.lon is not None:
        for level in range(len(GRID_LEVELS)):
            tags.append(cell_tag(level, *_cell(level, document.lat, document.lon)))
    return tags


def covering_cells(lat: float, lon: float, radius_km: float) -> list[str] | None:
    """Cell tags whose union contains the circle, or None when no level is coarse enough
    (or the circle wraps a pole or the antimeridian): then only the exact test applies."""
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_km)
    if min_lon is None or max_lon is None:
        return None
    for level in range(len(GRID_LEVELS)):
        y0, x0 = _cell(level, min_lat, min_lon)
        y1, x1 = _cell(level, max_lat, max_lon)
        if (y1 - y0 + 1) * (x1 - x0 + 1) <= MAX_CELLS:
            return [cell_tag(level, y, x) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]
    return None
