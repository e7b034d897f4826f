"""Great-circle distance and the bounding box that prefilters a radius search."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
KM_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_KM / 180.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def haversine_threshold(radius_km: float) -> float:
    """The haversine term `a` at distance radius_km: `a <= this` means inside the
    circle. Comparing `a` avoids asin/sqrt per row in SQL."""
    return math.sin(min(math.pi / 2, radius_km / (2 * EARTH_RADIUS_KM))) ** 2


def bounding_box(
    lat: float, lon: float, radius_km: float
) -> tuple[float, float, float | None, float | None]:
    """(min_lat, max_lat, min_lon, max_lon) enclosing the circle. Longitude bounds are
    None when the circle reaches a pole or crosses the antimeridian (no lon prefilter)."""
    dlat = radius_km / KM_PER_DEGREE_LAT
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -90.0 or max_lat >= 90.0:
        return max(min_lat, -90.0), min(max_lat, 90.0), None, None
    # the widest longitude span of the circle is at the latitude nearest a pole
    cos_lat = math.cos(math.radians(max(abs(min_lat), abs(max_lat))))
    dlon = radius_km / (KM_PER_DEGREE_LAT * cos_lat)
    if dlon >= 180.0 or lon - dlon < -180.0 or lon + dlon > 180.0:
        return min_lat, max_lat, None, None
    return min_lat, max_lat, lon - dlon, lon + dlon


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """The point on the unit sphere. For two points, a = |p1 - p2|**2 / 4 is exactly the
    haversine term, so SQL can test and sort by distance with arithmetic alone."""
    p, la = math.radians(lat), math.radians(lon)
    return math.cos(p) * math.cos(la), math.cos(p) * math.sin(la), math.sin(p)


def chord_threshold(radius_km: float) -> float:
    """Squared chord length at distance radius_km: |p1 - p2|**2 <= this means inside."""
    return 4.0 * haversine_threshold(radius_km)
