"""Every factor table read once for a page, a CSV or a receipt (``FactorSet``), and the
weight of an order's quantity by them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.allocation.models import Proposal
from market.catalog.kinds import SPECS
from market.catalog.models import Listing, Material, MaterialCategory, Prefecture, ReuseCategory
from market.factors import calc
from market.factors.models import BulkDensity, ImpactFactor, OrderHaul, TruckType
from market.orders.models import Order


@dataclass
class FactorSet:
    """Every factor table read once for a page or a CSV."""

    values: dict[tuple[str, str], float]
    densities: dict[str, float]
    trucks: dict[str, TruckType]
    reuse_categories: dict[str, ReuseCategory]
    materials: dict[str, Material]
    material_units: dict[str, str]
    prefectures: dict[str, Prefecture]
    hauls: dict[int, OrderHaul] = field(default_factory=dict)
    proposals: dict[int, Proposal] = field(default_factory=dict)
    org_prefecture: dict[int, str | None] = field(default_factory=dict)
    # order id → straight-line km per unit over its recorded legs (None: no leg has pins)
    legs: dict[int, float | None] = field(default_factory=dict)
    # order id → straight-line km to the counterparty's nearest site listing
    sites: dict[int, float | None] = field(default_factory=dict)

    def get(self, family: str, key: str, default: float = 0.0) -> float:
        return self.values.get((family, key), default)

    @property
    def tonkilo(self) -> calc.TonKilo:
        t = "transport"
        return calc.TonKilo(
            a=self.get(t, "tonkilo_a", 2.71),
            b=self.get(t, "tonkilo_b", 0.812),
            c=self.get(t, "tonkilo_c", 0.654),
            diesel_kg_co2_per_l=self.get(t, "diesel_kg_co2_per_l", 2.58),
            min_load_ratio=self.get(t, "min_load_percent", 10.0) / 100,
        )


def load_factors(session: Session) -> FactorSet:
    return FactorSet(
        values={(f.family, f.key): f.value for f in session.scalars(select(ImpactFactor))},
        densities={d.code: d.t_per_m3 for d in session.scalars(select(BulkDensity))},
        trucks={t.code: t for t in session.scalars(select(TruckType))},
        reuse_categories={c.code: c for c in session.scalars(select(ReuseCategory))},
        materials={m.code: m for m in session.scalars(select(Material))},
        material_units={c.code: c.unit for c in session.scalars(select(MaterialCategory))},
        prefectures={p.code: p for p in session.scalars(select(Prefecture))},
        org_prefecture=dict(
            session.execute(select(Organisation.id, Organisation.prefecture_code)).all()
        ),
    )


def family_of(listing: Listing) -> str:
    return SPECS[listing.kind].family


def tonnes(fs: FactorSet, order: Order, quantity: float) -> float | None:
    """Weight of ``quantity`` of the order's unit, or None when the unit has no weight."""
    listing, unit = order.listing, (order.unit or "").lower()
    if unit == "t":
        return quantity
    if unit == "kg":
        return quantity / 1000
    if unit == "m3":
        code = (
            "soil"
            if family_of(listing) in ("soil", "stockyard")
            else listing.material_category_code
        )
        density = fs.densities.get(code or "")
        return quantity * density if density else None
    if unit == "item" and listing.reuse_category_code in fs.reuse_categories:
        return quantity * fs.reuse_categories[listing.reuse_category_code].typical_weight_kg / 1000
    return None
