"""Bad input is refused with `record.field: problem`; never a stack trace."""

import copy
import json
import math
import subprocess
import sys

import pytest
from matching_helpers import FIXTURES, load_example

import matching

SOIL = load_example("soil-with-yards")


def errors_for(mutate) -> list[str]:
    data = copy.deepcopy(SOIL)
    mutate(data)
    with pytest.raises(matching.InstanceError) as exc:
        matching.load_instance(data)
    return exc.value.errors


def test_window_end_before_start():
    def m(d):
        d["demands"][3]["window"] = ["2027-05-01", "2027-04-01"]

    assert "demands[3].window: end before start" in errors_for(m)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["supplies"][1].update({"class": "5z"}),
            "supplies[1].class: unknown class '5z'",
        ),
        (
            lambda d: d["demands"][0]["accepts"].append("2x"),
            "demands[0].accepts: unknown class '2x'",
        ),
        (lambda d: d["supplies"][2].update({"quantity": -3}), "supplies[2].quantity: negative"),
        (
            lambda d: d["supplies"][0].update({"lat": math.nan}),
            "supplies[0].lat: not a finite number",
        ),
        (lambda d: d["demands"][1].update({"lon": "east"}), "demands[1].lon: not a number"),
        (lambda d: d["supplies"][4].update({"id": "S0"}), "supplies[4].id: duplicate id 'S0'"),
        (
            lambda d: d["demands"][2].update({"min_grade": "RC-99"}),
            "demands[2].min_grade: unknown grade",
        ),
        (lambda d: d["stockyards"][0].update({"capacity": -1}), "stockyards[0].capacity: negative"),
        (
            lambda d: d["supplies"][0].update({"window": ["2027-13-01", "2027-12-31"]}),
            "supplies[0].window: not a date",
        ),
        (lambda d: d.pop("transport"), "transport: missing"),
    ],
)
def test_malformed_fields_are_named(mutate, expected):
    errs = errors_for(mutate)
    assert any(e.startswith(expected) for e in errs), errs


def test_instance_class_list_overrides_the_soil_vocabulary():
    data = copy.deepcopy(SOIL)
    data["classes"] = ["1", "2a", "2b", "3a", "3b", "4a", "4i", "1i", "2i", "3i", "4b", "6x"]
    data["supplies"][0]["class"] = "6x"
    matching.load_instance(data)  # accepted: the instance names its own classes


def test_cli_reports_bad_input_without_traceback(tmp_path):
    data = copy.deepcopy(SOIL)
    data["demands"][3]["window"] = ["2027-05-01", "2027-04-01"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    run = subprocess.run(
        [sys.executable, "-m", "matching", "solve", str(path), "--out", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert "demands[3].window: end before start" in run.stderr
    assert "Traceback" not in run.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    run = subprocess.run(
        [sys.executable, "-m", "matching", "solve", str(garbage)], capture_output=True, text=True
    )
    assert run.returncode != 0 and "not valid JSON" in run.stderr and "Traceback" not in run.stderr


def test_cli_solve_then_check_round_trip(tmp_path):
    out = tmp_path / "r.json"
    inst = FIXTURES / "recycled-blending.json"
    run = subprocess.run(
        [sys.executable, "-m", "matching", "solve", str(inst), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    chk = subprocess.run(
        [sys.executable, "-m", "matching", "check", str(inst), str(out)],
        capture_output=True,
        text=True,
    )
    assert chk.returncode == 0 and json.loads(chk.stdout)["ok"]


def test_empty_instance_is_an_empty_optimal_result():
    data = {
        "version": 1,
        "material": "soil",
        "transport": {"road_factor": 1.3, "cost_per_unit_km": 90},
        "supplies": [],
        "demands": [],
    }
    res = matching.solve(matching.load_instance(data)).to_dict()
    assert res["status"] == "optimal" and res["flows"] == [] and res["net_benefit"] == 0


def test_nothing_matchable_is_optimal_with_reasons():
    data = copy.deepcopy(SOIL)
    for d in data["demands"]:
        d["accepts"] = ["mud-c"]
    data["stockyards"] = []
    res = matching.solve(matching.load_instance(data)).to_dict()
    assert res["status"] == "optimal" and res["flows"] == []
    assert len(res["unmatched_supply"]) == len(data["supplies"])
    assert all("no compatible counterpart" in r["reason"] for r in res["unmatched_supply"])


def test_unmatched_reasons_name_haul_windows_and_worth():
    base = {
        "version": 1,
        "material": "soil",
        "as_of": "2027-01-05",
        "transport": {"road_factor": 1.3, "cost_per_unit_km": 90, "co2_kg_per_unit_km": 0.3},
    }
    sup = {
        "id": "S",
        "lat": 35.68,
        "lon": 139.76,
        "quantity": 100,
        "class": "2b",
        "window": ["2027-02-01", "2027-03-01"],
        "disposal_cost": 100,
        "max_haul_km": 50,
    }
    far = {
        "id": "D",
        "lat": 36.5,
        "lon": 139.76,
        "quantity": 100,
        "value": 100,
        "window": ["2027-02-01", "2027-03-01"],
    }
    later = dict(far, lat=35.70, window=["2027-06-01", "2027-07-01"])
    costly = dict(far, lat=35.9)
    for dem, code in (
        (far, "beyond_haul"),
        (later, "no_window_overlap"),
        (costly, "not_worth_haul"),
    ):
        res = matching.solve(matching.load_instance(dict(base, supplies=[sup], demands=[dem])))
        row = res.to_dict()["unmatched_supply"][0]
        assert row["code"] == code, row
        if code == "not_worth_haul":
            assert "yen/unit" in row["reason"]


def test_matching_package_stays_pure():
    import ast
    import pathlib

    root = pathlib.Path(matching.__file__).parent
    allowed = {"ortools", "numpy", "numba", "__future__"}  # numba: compiled pricing loops
    stdlib = set(sys.stdlib_module_names)
    for py in root.glob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                assert top in allowed or top in stdlib, f"{py.name} imports {n}"
