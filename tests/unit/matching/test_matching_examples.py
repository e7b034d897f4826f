"""The three worked examples: optimal figures, independent check, and each feature matters."""

import copy
import json

import pytest
from matching_helpers import load_example

import matching

NAMES = ["soil-with-yards", "recycled-blending", "reuse-partners"]
EXPECTED = load_example("expected")


def solve(data):
    return matching.solve(matching.load_instance(data))


@pytest.mark.parametrize("name", NAMES)
def test_example_reaches_the_independent_optimum_and_passes_the_checker(name):
    data = load_example(name)
    res = solve(data)
    want = EXPECTED[name]["net_benefit"]
    assert res.status == "optimal"
    assert res.net_benefit == pytest.approx(want, rel=1e-6)
    assert res.upper_bound == pytest.approx(res.net_benefit, rel=1e-6)
    report = matching.check(data, json.loads(json.dumps(res.to_dict())))
    assert report.ok, report.errors
    assert report.lp_optimum == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_every_flow_and_leftover_explains_itself(name):
    res = solve(load_example(name)).to_dict()
    for f in res["flows"]:
        assert {
            "supply",
            "demand",
            "via",
            "quantity",
            "road_km",
            "transport_cost",
            "co2_kg",
            "net_benefit",
        } <= set(f)
        assert f["quantity"] > 0 and f["net_benefit"] > 0
    for row in res["unmatched_supply"] + res["unmet_demand"]:
        assert row["reason"] and row["quantity"] > 0


def test_stockyards_change_the_soil_optimum():
    data = load_example("soil-with-yards")
    res = solve(data)
    assert any(f["via"] for f in res.to_dict()["flows"])
    no_yards = copy.deepcopy(data)
    no_yards["stockyards"] = []
    assert solve(no_yards).net_benefit < res.net_benefit - 1
    tight = copy.deepcopy(data)
    for y in tight["stockyards"]:
        y["capacity"] = 100
    assert solve(tight).net_benefit < res.net_benefit - 1


def test_blending_changes_the_recycled_optimum():
    data = load_example("recycled-blending")
    with_blend = solve(data).net_benefit
    per_lot = copy.deepcopy(data)
    for d in per_lot["demands"]:
        d["blend"] = False
    assert solve(per_lot).net_benefit < with_blend - 1


def test_grades_and_limits_are_enforced():
    data = load_example("recycled-blending")
    base = solve(data).net_benefit
    loose = copy.deepcopy(data)
    for d in loose["demands"]:
        d["min_grade"] = None
        d["limits"] = None
    assert solve(loose).net_benefit > base + 1


def test_partner_periods_change_the_reuse_optimum():
    data = load_example("reuse-partners")
    base = solve(data).net_benefit
    open_ = copy.deepcopy(data)
    for s in open_["supplies"]:
        s["partner_only_until"] = None
    assert solve(open_).net_benefit > base + 1
    later = copy.deepcopy(data)
    later["as_of"] = "2027-02-01"  # every partner-only period is over by then
    assert solve(later).net_benefit == pytest.approx(solve(open_).net_benefit, rel=1e-9)


def test_reuse_values_are_per_category():
    data = load_example("reuse-partners")
    flat = copy.deepcopy(data)
    for d in flat["demands"]:
        d["value"], d["value_by"] = 1000, None
    assert solve(flat).net_benefit != pytest.approx(solve(data).net_benefit, rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_greedy_is_feasible_and_never_beats_the_optimum(name):
    data = load_example(name)
    inst = matching.load_instance(data)
    g = matching.greedy(inst)
    assert g.status == "feasible"
    assert g.net_benefit <= matching.solve(inst).net_benefit + 1e-6
    assert matching.check(data, g.to_dict(), lp=False).ok


def test_progress_reports_stages_and_fractions():
    seen = []
    matching.solve(
        matching.load_instance(load_example("soil-with-yards")),
        progress=lambda stage, frac: seen.append((stage, frac)),
    )
    stages = [s for s, _ in seen]
    assert stages[0] == "candidates" and stages[-1] == "done"
    assert {"solve", "pricing", "explain"} <= set(stages)
    assert all(0.0 <= f <= 1.0 for _, f in seen)
