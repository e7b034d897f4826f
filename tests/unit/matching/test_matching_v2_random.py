"""Random version 2 instances of every shape against the checker's own LP over every
allowed column; and re-planning after a schedule slip keeps what was agreed."""

import json

import pytest
from matching_helpers import random_planning_instance

import matching


def solve(data) -> dict:
    return json.loads(json.dumps(matching.solve(matching.load_instance(data)).to_dict()))


@pytest.mark.parametrize(
    ("seed", "shape"),
    [(seed, shape) for seed in range(12) for shape in ("plain", "blend", "partners")],
)
def test_random_plans_are_optimal_by_the_checkers_lp(seed, shape):
    data = random_planning_instance(
        seed,
        n_s=12,
        n_d=12,
        yards=3,
        periods=6 + seed % 3,
        blend=shape == "blend",
        partners=shape == "partners",
    )
    res = solve(data)
    report = matching.check(data, res)
    assert report.ok, report.errors
    assert res["status"] == "optimal"
    assert report.lp_optimum == pytest.approx(res["net_benefit"], rel=1e-6, abs=1e-3)


@pytest.mark.parametrize("seed", range(6))
def test_a_re_run_after_a_schedule_slip_keeps_every_agreement(seed):
    data = random_planning_instance(100 + seed, n_s=7, n_d=7)
    first = solve(data)
    if len(first["flows"]) < 2:
        pytest.skip("nothing to agree on in this draw")
    agreed = first["flows"][:2]
    data["committed"] = [
        {k: f[k] for k in ("supply", "demand", "plant", "yard", "ship_period", "deliver_period")}
        | {"quantity": f["quantity"]}
        for f in agreed
    ]
    # A demand nobody agreed with slips two weeks; everything else is planned again.
    kept = {f["demand"] for f in agreed}
    slipped = next((d for d in data["demands"] if d["id"] not in kept), None)
    if slipped is not None:
        slipped["window"] = ["2027-01-18", "2027-03-31"]
    again = solve(data)
    report = matching.check(data, again)
    assert report.ok, report.errors
    assert again["status"] == "optimal"
    for f in agreed:
        key = tuple(
            f[k] for k in ("supply", "demand", "plant", "yard", "ship_period", "deliver_period")
        )
        total = sum(
            g["quantity"]
            for g in again["flows"]
            if tuple(
                g[k] for k in ("supply", "demand", "plant", "yard", "ship_period", "deliver_period")
            )
            == key
        )
        assert total >= f["quantity"] - 1e-6


@pytest.mark.parametrize("seed", range(10))
def test_yard_routes_priced_without_a_list_reach_the_same_optimum(seed):
    from matching.v2.solver import solve_planning

    data = random_planning_instance(200 + seed, n_s=15, n_d=15, yards=4, periods=6 + seed % 4)
    for y in data["stockyards"]:
        y["capacity"] = y["capacity"] // 3  # occupancy binds in more weeks
    inst = matching.load_instance(data)
    decomposed = solve_planning(inst)
    listed = solve_planning(inst, list_yard_routes=True)
    assert decomposed.stats["yard_pricing"] == "decomposed"
    assert "yard_pricing" not in listed.stats
    assert decomposed.status == listed.status == "optimal"
    assert decomposed.net_benefit == pytest.approx(listed.net_benefit, rel=1e-6)
    report = matching.check(data, solve(data))
    assert report.ok, report.errors
