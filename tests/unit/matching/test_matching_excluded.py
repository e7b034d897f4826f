"""excluded_pairs: declined supply/demand pairs are never matched, directly or via a yard."""

import copy
import json

import pytest
from matching_helpers import load_example, random_instance

import matching


def _used_pairs(res_dict):
    return {(f["supply"], f["demand"]) for f in res_dict["flows"]}


def _top_pair(res_dict, via=False):
    flows = [f for f in res_dict["flows"] if (f["via"] is not None) == via]
    f = max(flows, key=lambda f: f["net_benefit"])
    return [f["supply"], f["demand"]]


@pytest.mark.parametrize(("seed", "yards"), [(3, 0), (5, 0), (7, 3)])
def test_excluded_pair_the_optimum_would_use_is_not_used(seed, yards):
    data = random_instance(seed, n_s=40, n_d=30, yards=yards)
    before = matching.solve(matching.load_instance(data)).to_dict()
    pair = _top_pair(before)
    data["excluded_pairs"] = [pair]
    res = matching.solve(matching.load_instance(data))
    out = json.loads(json.dumps(res.to_dict()))
    assert tuple(pair) not in _used_pairs(out)
    assert res.status == "optimal"
    assert res.net_benefit <= before["net_benefit"] + 1e-6 * abs(before["net_benefit"])
    report = matching.check(data, out)
    assert report.ok, report.errors
    greedy = json.loads(json.dumps(matching.greedy(matching.load_instance(data)).to_dict()))
    assert tuple(pair) not in _used_pairs(greedy)
    assert matching.check(data, greedy).ok


def test_excluded_pair_blocks_the_stockyard_route_too():
    data = load_example("soil-with-yards")
    before = matching.solve(matching.load_instance(data)).to_dict()
    via = [f for f in before["flows"] if f["via"] is not None]
    assert via, "the example is expected to use a stockyard"
    pair = _top_pair(before, via=True)
    data["excluded_pairs"] = [pair]
    out = json.loads(json.dumps(matching.solve(matching.load_instance(data)).to_dict()))
    assert tuple(pair) not in _used_pairs(out)
    report = matching.check(data, out)
    assert report.ok, report.errors


def test_checker_flags_a_result_that_uses_an_excluded_pair():
    data = random_instance(3, n_s=40, n_d=30)
    out = json.loads(json.dumps(matching.solve(matching.load_instance(data)).to_dict()))
    bad = copy.deepcopy(data)
    i = 0
    bad["excluded_pairs"] = [[out["flows"][i]["supply"], out["flows"][i]["demand"]]]
    report = matching.check(bad, out)
    assert not report.ok
    assert f"flows[{i}]: excluded pair (declined)" in report.errors


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([["S0", "D0"], ["S1"]], "excluded_pairs[1]: must be [supply id, demand id]"),
        (
            [["S0", "D0"], ["S1", "D1"], ["S2", "D2"], ["D3", "S3"]],
            "excluded_pairs[3]: unknown supply id 'D3'",
        ),
        ([["S0", "D99"]], "excluded_pairs[0]: unknown demand id 'D99'"),
        ([["S0", 5]], "excluded_pairs[0]: unknown demand id 5"),
        ("S0,D0", "excluded_pairs: must be a list of [supply id, demand id] pairs"),
    ],
)
def test_malformed_excluded_pairs_are_named(pairs, expected):
    data = random_instance(1, n_s=10, n_d=10)
    data["excluded_pairs"] = pairs
    with pytest.raises(matching.InstanceError) as exc:
        matching.load_instance(data)
    assert any(e.startswith(expected) for e in exc.value.errors), exc.value.errors


def test_empty_or_absent_excluded_pairs_change_nothing():
    data = random_instance(2, n_s=30, n_d=20)
    a = matching.solve(matching.load_instance(data)).net_benefit
    data["excluded_pairs"] = []
    assert matching.solve(matching.load_instance(data)).net_benefit == pytest.approx(a, rel=1e-9)
