"""Version 2 (planning over time): the worked examples, each feature's effect, the
independent checker catching broken plans, and malformed input named by record and field."""

import copy
import json
import subprocess
import sys

import pytest
from matching_helpers import FIXTURES, load_example

import matching

NAMES = ["v2-yard-bridge", "v2-plant-upgrade", "v2-limits-committed"]
EXPECTED = load_example("expected-v2")


def solve(data) -> dict:
    return json.loads(json.dumps(matching.solve(matching.load_instance(data)).to_dict()))


def without_yards(d):
    d["stockyards"] = []


def unlimited_yards(d):
    for y in d["stockyards"]:
        y["capacity"] = 10**9


def free_holding(d):
    for y in d["stockyards"]:
        y["holding_cost_per_period"] = 0


def no_period_limits(d):
    for r in d["supplies"] + d["demands"]:
        r.pop("max_per_period", None)


def without_plants(d):
    d["plants"] = []


def unlimited_plants(d):
    for p in d["plants"]:
        p["capacity_per_period"] = 10**9


def nothing_committed(d):
    d["committed"] = []


WITHOUT = {
    "yards": without_yards,
    "yard-capacity": unlimited_yards,
    "holding": free_holding,
    "period-limits": no_period_limits,
    "plants": without_plants,
    "plant-capacity": unlimited_plants,
    "committed": nothing_committed,
}


@pytest.mark.parametrize("name", NAMES)
def test_example_reaches_the_expected_optimum_and_passes_the_checker(name):
    data = load_example(name)
    res = solve(data)
    want = EXPECTED[name]["net_benefit"]
    assert res["version"] == 2 and res["status"] == "optimal"
    assert res["net_benefit"] == pytest.approx(want, rel=1e-9)
    assert res["upper_bound"] == pytest.approx(res["net_benefit"], rel=1e-9)
    report = matching.check(data, res)
    assert report.ok, report.errors
    assert report.lp_optimum == pytest.approx(want, rel=1e-9)
    assert report.to_dict()["lp_columns"] == EXPECTED[name]["lp_columns"]


@pytest.mark.parametrize(
    ("name", "feature"),
    [(n, f) for n in NAMES for f in EXPECTED[n]["without"]],
)
def test_each_feature_changes_the_optimum_as_expected(name, feature):
    data = load_example(name)
    WITHOUT[feature](data)
    res = solve(data)
    assert res["status"] == "optimal"
    assert res["net_benefit"] == pytest.approx(EXPECTED[name]["without"][feature], rel=1e-9)
    assert res["net_benefit"] != pytest.approx(EXPECTED[name]["net_benefit"], rel=1e-6)
    assert matching.check(data, res).ok


def test_a_yard_bridges_the_gap_and_says_how_long_it_holds():
    res = solve(load_example("v2-yard-bridge"))
    held = [f for f in res["flows"] if f["yard"] == "Y1"]
    assert held and all(f["deliver_period"] >= 4 and f["ship_period"] <= 1 for f in held)
    for f in held:
        assert f["held_periods"] == f["deliver_period"] - f["ship_period"]
        assert f["why"][0]["code"] == "periods_apart"
        assert [(leg["from"], leg["to"]) for leg in f["legs"]] == [("S1", "Y1"), ("Y1", "D1")]
        assert f["holding_cost"] == pytest.approx(40 * f["held_periods"] * f["quantity"])
    # Capacity 700 binds in weeks 1-4, and the stock listed is what the flows put there.
    stock = {r["period"]: r["quantity"] for r in res["yard_stock"]}
    assert [stock.get(t) for t in (1, 2, 3, 4)] == [700, 700, 700, 700]


def test_a_plant_makes_class_4a_usable_and_its_weekly_capacity_binds():
    res = solve(load_example("v2-plant-upgrade"))
    treated = [f for f in res["flows"] if f["plant"]]
    assert {(f["plant"], f["class"]) for f in treated} == {("P1", "2b"), ("P2", "3a")}
    assert all(f["why"][0]["code"] == "treatment_needed" for f in treated)
    assert all(f["treatment_cost"] > 0 for f in treated)
    assert max(r["quantity"] for r in res["plant_load"] if r["plant"] == "P1") == 200


def test_committed_flows_are_kept_even_at_a_loss():
    data = load_example("v2-limits-committed")
    res = solve(data)
    kept = {
        (f["supply"], f["demand"], f["yard"], f["ship_period"], f["deliver_period"]): f
        for f in res["flows"]
        if f.get("committed")
    }
    assert set(kept) == {("S1", "D2", None, 0, 0), ("S2", "D2", "Y1", 0, 2)}
    assert kept[("S2", "D2", "Y1", 0, 2)]["net_benefit"] < 0
    assert kept[("S2", "D2", "Y1", 0, 2)]["why"][0]["code"] == "committed"


def broken(name: str, change) -> list[str]:
    data = load_example(name)
    res = solve(data)
    change(res)
    report = matching.check(data, res, lp=False)
    assert not report.ok
    return report.errors


def test_checker_catches_an_over_full_yard():
    def grow(res):
        f = next(f for f in res["flows"] if f["yard"] == "Y1" and f["deliver_period"] == 4)
        f["quantity"] += 50
        for r in res["yard_stock"]:
            if f["ship_period"] <= r["period"] <= 4:
                r["quantity"] += 50

    errs = broken("v2-yard-bridge", grow)
    assert any("stockyard Y1: holds 750" in e for e in errs), errs


def test_checker_catches_a_plant_over_capacity():
    def overload(res):
        f = next(f for f in res["flows"] if f["plant"] == "P1")
        f["quantity"] += 10

    errs = broken("v2-plant-upgrade", overload)
    assert any("plant P1: treats 210" in e for e in errs), errs
    assert any(e.startswith("plant_load P1") for e in errs), errs


def test_checker_catches_a_dropped_committed_flow():
    def drop(res):
        res["flows"] = [f for f in res["flows"] if f["yard"] != "Y1"]

    errs = broken("v2-limits-committed", drop)
    assert any(e.startswith("committed flow") for e in errs), errs


def test_checker_catches_weekly_limits_exceeded_and_wrong_periods():
    def exceed(res):
        f = next(
            f
            for f in res["flows"]
            if f["supply"] == "S1" and f["demand"] == "D1" and f["quantity"] == 300
        )
        f["quantity"] += 100

    errs = broken("v2-limits-committed", exceed)
    assert any("max_per_period 400" in e for e in errs), errs  # S1 ships 500 in one week
    assert any("max_per_period 300" in e for e in errs), errs  # D1 receives 400 in one week

    def early(res):
        f = next(f for f in res["flows"] if f["demand"] == "D1")
        f["deliver_period"] = f["ship_period"] = 0
        f["yard"] = None

    errs = broken("v2-yard-bridge", early)
    assert any("demand D1 not active in period 0" in e for e in errs), errs


def errors_for(name: str, mutate) -> list[str]:
    data = copy.deepcopy(load_example(name))
    mutate(data)
    with pytest.raises(matching.InstanceError) as exc:
        matching.load_instance(data)
    return exc.value.errors


@pytest.mark.parametrize(
    ("name", "mutate", "expected"),
    [
        ("v2-yard-bridge", lambda d: d.pop("horizon"), "horizon: missing"),
        (
            "v2-yard-bridge",
            lambda d: d["horizon"].update(periods=0),
            "horizon.periods: must be a whole number",
        ),
        (
            "v2-yard-bridge",
            lambda d: d["supplies"][0].update(max_per_period=-5),
            "supplies[0].max_per_period: negative",
        ),
        (
            "v2-yard-bridge",
            lambda d: d["stockyards"][0].update(holding_cost_per_period="a lot"),
            "stockyards[0].holding_cost_per_period: not a finite number",
        ),
        (
            "v2-yard-bridge",
            lambda d: d["demands"][1].update(window=["2027-02-01", "2027-01-01"]),
            "demands[1].window: end before start",
        ),
        (
            "v2-plant-upgrade",
            lambda d: d["plants"][1].update(converts={"4a": "9z"}),
            "plants[1].converts.4a: unknown output class '9z'",
        ),
        (
            "v2-plant-upgrade",
            lambda d: d["plants"][0].pop("capacity_per_period"),
            "plants[0].capacity_per_period: missing",
        ),
        (
            "v2-limits-committed",
            lambda d: d["committed"][0].update(supply="S7"),
            "committed[0].supply: unknown supply id 'S7'",
        ),
        (
            "v2-limits-committed",
            lambda d: d["committed"][1].update(deliver_period=5),
            "committed[1].deliver_period: must be a period from 0 to 2",
        ),
        (
            "v2-limits-committed",
            lambda d: d["committed"][0].update(
                demand="D1", quantity=50, ship_period=1, deliver_period=0
            ),
            "committed[0].deliver_period: differs from ship_period",
        ),
        (
            "v2-limits-committed",
            lambda d: d["committed"][1].update(demand="D1"),  # D1 does not accept 3a
            "committed[1]: breaks a rule: class not accepted",
        ),
        (
            "v2-limits-committed",
            lambda d: d["committed"][0].update(quantity=450),
            "committed: supply S1 ships 450 in period 0 > max_per_period",
        ),
        (
            "v2-limits-committed",
            lambda d: d["stockyards"][0].update(capacity=50),
            "committed: stockyard Y1 holds 100 in period 0 > capacity",
        ),
    ],
)
def test_malformed_input_names_record_and_field(name, mutate, expected):
    errs = errors_for(name, mutate)
    assert any(e.startswith(expected) for e in errs), errs


def test_version_1_instances_still_solve_as_version_1():
    data = load_example("soil-with-yards")
    res = matching.solve(matching.load_instance(data)).to_dict()
    assert res["version"] == 1 and res["status"] == "optimal"


def test_cli_solves_and_checks_version_2(tmp_path):
    out = tmp_path / "r.json"
    inst = FIXTURES / "v2-limits-committed.json"
    run = subprocess.run(
        [sys.executable, "-m", "matching", "solve", str(inst), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text())["version"] == 2
    chk = subprocess.run(
        [sys.executable, "-m", "matching", "check", str(inst), str(out)],
        capture_output=True,
        text=True,
    )
    assert chk.returncode == 0 and json.loads(chk.stdout)["ok"], chk.stdout
    bad = json.loads(inst.read_text())
    bad["committed"][0]["supply"] = "S7"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    run = subprocess.run(
        [sys.executable, "-m", "matching", "solve", str(path)], capture_output=True, text=True
    )
    assert run.returncode == 2
    assert "committed[0].supply: unknown supply id 'S7'" in run.stderr
    assert "Traceback" not in run.stderr
