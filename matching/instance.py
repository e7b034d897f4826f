"""Reading and validating a matching instance (shared/matching/INSTANCE.md, version 1).

`load_instance` turns the JSON dict into an `Instance`: the records as given plus numpy
arrays the solver works on. Every problem is reported as `record.field: what is wrong`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# 土質区分 as used by the public matching system, spelled as in the example files.
SOIL_CLASSES = (
    "1",
    "1i",
    "2a",
    "2b",
    "2i",
    "3a",
    "3b",
    "3i",
    "4a",
    "4b",
    "4i",
    "mud-a",
    "mud-b",
    "mud-c",
)

NO_DAY_LO = -(10**9)
NO_DAY_HI = 10**9
_NOT_GRADED = 10**6  # rank of a class that is not in the grade list
_NO_MIN_GRADE = 10**7


class InstanceError(ValueError):
    """A malformed instance; `errors` lists every `record.field: problem` found."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__(
            "; ".join(self.errors[:20])
            + (f" (and {len(self.errors) - 20} more)" if len(self.errors) > 20 else "")
        )


@dataclass
class Sites:
    """Arrays for one kind of listing; index i is the i-th record."""

    ids: list[str]
    lat: np.ndarray
    lon: np.ndarray
    qty: np.ndarray
    start: np.ndarray
    end: np.ndarray
    haul: np.ndarray  # inf when no limit


@dataclass
class Instance:
    raw: dict
    material: str
    as_of: int
    road_factor: float
    cost_per_km: float
    co2_per_km: float
    carbon_price: float
    classes: list[str]  # vocabulary; index len(classes) stands for "no class"
    grades: list[str]
    properties: list[str]
    supplies: Sites
    demands: Sites
    yards: Sites
    # supplies
    s_class: np.ndarray = field(default=None)  # int
    s_rank: np.ndarray = field(default=None)  # grade rank
    s_base: np.ndarray = field(default=None)  # disposal + carbon * avoided, per unit
    s_props: np.ndarray = field(default=None)  # (S, P), NaN when absent
    s_owner: np.ndarray = field(default=None)  # int, -1 none
    s_restricted: np.ndarray = field(default=None)  # partner-only now
    # demands
    d_value: np.ndarray = field(default=None)  # (D, C+1) value per supply class
    d_accepts: np.ndarray = field(default=None)  # (D, C+1) bool
    d_min_rank: np.ndarray = field(default=None)
    d_lim_max: np.ndarray = field(default=None)  # (D, P) +inf none
    d_lim_min: np.ndarray = field(default=None)  # (D, P) -inf none
    d_limited: np.ndarray = field(default=None)  # (D, P) bool
    d_blend: np.ndarray = field(default=None)
    partner_codes: np.ndarray = field(default=None)  # sorted d * n_owner + owner
    n_owners: int = 0
    # excluded_pairs (declined by a party): sorted codes s * n_demands + d
    excluded_codes: np.ndarray = field(default=None)
    # stockyards
    y_handling: np.ndarray = field(default=None)
    y_accepts: np.ndarray = field(default=None)  # (Y, C+1)

    @property
    def km_cost(self) -> float:
        """Benefit lost per unit and road km (transport plus priced CO2)."""
        return self.cost_per_km + self.carbon_price * self.co2_per_km

    @property
    def has_blending(self) -> bool:
        return bool(np.any(self.d_blend[:, None] & self.d_limited))


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Reader:
    def __init__(self):
        self.errors: list[str] = []

    def err(self, where: str, msg: str) -> None:
        self.errors.append(f"{where}: {msg}")

    def number(
        self,
        rec: dict,
        key: str,
        where: str,
        *,
        default=None,
        required=False,
        minimum=None,
        positive=False,
        nullable=True,
    ) -> float | None:
        if key not in rec or rec[key] is None:
            if required or (not nullable and key in rec):
                self.err(f"{where}.{key}", "missing" if key not in rec else "must not be null")
            return default
        v = rec[key]
        if not _is_num(v):
            self.err(f"{where}.{key}", f"not a number: {v!r}")
            return default
        v = float(v)
        if not math.isfinite(v):
            self.err(f"{where}.{key}", f"not a finite number: {v!r}")
            return default
        if minimum is not None and v < minimum:
            self.err(
                f"{where}.{key}",
                f"negative ({v:g})" if minimum == 0 else f"below {minimum:g} ({v:g})",
            )
            return default
        if positive and v <= 0:
            self.err(f"{where}.{key}", f"must be positive ({v:g})")
            return default
        return v

    def date(self, v: Any, where: str) -> int | None:
        if not isinstance(v, str):
            self.err(where, f"not a date (YYYY-MM-DD): {v!r}")
            return None
        try:
            return dt.date.fromisoformat(v).toordinal()
        except ValueError:
            self.err(where, f"not a date (YYYY-MM-DD): {v!r}")
            return None

    def window(self, rec: dict, where: str) -> tuple[int, int]:
        w = rec.get("window")
        if w is None:
            return NO_DAY_LO, NO_DAY_HI
        if not isinstance(w, list) or len(w) != 2:
            self.err(f"{where}.window", "must be [start, end]")
            return NO_DAY_LO, NO_DAY_HI
        a = NO_DAY_LO if w[0] is None else self.date(w[0], f"{where}.window")
        b = NO_DAY_HI if w[1] is None else self.date(w[1], f"{where}.window")
        if a is None or b is None:
            return NO_DAY_LO, NO_DAY_HI
        if b < a:
            self.err(f"{where}.window", "end before start")
        return a, b

    def str_list(self, rec: dict, key: str, where: str) -> list[str] | None:
        v = rec.get(key)
        if v is None:
            return None
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            self.err(f"{where}.{key}", "must be a list of strings")
            return None
        return v


def load_instance(data: dict) -> Instance:
    """Validate an instance dict and build its arrays; raise InstanceError if malformed.
    In steps: read the header, read and check every record (every error collected), then
    build the arrays from records known to be sound."""
    r = _Reader()
    if not isinstance(data, dict):
        raise InstanceError(["instance: must be a JSON object"])
    head = _read_header(r, data)
    grades, vocab = _read_vocabulary(r, data, head.material)
    sup, dem, yrd = (_records(r, data, key) for key in ("supplies", "demands", "stockyards"))
    S = _read_sites(r, sup, "supplies", "quantity")
    D = _read_sites(r, dem, "demands", "quantity")
    Y = _read_sites(r, yrd, "stockyards", "capacity")
    names = _Names(r, vocab, grades)
    s_cls_names = _check_supplies(r, sup, names)
    _check_demands(r, dem, names, grades)
    _check_yards(r, yrd, names)
    excluded = _read_excluded(r, data, S, D)
    if r.errors:
        raise InstanceError(r.errors)
    return _build(data, head, grades, names, (sup, dem, yrd), (S, D, Y), s_cls_names, excluded)


@dataclass
class _Header:
    material: str
    as_of: int
    road_factor: float
    cost_per_km: float
    co2_per_km: float
    carbon: float


def _read_header(r: _Reader, data: dict) -> _Header:
    if data.get("version", 1) != 1:
        r.err("version", f"unsupported version {data.get('version')!r} (expected 1)")
    material = data.get("material")
    if not isinstance(material, str) or not material:
        r.err("material", "missing or not a string")
        material = ""
    as_of = NO_DAY_LO
    if data.get("as_of") is not None:
        as_of = r.date(data["as_of"], "as_of") or NO_DAY_LO
    tr = data.get("transport")
    if not isinstance(tr, dict):
        r.err("transport", "missing or not an object")
        tr = {}
    return _Header(
        material=material,
        as_of=as_of,
        road_factor=r.number(tr, "road_factor", "transport", default=1.0, positive=True),
        cost_per_km=r.number(tr, "cost_per_unit_km", "transport", default=0.0, minimum=0),
        co2_per_km=r.number(tr, "co2_kg_per_unit_km", "transport", default=0.0, minimum=0),
        carbon=r.number(data, "carbon_price_per_kg", "instance", default=0.0, minimum=0),
    )


def _read_vocabulary(r: _Reader, data: dict, material: str) -> tuple[list, list[str] | None]:
    """The grade list and the class vocabulary (soil's by default)."""
    grades = data.get("grades") or []
    if not isinstance(grades, list) or not all(isinstance(g, str) for g in grades):
        r.err("grades", "must be a list of strings")
        grades = []
    if len(set(grades)) != len(grades):
        r.err("grades", "duplicate grade")
    vocab = data.get("classes")
    if vocab is not None and (
        not isinstance(vocab, list) or not all(isinstance(c, str) for c in vocab)
    ):
        r.err("classes", "must be a list of strings")
        vocab = None
    if vocab is None and material == "soil":
        vocab = list(SOIL_CLASSES)
    return grades, vocab


def _records(r: _Reader, data: dict, key: str) -> list[dict]:
    v = data.get(key)
    if v is None:
        v = []
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        r.err(key, "must be a list of objects")
        v = []
    return v


def _read_sites(r: _Reader, recs: list[dict], key: str, qty_key: str) -> Sites:
    n = len(recs)
    ids, seen = [], {}
    lat, lon, qty = np.zeros(n), np.zeros(n), np.zeros(n)
    start = np.full(n, NO_DAY_LO, dtype=np.int64)
    end = np.full(n, NO_DAY_HI, dtype=np.int64)
    haul = np.full(n, np.inf)
    for i, rec in enumerate(recs):
        w = f"{key}[{i}]"
        rid = rec.get("id")
        if not isinstance(rid, str) or not rid:
            r.err(f"{w}.id", "missing or not a string")
            rid = f"#{i}"
        elif rid in seen:
            r.err(f"{w}.id", f"duplicate id {rid!r} (also {key}[{seen[rid]}])")
        seen.setdefault(rid, i)
        ids.append(rid)
        la = r.number(rec, "lat", w, required=True)
        lo = r.number(rec, "lon", w, required=True)
        if la is not None and not -90 <= la <= 90:
            r.err(f"{w}.lat", f"out of range ({la:g})")
        if lo is not None and not -180 <= lo <= 180:
            r.err(f"{w}.lon", f"out of range ({lo:g})")
        lat[i], lon[i] = la or 0.0, lo or 0.0
        qty[i] = r.number(rec, qty_key, w, required=True, minimum=0) or 0.0
        start[i], end[i] = r.window(rec, w)
        h = r.number(rec, "max_haul_km", w, minimum=0)
        if h is not None:
            haul[i] = h
    return Sites(ids, lat, lon, qty, start, end, haul)


class _Names:
    """Class and property names met while reading, each given its index in a stable order:
    the vocabulary first, then the grades, then as records name them."""

    def __init__(self, r: _Reader, vocab: list[str] | None, grades: list[str]):
        self.r, self.vocab = r, vocab
        self.known = set(vocab) if vocab is not None else None
        self.classes: dict[str, int] = {}
        self.props: dict[str, int] = {}
        for c in [*(vocab or []), *grades]:
            self.classes.setdefault(c, len(self.classes))

    def use_class(self, c: str, where: str) -> None:
        """A class a record names: refused if outside the vocabulary, indexed either way."""
        if self.known is not None and c not in self.known:
            hint = f" (known: {', '.join(self.vocab)})" if len(self.vocab) <= 20 else ""
            self.r.err(where, f"unknown class {c!r}{hint}")
        self.classes.setdefault(c, len(self.classes))

    def use_property(self, k: str) -> None:
        self.props.setdefault(k, len(self.props))

    def finite(self, v: Any, where: str) -> None:
        if not _is_num(v) or not math.isfinite(float(v)):
            self.r.err(where, f"not a finite number: {v!r}")


def _check_supplies(r: _Reader, sup: list[dict], names: _Names) -> list[str | None]:
    """Each supply's class, properties and optional fields; returns the class names."""
    s_cls_names: list[str | None] = []
    for i, rec in enumerate(sup):
        w = f"supplies[{i}]"
        c = rec.get("class")
        if c is not None and not isinstance(c, str):
            r.err(f"{w}.class", "not a string")
            c = None
        if c is not None:
            names.use_class(c, f"{w}.class")
        s_cls_names.append(c)
        p = rec.get("properties")
        if p is not None and not isinstance(p, dict):
            r.err(f"{w}.properties", "must be an object")
        elif p is not None:
            for k, v in p.items():
                if v is None:
                    continue
                names.finite(v, f"{w}.properties.{k}")
                names.use_property(k)
        if rec.get("partner_only_until") is not None:
            r.date(rec["partner_only_until"], f"{w}.partner_only_until")
        if rec.get("owner") is not None and not isinstance(rec.get("owner"), str):
            r.err(f"{w}.owner", "not a string")
        r.number(rec, "disposal_cost", w)
        r.number(rec, "co2_avoided_kg_per_unit", w)
    return s_cls_names


def _check_demands(r: _Reader, dem: list[dict], names: _Names, grades: list[str]) -> None:
    for i, rec in enumerate(dem):
        w = f"demands[{i}]"
        for c in r.str_list(rec, "accepts", w) or []:
            names.use_class(c, f"{w}.accepts")
        vb = rec.get("value_by")
        if vb is not None and not isinstance(vb, dict):
            r.err(f"{w}.value_by", "must be an object")
        elif vb is not None:
            for c, v in vb.items():
                names.use_class(c, f"{w}.value_by")
                names.finite(v, f"{w}.value_by.{c}")
        r.number(rec, "value", w)
        mg = rec.get("min_grade")
        if mg is not None and mg not in grades:
            r.err(
                f"{w}.min_grade",
                f"unknown grade {mg!r}"
                + (f" (grades: {', '.join(grades)})" if grades else " (instance has no grades)"),
            )
        _check_limits(r, rec.get("limits"), w, names)
        if rec.get("blend") is not None and not isinstance(rec.get("blend"), bool):
            r.err(f"{w}.blend", "must be true or false")
        r.str_list(rec, "partners", w)


def _check_limits(r: _Reader, lim: Any, w: str, names: _Names) -> None:
    if lim is None:
        return
    if not isinstance(lim, dict):
        r.err(f"{w}.limits", "must be an object")
        return
    for k, b in lim.items():
        if b is None:
            continue
        if not isinstance(b, dict) or not set(b) <= {"min", "max"}:
            r.err(f"{w}.limits.{k}", 'must be {"min": x, "max": y}')
            continue
        lo = r.number(b, "min", f"{w}.limits.{k}")
        hi = r.number(b, "max", f"{w}.limits.{k}")
        if lo is not None and hi is not None and lo > hi:
            r.err(f"{w}.limits.{k}", "min above max")
        names.use_property(k)


def _check_yards(r: _Reader, yrd: list[dict], names: _Names) -> None:
    for i, rec in enumerate(yrd):
        w = f"stockyards[{i}]"
        for c in r.str_list(rec, "accepts", w) or []:
            names.use_class(c, f"{w}.accepts")
        r.number(rec, "handling_cost", w)


def _read_excluded(r: _Reader, data: dict, S: Sites, D: Sites) -> list[tuple[int, int]]:
    excluded: list[tuple[int, int]] = []
    ex = data.get("excluded_pairs")
    if ex is not None and not isinstance(ex, list):
        r.err("excluded_pairs", "must be a list of [supply id, demand id] pairs")
        ex = None
    s_pos = {s: i for i, s in enumerate(S.ids)}
    d_pos = {d: j for j, d in enumerate(D.ids)}
    for n, pair in enumerate(ex or []):
        w = f"excluded_pairs[{n}]"
        if not isinstance(pair, list) or len(pair) != 2:
            r.err(w, "must be [supply id, demand id]")
            continue
        a, b = pair
        if not isinstance(a, str) or a not in s_pos:
            r.err(w, f"unknown supply id {a!r}")
        if not isinstance(b, str) or b not in d_pos:
            r.err(w, f"unknown demand id {b!r}")
        if isinstance(a, str) and isinstance(b, str) and a in s_pos and b in d_pos:
            excluded.append((s_pos[a], d_pos[b]))
    return excluded


def _build(data, head, grades, names, records, sites, s_cls_names, excluded) -> Instance:
    sup, dem, yrd = records
    S, D, Y = sites
    C = len(names.classes)
    supply = _supply_arrays(sup, head, grades, names, s_cls_names)
    demand = _demand_arrays(dem, grades, names, supply["owners"])
    nD = len(dem)
    return Instance(
        raw=data,
        material=head.material,
        as_of=head.as_of,
        road_factor=head.road_factor,
        cost_per_km=head.cost_per_km,
        co2_per_km=head.co2_per_km,
        carbon_price=head.carbon,
        classes=list(names.classes),
        grades=list(grades),
        properties=list(names.props),
        supplies=S,
        demands=D,
        yards=Y,
        s_class=supply["s_class"],
        s_rank=supply["s_rank"],
        s_base=supply["s_base"],
        s_props=supply["s_props"],
        s_owner=supply["s_owner"],
        s_restricted=supply["s_restricted"],
        **{k: v for k, v in demand.items() if k.startswith("d_")},
        partner_codes=demand["partner_codes"],
        n_owners=demand["n_owners"],
        y_handling=np.array([float(rec.get("handling_cost") or 0.0) for rec in yrd]),
        y_accepts=_accepts(yrd, len(yrd), C, names),
        excluded_codes=np.unique(
            np.array([s * max(nD, 1) + d for s, d in excluded], dtype=np.int64)
        ),
    )


def _accepts(recs: list[dict], n: int, C: int, names: _Names) -> np.ndarray:
    """Which classes (and, in the last column, no class) each record accepts: all of them
    unless it lists some."""
    out = np.ones((n, C + 1), dtype=bool)
    for i, rec in enumerate(recs):
        acc = rec.get("accepts")
        if acc:
            out[i, :] = False
            for c in acc:
                out[i, names.classes[c]] = True
    return out


def _supply_arrays(sup, head: _Header, grades, names: _Names, s_cls_names) -> dict:
    C, P, nS = len(names.classes), len(names.props), len(sup)
    rank_of = {g: i for i, g in enumerate(grades)}
    s_props = np.full((nS, P), np.nan)
    owners: dict[str, int] = {}
    s_owner = np.full(nS, -1, dtype=np.int64)
    s_restricted = np.zeros(nS, dtype=bool)
    for i, rec in enumerate(sup):
        for k, v in (rec.get("properties") or {}).items():
            if v is not None:
                s_props[i, names.props[k]] = float(v)
        if rec.get("owner") is not None:
            s_owner[i] = owners.setdefault(rec["owner"], len(owners))
        pou = rec.get("partner_only_until")
        if pou is not None and head.as_of < dt.date.fromisoformat(pou).toordinal():
            s_restricted[i] = True
    return {
        "s_class": np.array(
            [C if c is None else names.classes[c] for c in s_cls_names], dtype=np.int64
        ),
        "s_rank": np.array(
            [rank_of.get(c, _NOT_GRADED) if c is not None else _NOT_GRADED for c in s_cls_names],
            dtype=np.int64,
        ),
        "s_base": np.array(
            [
                float(rec.get("disposal_cost") or 0.0)
                + head.carbon * float(rec.get("co2_avoided_kg_per_unit") or 0.0)
                for rec in sup
            ]
        ),
        "s_props": s_props,
        "s_owner": s_owner,
        "s_restricted": s_restricted,
        "owners": owners,
    }


def _demand_arrays(dem, grades, names: _Names, owners: dict[str, int]) -> dict:
    C, P, nD = len(names.classes), len(names.props), len(dem)
    rank_of = {g: i for i, g in enumerate(grades)}
    d_value = np.zeros((nD, C + 1))
    d_min_rank = np.full(nD, _NO_MIN_GRADE, dtype=np.int64)
    d_lim_max = np.full((nD, P), np.inf)
    d_lim_min = np.full((nD, P), -np.inf)
    d_blend = np.zeros(nD, dtype=bool)
    codes = []
    n_owner_codes = max(len(owners), 1)
    for j, rec in enumerate(dem):
        d_value[j, :] = float(rec.get("value") or 0.0)
        for c, v in (rec.get("value_by") or {}).items():
            d_value[j, names.classes[c]] = float(v)
        if rec.get("min_grade") is not None:
            d_min_rank[j] = rank_of[rec["min_grade"]]
        for k, b in (rec.get("limits") or {}).items():
            if not b:
                continue
            if b.get("max") is not None:
                d_lim_max[j, names.props[k]] = float(b["max"])
            if b.get("min") is not None:
                d_lim_min[j, names.props[k]] = float(b["min"])
        d_blend[j] = bool(rec.get("blend"))
        codes += [j * n_owner_codes + owners[o] for o in rec.get("partners") or [] if o in owners]
    return {
        "d_value": d_value,
        "d_accepts": _accepts(dem, nD, C, names),
        "d_min_rank": d_min_rank,
        "d_lim_max": d_lim_max,
        "d_lim_min": d_lim_min,
        "d_limited": np.isfinite(d_lim_max) | np.isfinite(d_lim_min),
        "d_blend": d_blend,
        "partner_codes": np.array(sorted(codes), dtype=np.int64),
        "n_owners": n_owner_codes,
    }
