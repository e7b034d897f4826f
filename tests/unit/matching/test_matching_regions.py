"""Instances that fall apart into regions no haul can join are solved region by region,
with the same optimum, the same rules (partners, declined pairs) and a valid bound."""

import json

import numpy as np
import pytest
from matching_helpers import random_instance

import matching
from matching.arcs import ArcSource
from matching.regions import find_regions, subset
from matching.solver import solve_plan

# Three metropolitan areas far more than any haul apart, and one 45 km east of Tokyo.
CENTRES = [(0.0, 0.0), (-0.99, -4.20), (7.46, 1.65)]  # Tokyo, Osaka, Sapporo (offsets)


def _regional_instance(seed: int, centres=CENTRES, n_s=30, n_d=26) -> dict:
    """Random clusters moved to far-apart centres; every supply has a haul limit."""
    parts = [random_instance(seed * 10 + i, n_s=n_s, n_d=n_d, partners=True) for i in range(3)]
    data = dict(parts[0], supplies=[], demands=[])
    for i, (part, (dlat, dlon)) in enumerate(zip(parts, centres, strict=False)):
        for key, prefix in (("supplies", "S"), ("demands", "D")):
            for rec in part[key]:
                rec = dict(rec, id=f"{prefix}{i}-{rec['id'][1:]}")
                rec["lat"] += dlat
                rec["lon"] += dlon
                if key == "supplies":
                    rec["max_haul_km"] = rec["max_haul_km"] or 40
                data[key].append(rec)
    # Declined pairs inside each region (and one across, which changes nothing).
    data["excluded_pairs"] = [
        ["S0-1", "D0-2"],
        ["S1-3", "D1-0"],
        ["S2-0", "D2-4"],
        ["S0-0", "D1-0"],
    ]
    return data


def test_far_apart_areas_are_separate_regions():
    inst = matching.load_instance(_regional_instance(1))
    regions = find_regions(inst)
    assert regions is not None and len(regions) == 3
    for region in regions:
        area = {inst.supplies.ids[i].split("-")[0][1:] for i in region.supplies}
        area |= {inst.demands.ids[j].split("-")[0][1:] for j in region.demands}
        assert len(area) == 1  # no region mixes two areas


def test_no_allowed_arc_crosses_two_regions():
    inst = matching.load_instance(_regional_instance(2))
    regions = find_regions(inst)
    s_region = np.full(len(inst.supplies.ids), -1)
    d_region = np.full(len(inst.demands.ids), -1)
    for k, region in enumerate(regions):
        s_region[region.supplies], d_region[region.demands] = k, k
    arcs = ArcSource(inst).all_arcs()
    assert len(arcs) > 0
    assert (s_region[arcs.s] == d_region[arcs.d]).all()
    assert (s_region[arcs.s] >= 0).all()


@pytest.mark.parametrize("seed", range(6))
def test_region_by_region_equals_whole_instance(seed):
    data = _regional_instance(seed)
    inst = matching.load_instance(data)
    whole = solve_plan(inst, split=False)
    split = solve_plan(inst)
    assert split.stats["regions"] == 3
    assert split.status == whole.status == "optimal"
    assert split.net_benefit == pytest.approx(whole.net_benefit, rel=1e-9)
    assert split.upper_bound >= split.net_benefit - 1e-6
    res = matching.solve(inst)
    report = matching.check(data, json.loads(json.dumps(res.to_dict())))
    assert report.ok, report.errors


def test_sub_instance_keeps_declined_pairs_and_partners():
    data = _regional_instance(3)
    inst = matching.load_instance(data)
    for region in find_regions(inst):
        sub = subset(inst, region)
        for code in sub.excluded_codes.tolist():
            s, d = divmod(code, len(sub.demands.ids))
            pair = [sub.supplies.ids[s], sub.demands.ids[d]]
            assert pair in data["excluded_pairs"]
        for code in sub.partner_codes.tolist():
            d, owner = divmod(code, sub.n_owners)
            whole_d = region.demands[d]
            assert whole_d * inst.n_owners + owner in set(inst.partner_codes.tolist())


def test_close_areas_are_one_region():
    # 0.4° of longitude (~36 km) apart: a 40 km haul can join them.
    data = _regional_instance(4, centres=[(0.0, 0.0), (0.0, 0.4), (7.46, 1.65)])
    regions = find_regions(matching.load_instance(data))
    assert len(regions) == 2


def test_without_haul_limits_the_benefit_bounds_the_reach():
    # No haul limits: transport (60 yen/km) eats any benefit within a few hundred km, so
    # Tokyo, Osaka and Sapporo are still apart; with free transport nothing is.
    data = _regional_instance(5)
    data["supplies"] = [dict(s, max_haul_km=None) for s in data["supplies"]]
    data["demands"] = [dict(d, max_haul_km=None) for d in data["demands"]]
    assert len(find_regions(matching.load_instance(data))) == 3
    data["transport"] = dict(data["transport"], cost_per_unit_km=0)
    data["carbon_price_per_kg"] = 0
    assert find_regions(matching.load_instance(data)) is None


def test_instance_with_stockyards_is_not_split():
    data = random_instance(7, n_s=20, n_d=20, yards=2)
    data["supplies"] = [dict(s, max_haul_km=30) for s in data["supplies"]]
    assert find_regions(matching.load_instance(data)) is None


@pytest.mark.parametrize("seed", range(3))
def test_reasons_checked_per_region_equal_all_against_all(seed, monkeypatch):
    """Unmatched listings are explained against their own region first (fast at the
    national scale); the reasons and figures are those of checking every counterpart."""
    from matching import result as result_module

    data = _regional_instance(seed, n_s=40, n_d=20)
    # A demand far from everything, so that one reason needs the nationwide nearest.
    data["demands"].append(dict(data["demands"][0], id="D-far", lat=33.0, lon=131.0))
    inst = matching.load_instance(data)
    plan = solve_plan(inst)
    monkeypatch.setattr(result_module, "_LOCAL_MIN", 0)
    regional = result_module.build_result(inst, plan)
    monkeypatch.setattr(result_module, "find_regions", lambda *a, **k: None)
    everywhere = result_module.build_result(inst, plan)
    assert regional.unmatched_supply == everywhere.unmatched_supply
    assert regional.unmet_demand == everywhere.unmet_demand
    codes = {u["code"] for u in regional.unmatched_supply + regional.unmet_demand}
    assert "beyond_haul" in codes and len(codes) >= 2
