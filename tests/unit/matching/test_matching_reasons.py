"""Each unmatched listing's reason names the constraint that actually binds: instances
built so that exactly one rule keeps a listing unmatched, and the reason must name it.

Before: a recycled lot at absorption 7.01 and a blend demand limited to 7.0, both left
unmatched, were each said to be "outbid" by the other."""

from __future__ import annotations

import copy

import matching

BASE = {
    "version": 1,
    "material": "recycled",
    "as_of": "2027-01-05",
    "transport": {"road_factor": 1.3, "cost_per_unit_km": 10, "co2_kg_per_unit_km": 0.3},
    "grades": ["RM-25", "RM-30", "RM-40", "RC-40"],
    "stockyards": [],
}
WINDOW = ["2027-02-01", "2027-03-31"]


def lot(id, absorption=4.0, quantity=100, lat=35.68, **extra):
    return {
        "id": id,
        "lat": lat,
        "lon": 139.76,
        "quantity": quantity,
        "class": "RC-40",
        "window": WINDOW,
        "disposal_cost": 1000,
        "max_haul_km": 50,
        "properties": {"absorption": absorption},
        **extra,
    }


def want(id, quantity=100, blend=False, value=2000, lat=35.60, **extra):
    return {
        "id": id,
        "lat": lat,
        "lon": 139.70,
        "quantity": quantity,
        "value": value,
        "window": WINDOW,
        "min_grade": "RC-40",
        "limits": {"absorption": {"max": 7.0}},
        "blend": blend,
        **extra,
    }


def solve(supplies, demands, **extra):
    data = {**copy.deepcopy(BASE), "supplies": supplies, "demands": demands, **extra}
    result = matching.solve(matching.load_instance(data)).to_dict()
    assert result["status"] == "optimal"
    assert matching.check(data, result).ok
    supply = {row["id"]: row for row in result["unmatched_supply"]}
    demand = {row["id"]: row for row in result["unmet_demand"]}
    return result, supply, demand


def test_a_lot_above_a_blend_limit_with_nothing_to_blend_is_not_outbid():
    _, supply, demand = solve([lot("S", absorption=7.01)], [want("D", blend=True)])
    assert supply["S"]["code"] == demand["D"]["code"] == "property_limit"
    s = supply["S"]
    assert (s["property"], s["value"], s["limit"], s["limit_value"]) == (
        "absorption",
        7.01,
        "max",
        7.0,
    )
    assert s["blend"] and s["candidate"] == "D" and demand["D"]["candidate"] == "S"
    assert "absorption: 7.01 against max 7" in s["reason"]


def test_no_counterpart_meets_a_property_limit():
    _, supply, demand = solve([lot("S", absorption=7.5)], [want("D")])
    assert supply["S"]["code"] == demand["D"]["code"] == "property_limit"
    assert not supply["S"]["blend"]
    assert "no counterpart's property limits are met" in supply["S"]["reason"]


def test_a_missing_property_is_named():
    no_value = lot("S")
    no_value["properties"] = {}
    _, supply, _ = solve([no_value], [want("D")])
    assert supply["S"]["code"] == "property_limit" and supply["S"]["value"] is None
    assert "not given" in supply["S"]["reason"]


def test_no_counterpart_takes_the_grade():
    _, supply, _ = solve([lot("S")], [want("D", min_grade="RM-30")])  # RC-40 is worse
    assert supply["S"]["code"] == "no_compatible"


def test_beyond_haul_and_no_window_overlap_come_after_the_property_check():
    _, supply, _ = solve([lot("S", lat=36.5)], [want("D")])
    assert supply["S"]["code"] == "beyond_haul"
    _, supply, _ = solve([lot("S", window=["2027-06-01", "2027-06-30"])], [want("D")])
    assert supply["S"]["code"] == "no_window_overlap"


def test_outbid_only_when_the_counterpart_went_to_someone_else():
    near = lot("S-near", lat=35.61)
    far = lot("S-far", lat=35.75)
    result, supply, _ = solve([near, far], [want("D", quantity=100)])
    assert [(f["supply"], f["demand"]) for f in result["flows"]] == [("S-near", "D")]
    assert supply["S-far"]["code"] == "outbid"
    assert supply["S-far"]["best_candidate"] == "D" and not supply["S-far"]["partly_matched"]


def test_a_counterpart_filled_by_the_listing_itself_is_not_outbid():
    _, supply, _ = solve([lot("S", quantity=150)], [want("D", quantity=100)])
    assert supply["S"]["code"] == "counterparts_full" and supply["S"]["partly_matched"]


def test_partner_only_period_is_named():
    reuse = {
        **copy.deepcopy(BASE),
        "material": "reuse",
        "supplies": [
            {
                "id": "S",
                "lat": 35.68,
                "lon": 139.76,
                "quantity": 1,
                "class": "chair",
                "window": WINDOW,
                "disposal_cost": 1000,
                "owner": "org-1",
                "partner_only_until": "2027-01-10",
            }
        ],
        "demands": [
            {
                "id": "D",
                "lat": 35.60,
                "lon": 139.70,
                "quantity": 5,
                "value": 0,
                "value_by": {"chair": 500},
                "accepts": ["chair"],
                "window": WINDOW,
                "partners": ["org-2"],
            }
        ],
    }
    reuse.pop("grades")
    result = matching.solve(matching.load_instance(reuse)).to_dict()
    assert result["unmatched_supply"][0]["code"] == "partner_only"
    assert result["unmet_demand"][0]["code"] == "partner_only"


def test_a_declined_pair_is_named():
    _, supply, _ = solve([lot("S")], [want("D")], excluded_pairs=[["S", "D"]])
    assert supply["S"]["code"] == "declined"


def test_partly_matched_and_outbid_names_the_counterpart_that_others_filled():
    # S2 sends 40 to D1 and 10 to D2; D1's other 60 went to S1: S2's last 10 are outbid.
    data = {
        **copy.deepcopy(BASE),
        "supplies": [lot("S1", quantity=60), lot("S2", quantity=60, lat=35.7)],
        "demands": [want("D1", quantity=100), want("D2", quantity=10, lat=35.9)],
    }
    result = matching.greedy(matching.load_instance(data)).to_dict()
    [row] = result["unmatched_supply"]
    assert (row["id"], row["code"], row["best_candidate"]) == ("S2", "outbid", "D1")
    assert row["partly_matched"]
    assert any(f["supply"] == "S1" and f["demand"] == "D1" for f in result["flows"])
