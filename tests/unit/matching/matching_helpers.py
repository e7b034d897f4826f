"""Small random instances for the matching tests (seeded, plain dicts)."""

from __future__ import annotations

import datetime as dt
import random

SOIL = ["1", "1i", "2a", "2b", "3a", "3b", "4a"]
GRADES = ["RM-25", "RM-30", "RM-40", "RC-40"]


def _window(rng: random.Random) -> list[str]:
    a = dt.date(2027, 1, 1) + dt.timedelta(days=rng.randrange(0, 300))
    return [a.isoformat(), (a + dt.timedelta(days=rng.randrange(5, 120))).isoformat()]


def random_instance(
    seed: int,
    n_s: int = 18,
    n_d: int = 14,
    yards: int = 0,
    blend: bool = False,
    partners: bool = False,
    fractional: bool = False,
) -> dict:
    rng = random.Random(seed)
    material = "recycled" if blend else "soil"
    classes = GRADES if blend else SOIL

    def qty():
        return round(rng.uniform(10, 900), 2) if fractional else rng.randrange(10, 900)

    owners = ["city-1", "city-2", "city-3"]
    sup = []
    for i in range(n_s):
        s = {
            "id": f"S{i}",
            "lat": 35.6 + rng.uniform(-0.25, 0.25),
            "lon": 139.7 + rng.uniform(-0.3, 0.3),
            "quantity": qty(),
            "window": _window(rng),
            "disposal_cost": rng.randrange(500, 5000),
            "class": rng.choice(classes),
            "max_haul_km": rng.choice([None, 25, 40, 60]),
            "co2_avoided_kg_per_unit": rng.choice([0, 2.9]),
        }
        if blend:
            s["properties"] = {"absorption": round(rng.uniform(2, 8), 2)}
        if partners:
            s["owner"] = rng.choice(owners)
            s["partner_only_until"] = rng.choice([None, "2027-06-30"])
        sup.append(s)
    dem = []
    for j in range(n_d):
        d = {
            "id": f"D{j}",
            "lat": 35.6 + rng.uniform(-0.25, 0.25),
            "lon": 139.7 + rng.uniform(-0.3, 0.3),
            "quantity": qty(),
            "window": _window(rng),
            "value": rng.randrange(500, 5000),
            "max_haul_km": rng.choice([None, 30, 50]),
        }
        if blend:
            d["min_grade"] = rng.choice(GRADES[1:])
            d["limits"] = {"absorption": {"max": round(rng.uniform(3.5, 6.5), 1)}}
            d["blend"] = rng.random() < 0.6
        else:
            d["accepts"] = rng.sample(SOIL, rng.randrange(2, len(SOIL) + 1))
            if rng.random() < 0.3:
                d["value_by"] = {"1": d["value"] + 300}
        if partners:
            d["partners"] = rng.sample(owners, rng.randrange(0, 3))
        dem.append(d)
    yrd = [
        {
            "id": f"Y{y}",
            "lat": 35.6 + rng.uniform(-0.2, 0.2),
            "lon": 139.7 + rng.uniform(-0.2, 0.2),
            "capacity": rng.randrange(200, 3000),
            "handling_cost": rng.randrange(100, 900),
            "window": ["2027-01-01", "2027-12-31"],
            "accepts": rng.sample(classes, 3),
        }
        for y in range(yards)
    ]
    inst = {
        "version": 1,
        "material": material,
        "as_of": "2027-01-05",
        "transport": {"road_factor": 1.3, "cost_per_unit_km": 60, "co2_kg_per_unit_km": 0.3},
        "carbon_price_per_kg": rng.choice([0, 5]),
        "supplies": sup,
        "demands": dem,
        "stockyards": yrd,
    }
    if blend:
        inst["grades"] = GRADES
    return inst


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def load_example(name: str) -> dict:
    """The shared worked examples (copied from shared/matching/examples)."""
    import json

    return json.loads((FIXTURES / f"{name}.json").read_text())


def random_planning_instance(
    seed: int,
    n_s: int = 6,
    n_d: int = 6,
    yards: int = 2,
    plants: int = 2,
    periods: int = 6,
    blend: bool = False,
    partners: bool = False,
) -> dict:
    """A small version 2 instance: weekly periods, limits, yards, plants (seeded)."""
    rng = random.Random(seed)
    start = dt.date(2027, 1, 4)
    classes = ["1", "2a", "2b", "3a", "4a", "4b"]

    def window():
        a = rng.randrange(-3, periods * 7)
        b = a + rng.randrange(3, periods * 7)
        return [
            (start + dt.timedelta(days=a)).isoformat(),
            (start + dt.timedelta(days=b)).isoformat(),
        ]

    def qty():
        return rng.choice([rng.randrange(50, 900), round(rng.uniform(50, 900), 2)])

    def place(rec):
        rec.update(lat=35.6 + rng.uniform(-0.2, 0.2), lon=139.7 + rng.uniform(-0.25, 0.25))
        return rec

    sup = []
    for i in range(n_s):
        s = place({"id": f"S{i}", "quantity": qty(), "class": rng.choice(classes)})
        s.update(
            window=window(),
            disposal_cost=rng.randrange(500, 6000),
            max_haul_km=rng.choice([None, 25, 40]),
            max_per_period=rng.choice([None, rng.randrange(40, 300)]),
            co2_avoided_kg_per_unit=rng.choice([0, 2.9]),
        )
        if blend:
            s["properties"] = {"absorption": round(rng.uniform(2, 8), 2)}
        if partners:
            s["owner"] = rng.choice(["city-1", "city-2"])
            s["partner_only_until"] = rng.choice([None, "2027-06-30"])
        sup.append(s)
    dem = []
    for j in range(n_d):
        d = place({"id": f"D{j}", "quantity": qty(), "window": window()})
        d.update(
            value=rng.randrange(300, 4000),
            max_haul_km=rng.choice([None, 30, 45]),
            max_per_period=rng.choice([None, rng.randrange(40, 300)]),
            accepts=rng.sample(classes[:4], rng.randrange(1, 5)),
        )
        if rng.random() < 0.3:
            d["value_by"] = {"1": d["value"] + 400}
        if blend:
            d["limits"] = {"absorption": {"max": round(rng.uniform(3.5, 6.5), 1)}}
            d["blend"] = rng.random() < 0.5
        if partners:
            d["partners"] = rng.sample(["city-1", "city-2"], rng.randrange(0, 3))
        dem.append(d)
    yrd = [
        place(
            {
                "id": f"Y{y}",
                "capacity": rng.randrange(100, 1500),
                "handling_cost": rng.randrange(100, 900),
                "holding_cost_per_period": rng.randrange(0, 120),
                "window": rng.choice([None, window()]),
                "accepts": rng.sample(classes, 4),
            }
        )
        for y in range(yards)
    ]
    plt = [
        place(
            {
                "id": f"P{p}",
                "capacity_per_period": rng.randrange(30, 400),
                "cost_per_unit": rng.randrange(300, 2500),
                "window": rng.choice([None, window()]),
                "converts": rng.choice([{"4a": "2b", "4b": "3a"}, {"3a": "2a", "4a": "3a"}]),
            }
        )
        for p in range(plants)
    ]
    return {
        "version": 2,
        "material": "soil",
        "as_of": "2027-01-04",
        "horizon": {"start": start.isoformat(), "period_days": 7, "periods": periods},
        "transport": {"road_factor": 1.3, "cost_per_unit_km": 80, "co2_kg_per_unit_km": 0.3},
        "carbon_price_per_kg": rng.choice([0, 4]),
        "supplies": sup,
        "demands": dem,
        "stockyards": yrd,
        "plants": plt,
        "committed": [],
    }
