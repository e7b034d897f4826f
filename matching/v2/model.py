"""The version 2 instance as the solver sees it: the horizon, committed flows and the
planning instance (read and validated by ``instance.py``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from ..instance import Instance


@dataclass
class Horizon:
    start: int  # date ordinal of period 0's first day
    period_days: int
    periods: int

    def interval(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Active periods [a, b] of date windows [lo, hi] (b < a when none): period k
        covers start + k·period_days … start + (k+1)·period_days − 1."""
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.asarray(hi, dtype=np.int64)
        a = np.maximum(np.floor_divide(lo - self.start, self.period_days), 0)
        b = np.minimum(np.floor_divide(hi - self.start, self.period_days), self.periods - 1)
        return a, b

    def first_day(self, k: int) -> dt.date:
        return dt.date.fromordinal(self.start + k * self.period_days)


@dataclass
class Committed:
    s: int
    d: int
    p: int  # -1: no plant
    y: int  # -1: no yard
    ts: int
    td: int
    quantity: float


@dataclass
class PlanningInstance:
    """A validated version 2 instance: the version 1 arrays plus time, plants, commitments."""

    raw: dict
    base: Instance
    horizon: Horizon
    # active period interval [lo, hi] per record (hi < lo: never active)
    s_lo: np.ndarray
    s_hi: np.ndarray
    d_lo: np.ndarray
    d_hi: np.ndarray
    y_lo: np.ndarray
    y_hi: np.ndarray
    p_lo: np.ndarray
    p_hi: np.ndarray
    s_per_period: np.ndarray  # inf: no limit
    d_per_period: np.ndarray
    y_capacity: np.ndarray
    y_holding: np.ndarray
    plant_ids: list[str]
    p_lat: np.ndarray
    p_lon: np.ndarray
    p_capacity: np.ndarray  # per period
    p_cost: np.ndarray
    p_converts: np.ndarray  # (P, C+1): output class index, -1 refused
    class_rank: np.ndarray  # (C+1,) grade rank of each class
    committed: list[Committed] = field(default_factory=list)

    @property
    def periods(self) -> int:
        return self.horizon.periods

    @property
    def class_names(self) -> list[str]:
        return self.base.classes

    def class_name(self, c: int) -> str | None:
        return self.base.classes[c] if c < len(self.base.classes) else None
