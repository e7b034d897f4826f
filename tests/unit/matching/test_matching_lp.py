"""Path LP between pricing rounds: warm re-solves, columns held at 0, the cold fallback."""

import json

import numpy as np
import pytest
from matching_helpers import random_instance

import matching
from matching import column_lp
from matching._ortools import pywraplp
from matching.arcs import ArcSource
from matching.column_lp import _PathLP
from matching.solver import NetworkPool


def _add_direct(lp: _PathLP, src: ArcSource, pool: NetworkPool, idx: np.ndarray) -> None:
    s, d = pool.s[idx].astype(np.int64), pool.d[idx].astype(np.int64)
    lp.add(s, np.full(len(s), -1), d, src.exact_km(s, d), np.zeros(len(s)), pool.b[idx])


@pytest.mark.parametrize("seed", range(4))
def test_adding_columns_resolves_to_the_cold_optimum_from_the_previous_basis(seed):
    inst = matching.load_instance(random_instance(seed, n_s=60, n_d=50, blend=True))
    assert inst.has_blending
    src = ArcSource(inst)
    pool = NetworkPool(src, 2, 2)
    first = pool.initial_idx
    rest = np.setdiff1d(np.arange(len(pool)), first)
    assert len(rest) > 50

    warm = _PathLP(inst)
    _add_direct(warm, src, pool, first)
    warm.solve()
    _add_direct(warm, src, pool, rest)
    warm.solve()
    cold = _PathLP(inst)
    _add_direct(cold, src, pool, np.concatenate([first, rest]))
    cold.solve()

    assert warm.solver.Objective().Value() == pytest.approx(
        cold.solver.Objective().Value(), rel=1e-9
    )
    # From the previous basis only the new columns need pivoting in; a from-scratch solve
    # (what presolve or scaling would force) takes about as many pivots as the cold one.
    assert warm.solver.iterations() < 0.6 * cold.solver.iterations()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("yards", [0, 3])
def test_columns_held_at_zero_and_released_keep_the_optimum_exact(seed, yards, monkeypatch):
    # Margin 0: every column without flow and with a negative reduced benefit is held at
    # 0, so pricing has to release some of them again for the optimum to be reached.
    monkeypatch.setattr(column_lp, "RETIRE_MARGIN", 0.0)
    data = random_instance(seed, n_s=60, n_d=50, yards=yards, blend=True)
    res = matching.solve(matching.load_instance(data))
    assert res.stats["retired_columns"] > 0
    assert res.status == "optimal"
    report = matching.check(data, json.loads(json.dumps(res.to_dict())))
    assert report.ok, report.errors
    assert res.net_benefit == pytest.approx(report.lp_optimum, rel=1e-6, abs=1e-6)


class _ImpreciseOnce:
    """GLOP as seen through pywraplp, except that the first solve reports ABNORMAL (what
    an imprecise incremental solve looks like)."""

    def __init__(self, glop):
        self._glop = glop
        self.solves = 0

    def Solve(self, *params):  # noqa: N802 - pywraplp's name
        self.solves += 1
        status = self._glop.Solve(*params)
        return pywraplp.Solver.ABNORMAL if self.solves == 1 else status

    def __getattr__(self, name):
        return getattr(self._glop, name)


def test_an_imprecise_solve_is_repeated_from_scratch():
    inst = matching.load_instance(random_instance(5, n_s=40, n_d=30, blend=True))
    src = ArcSource(inst)
    pool = NetworkPool(src, 2, 2)
    every = np.arange(len(pool))
    flaky = _PathLP(inst)
    flaky.solver = _ImpreciseOnce(flaky.solver)
    _add_direct(flaky, src, pool, every)
    flaky.solve()
    plain = _PathLP(inst)
    _add_direct(plain, src, pool, every)
    plain.solve()
    assert flaky.solver.solves == 2
    assert flaky.solver.Objective().Value() == pytest.approx(
        plain.solver.Objective().Value(), rel=1e-9
    )
