"""The path LP re-solves from the previous basis when a pricing round only adds columns."""

import numpy as np
import pytest
from matching_helpers import random_instance

import matching
from matching.arcs import ArcSource
from matching.solver import NetworkPool, _PathLP


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

    assert warm.solver.Objective().Value() == pytest.approx(cold.solver.Objective().Value(),
                                                            rel=1e-9)
    # From the previous basis only the new columns need pivoting in; a from-scratch solve
    # (what presolve or scaling would force) takes about as many pivots as the cold one.
    assert warm.solver.iterations() < 0.6 * cold.solver.iterations()
