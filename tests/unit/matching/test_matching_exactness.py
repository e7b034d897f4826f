"""Pruned candidates + pricing give the same optimum as building every arc."""

import json

import numpy as np
import pytest
from matching_helpers import random_instance

import matching
from matching.arcs import ArcSource, direct_arcs
from matching.network import choose_scale, solve_transport


def naive_network_optimum(inst) -> float:
    nS, nD = len(inst.supplies.ids), len(inst.demands.ids)
    si = np.repeat(np.arange(nS), nD)
    di = np.tile(np.arange(nD), nS)
    ok, arcs = direct_arcs(inst, si, di)
    arcs = arcs.take(ok & (arcs.b > 0))
    qs = np.rint(inst.supplies.qty).astype(np.int64)
    qd = np.rint(inst.demands.qty).astype(np.int64)
    scale = choose_scale(
        float(inst.s_base.max() + inst.d_value.max()), qs.sum() + qd.sum(), nS + nD + 1
    )
    sol = solve_transport(arcs, qs, qd, scale)
    return float(sol.flow @ arcs.b)


@pytest.mark.parametrize("seed", range(12))
def test_pruned_network_equals_all_arcs(seed):
    data = random_instance(seed, n_s=60, n_d=50)
    inst = matching.load_instance(data)
    res = matching.solve(inst)
    assert "min-cost flow" in res.stats["model"]
    assert res.status == "optimal"
    assert res.net_benefit == pytest.approx(naive_network_optimum(inst), rel=1e-6)
    report = matching.check(data, json.loads(json.dumps(res.to_dict())))
    assert report.ok, report.errors


def test_grid_enumeration_finds_every_allowed_arc():
    data = random_instance(99, n_s=120, n_d=110)
    inst = matching.load_instance(data)
    src = ArcSource(inst, cell_km=3.0)
    got = src.all_arcs()
    nS, nD = len(inst.supplies.ids), len(inst.demands.ids)
    ok, arcs = direct_arcs(inst, np.repeat(np.arange(nS), nD), np.tile(np.arange(nD), nS))
    want = arcs.take(ok & (arcs.b > 0))
    assert sorted(zip(got.s.tolist(), got.d.tolist(), strict=True)) == sorted(
        zip(want.s.tolist(), want.d.tolist(), strict=True)
    )
    assert src.pairs_considered() < nS * nD


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("kind", ["yards", "blend", "partners", "fractional"])
def test_lp_model_matches_independent_lp(seed, kind):
    data = random_instance(
        seed,
        n_s=16,
        n_d=12,
        yards=3 if kind == "yards" else 0,
        blend=kind == "blend",
        partners=kind == "partners",
        fractional=kind == "fractional",
    )
    res = matching.solve(matching.load_instance(data))
    assert res.status == "optimal"
    report = matching.check(data, json.loads(json.dumps(res.to_dict())))
    assert report.ok, report.errors
    assert res.net_benefit == pytest.approx(report.lp_optimum, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_network_and_lp_models_agree(seed):
    inst = matching.load_instance(random_instance(seed, n_s=30, n_d=25, partners=True))
    a = matching.solve(inst, method="network")
    b = matching.solve(inst, method="lp")
    assert a.net_benefit == pytest.approx(b.net_benefit, rel=1e-6)


def test_checker_catches_a_broken_result():
    data = random_instance(3, n_s=20, n_d=15)
    res = matching.solve(matching.load_instance(data)).to_dict()
    assert res["flows"]
    bad = json.loads(json.dumps(res))
    bad["flows"][0]["quantity"] *= 50
    assert not matching.check(data, bad).ok
    worse = json.loads(json.dumps(res))
    worse["flows"] = worse["flows"][1:]
    worse["net_benefit"] = sum(f["net_benefit"] for f in worse["flows"])
    report = matching.check(data, worse)
    assert not report.ok  # leftovers no longer add up, and 'optimal' is no longer true


@pytest.mark.parametrize("seed", range(4))
def test_greedy_never_beats_the_optimum(seed):
    inst = matching.load_instance(random_instance(seed, n_s=40, n_d=30))
    assert matching.greedy(inst).net_benefit <= matching.solve(inst).net_benefit + 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_pricing_radius_bounds_every_arc_beyond_it(seed):
    """No allowed arc beyond a supply's pricing radius has b − v above the reported bound
    (which equals u_s at the radius), for arbitrary non-negative duals; carbon and value_by
    included in the random instances."""
    from matching.pricing import GridPricer

    data = random_instance(seed, n_s=70, n_d=60)
    inst = matching.load_instance(data)
    nS, nD = len(inst.supplies.ids), len(inst.demands.ids)
    rng = np.random.default_rng(seed)
    u = rng.uniform(0, 3000, nS) * (rng.random(nS) < 0.7)
    v = rng.uniform(0, 3000, nD) * (rng.random(nD) < 0.6)
    pricer = GridPricer(inst, ArcSource(inst))
    radius, beyond = pricer.radius(u, v)
    ok, arcs = direct_arcs(inst, np.repeat(np.arange(nS), nD), np.tile(np.arange(nD), nS))
    arcs = arcs.take(ok & (arcs.b > 0))
    far = arcs.km > radius[arcs.s]
    red = arcs.b - v[arcs.d]
    assert np.all(red[far] <= beyond[arcs.s[far]] + 1e-6)
    cut = radius < pricer.reach
    assert np.allclose(beyond[cut & (radius > 0)], u[cut & (radius > 0)])
    # and the pricing pass gives u_need ≥ b − v on every allowed arc (a valid bound)
    _s, _d, _b, u_need = pricer.price(u, v, 1e-9, np.zeros(0, np.int64), 2, 2)
    assert np.all(u_need[arcs.s] >= red - 1e-6)  # chord vs haversine km: ~1e-7
    assert np.all(u_need >= 0)


@pytest.mark.parametrize("rules", [False, True])
def test_pricing_finds_every_violated_arc_within_radius(rules):
    """Grid pricing with cell bounds finds exactly the violated arcs, and its tightest
    supply duals bound every arc without exceeding the true ones by more than tol (cells
    skipped whole count with their bound). With `rules`, partner periods and declined
    pairs, which the compiled loop leaves to `compatible`."""
    from matching.pricing import GridPricer

    data = random_instance(5, n_s=80, n_d=70, partners=rules)
    if rules:
        data["excluded_pairs"] = [[f"S{i}", f"D{(3 * i) % 70}"] for i in range(0, 80, 2)]
    inst = matching.load_instance(data)
    nS, nD = len(inst.supplies.ids), len(inst.demands.ids)
    rng = np.random.default_rng(1)
    u, v = rng.uniform(0, 2000, nS), rng.uniform(0, 2000, nD)
    pricer = GridPricer(inst, ArcSource(inst))
    ok, arcs = direct_arcs(inst, np.repeat(np.arange(nS), nD), np.tile(np.arange(nD), nS))
    arcs = arcs.take(ok & (arcs.b > 0))
    viol = arcs.b - v[arcs.d] - u[arcs.s] > 1e-9
    tol = 1e-3
    s, d, _b, u_need = pricer.price(u, v, 1e-9, np.zeros(0, np.int64), nD, nS)
    assert sorted(zip(s.tolist(), d.tolist(), strict=True)) == sorted(
        zip(arcs.s[viol].tolist(), arcs.d[viol].tolist(), strict=True)
    )
    assert np.all(u_need[arcs.s] >= arcs.b - v[arcs.d] - 1e-6)
    # Not looser than tol above the supply's dual or its true tightest dual.
    _s, _d, _b, u_need = pricer.price(u, v, tol, np.zeros(0, np.int64), nD, nS)
    true = np.zeros(nS)
    np.maximum.at(true, arcs.s, arcs.b - v[arcs.d])
    _radius, beyond = pricer.radius(u, v)
    assert np.all(u_need <= np.maximum.reduce([true, u + tol, beyond]) + 1e-6)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("warm_max_new", [0, 10_000])
def test_network_tail_rounds_reach_the_all_arcs_optimum(seed, warm_max_new, monkeypatch):
    """A first model far too small forces several later rounds: LP re-solves, cold on a
    trimmed working set (warm_max_new 0) or warm on a growing one; the result is the
    all-arcs optimum, in whole units, and passes the independent checker."""
    import matching.solver as solver

    monkeypatch.setattr(solver, "FIRST_RADIUS_KM", 1.0)
    monkeypatch.setattr(solver, "WARM_MAX_NEW", warm_max_new)
    data = random_instance(seed, n_s=70, n_d=60)
    inst = matching.load_instance(data)
    plan = solver.solve_plan(inst, k=1)
    assert plan.stats["rounds"] > 2
    assert plan.status == "optimal"
    assert np.all(plan.qty == np.round(plan.qty))
    assert plan.net_benefit == pytest.approx(naive_network_optimum(inst), rel=1e-9)
    res = matching.build_result(inst, plan)
    report = matching.check(data, json.loads(json.dumps(res.to_dict())))
    assert report.ok, report.errors


def test_whole_flows_rounds_a_vertex_and_refuses_anything_else():
    from matching.transport_lp import whole_flows

    s, d = np.array([0, 0, 1]), np.array([0, 1, 1])
    qs, qd = np.array([10, 5]), np.array([4, 11])
    got = whole_flows(np.array([4.0000000001, 5.9999999999, 5.0]), s, d, qs, qd)
    assert got.tolist() == [4, 6, 5]
    assert whole_flows(np.array([3.5, 6.5, 5.0]), s, d, qs, qd) is None  # not whole
    assert whole_flows(np.array([4.0, 7.0, 5.0]), s, d, qs, qd) is None  # supply 0 over
    assert whole_flows(np.array([4.0, 6.0, 6.0]), s, d, qs, qd) is None  # demand 1 over


def test_short_hauls_report_exact_figures():
    """Sites tens of metres apart: km, costs and CO2 agree with the checker's haversine
    (the dot-product km loses ~1e-6 of its value below a kilometre)."""
    rng = np.random.default_rng(7)
    sup, dem = [], []
    for i in range(40):
        lat, lon = 35.6 + rng.uniform(0, 0.3), 139.5 + rng.uniform(0, 0.4)
        sup.append(
            {
                "id": f"S{i}",
                "lat": lat,
                "lon": lon,
                "quantity": 20000,
                "class": "2a",
                "disposal_cost": 3000,
            }
        )
        dem.append(
            {
                "id": f"D{i}",
                "lat": lat + rng.uniform(1e-4, 3e-3),
                "lon": lon + rng.uniform(1e-4, 3e-3),
                "quantity": 20000,
                "value": 2000,
                "accepts": ["2a"],
            }
        )
    data = {
        "version": 1,
        "material": "soil",
        "transport": {"road_factor": 1.3, "cost_per_unit_km": 90, "co2_kg_per_unit_km": 0.35},
        "supplies": sup,
        "demands": dem,
    }
    res = matching.solve(matching.load_instance(data))
    assert res.status == "optimal" and len(res.flows) == 40
    report = matching.check(data, json.loads(json.dumps(res.to_dict())))
    assert report.ok, report.errors
