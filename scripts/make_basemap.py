"""Write the offline basemap of Japan: one polygon per prefecture (the area holding its
capital; small islands left out), as GeoJSON in market/static/basemap/.

Source: the prefecture outlines of the `japanmap` package, 0.6.0 (Apache-2.0, by Saito
Tsutomu), which ships them as data; coordinates rounded to 0.001° (about 100 m), enough
under markers at the zoom levels the maps use. Run with japanmap installed
(requirements-dev.txt): `.venv/bin/python scripts/make_basemap.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from japanmap import get_data, pref_points

OUT = (
    Path(__file__).resolve().parents[1] / "market" / "static" / "basemap" / "japan-prefectures.json"
)
SOURCE = "japanmap 0.6.0 (Apache-2.0): prefecture outlines"


def main() -> None:
    outlines = pref_points(get_data())  # 47 rings of (lon, lat), JIS X 0401 order
    features = []
    for index, ring in enumerate(outlines):
        points = [[round(lon, 3), round(lat, 3)] for lon, lat in ring]
        points = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        if points[0] != points[-1]:
            points.append(points[0])
        features.append(
            {
                "type": "Feature",
                "properties": {"code": f"{index + 1:02d}"},
                "geometry": {"type": "Polygon", "coordinates": [points]},
            }
        )
    collection = {"type": "FeatureCollection", "source": SOURCE, "features": features}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(collection, separators=(",", ":")), encoding="utf-8")
    print(f"{OUT}: {len(features)} prefectures, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
