"""reports and pickups: impact factor tables (trucks, bulk densities, factors) with their
sources, entered hauls per order, pickup slots and bookings

Revision ID: 0007
Revises: 0002 (depends on 0003_orders: hauls and bookings reference orders)
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0002"
branch_labels = None
depends_on = "0003_orders"

REF = "REFERENCE.md"
# code, name_ja, name_en, max payload kg, source
TRUCKS = [
    ("light_truck", "軽トラック", "Light truck (kei)", 350, "軽貨物 max payload 350 kg [U]"),
    (
        "truck_2t",
        "2tトラック・ダンプ",
        "2 t truck / dump",
        2000,
        f"{REF} §3: 2 t dump 2.0–2.5 t [3p]",
    ),
    ("dump_4t", "4tダンプ", "4 t dump", 4000, f"{REF} §3: 4 t dump 4.0–4.5 t [3p]"),
    ("dump_10t", "10tダンプ", "10 t dump", 10000, f"{REF} §3: 10 t dump 9–10 t [3p]"),
]
# code, name_ja, name_en, t/m³, source
DENSITIES = [
    ("soil", "土砂", "Soil", 1.8, f"{REF} §3: soil 1.6–1.8 t/m³ [3p]"),
    ("sand", "砂", "Sand", 1.9, f"{REF} §3: sand 1.9 t/m³ [3p]"),
    ("concrete", "コンクリート", "Concrete", 2.4, f"{REF} §3: concrete 2.4 t/m³ [3p]"),
    ("asphalt", "アスファルト", "Asphalt", 2.35, f"{REF} §3: asphalt 2.35 t/m³ [3p]"),
    ("timber", "木材", "Timber", 0.5, "air-dried softwood ≈ 0.4–0.6 t/m³ [U]"),
]
# family, key, value, unit, source
FACTORS = [
    ("transport", "diesel_kg_co2_per_l", 2.58, "kg-CO2/L", f"{REF} §3: diesel 2.58 kg-CO2/L [V]"),
    ("transport", "tonkilo_a", 2.71, "", f"{REF} §3 改良トンキロ法 constant [V formula]"),
    (
        "transport",
        "tonkilo_b",
        0.812,
        "",
        f"{REF} §3 改良トンキロ法 load-ratio coefficient [V formula]",
    ),
    (
        "transport",
        "tonkilo_c",
        0.654,
        "",
        f"{REF} §3 改良トンキロ法 payload coefficient [V formula]",
    ),
    (
        "transport",
        "min_load_percent",
        10.0,
        "%",
        "floor of the load ratio: the fitted curve is not used below it [U]",
    ),
    ("transport", "road_factor", 1.3, "×", "road km ≈ great-circle km × 1.3 (as matching) [U]"),
    (
        "soil",
        "disposal_fee",
        4200.0,
        "yen/m³",
        f"{REF} §3: Greater Tokyo receiving fee ≈ ¥4,200/m³ [3p]",
    ),
    ("soil", "virgin_price", 3000.0, "yen/m³", "purchased fill delivered (as matching) [U]"),
    (
        "soil",
        "virgin_co2",
        2.9,
        "kg-CO2/t",
        f"{REF} §5: virgin coarse aggregate 2.9 kg-CO2/t as proxy for purchased fill [3p/U]",
    ),
    ("soil", "recycled_co2", 0.0, "kg-CO2/t", "soil used as dug: no processing [U]"),
    ("soil", "disposal_co2", 0.0, "kg-CO2/t", "landfilling inert soil: not counted [U]"),
    (
        "soil",
        "disposal_haul_km",
        40.0,
        "km",
        "site → disposal (受入地) run replaced, Greater Tokyo [U]",
    ),
    ("soil", "virgin_haul_km", 30.0, "km", "quarry/pit → receiving site run replaced [U]"),
    (
        "recycled",
        "disposal_fee",
        0.0,
        "yen/t",
        "recyclers stockpile unsold output (as matching) [U]",
    ),
    (
        "recycled",
        "virgin_price",
        2500.0,
        "yen/t",
        "virgin crushed stone delivered (as matching) [U]",
    ),
    ("recycled", "virgin_haul_km", 30.0, "km", "quarry → site run replaced [U]"),
    (
        "reuse",
        "disposal_fee",
        1000.0,
        "yen/item",
        "municipal bulky-waste handling per item (as matching) [U]",
    ),
    (
        "reuse",
        "avoided_co2_per_kg",
        1.0,
        "kg-CO2/kg",
        f"{REF} §5: no per-item factor found; weight × this category factor when the category has none [U]",
    ),
    (
        "reuse",
        "disposal_co2_per_kg",
        0.0,
        "kg-CO2/kg",
        "incinerating the item: not counted by default [U]",
    ),
    (
        "material",
        "disposal_fee",
        2000.0,
        "yen/unit",
        "mixed construction waste disposal (as matching) [U]",
    ),
    ("material", "virgin_price", 0.0, "yen/unit", "value is the wanting site's price [U]"),
]
DEFAULT_TRUCK = [
    ("soil", "dump_10t"),
    ("recycled", "dump_10t"),
    ("reuse", "truck_2t"),
    ("material", "dump_4t"),
]


def upgrade() -> None:
    trucks = op.create_table(
        "truck_types",
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("name_ja", sa.String(length=40), nullable=False),
        sa.Column("name_en", sa.String(length=60), nullable=False),
        sa.Column("max_payload_kg", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_truck_types")),
    )
    densities = op.create_table(
        "bulk_densities",
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("name_ja", sa.String(length=40), nullable=False),
        sa.Column("name_en", sa.String(length=60), nullable=False),
        sa.Column("t_per_m3", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_bulk_densities")),
    )
    factors = op.create_table(
        "impact_factors",
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("family", "key", name=op.f("pk_impact_factors")),
    )
    op.create_table(
        "order_hauls",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("road_km", sa.Float(), nullable=False),
        sa.Column("truck_type_code", sa.String(length=24), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("entered_by_org_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["users.id"], name=op.f("fk_order_hauls_entered_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_order_hauls_entered_by_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_hauls_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["truck_type_code"],
            ["truck_types.code"],
            name=op.f("fk_order_hauls_truck_type_code_truck_types"),
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_hauls")),
    )
    op.create_table(
        "pickup_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_org_id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("pickup_point", sa.String(length=300), nullable=False),
        sa.Column("slot_date", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("checkin_code", sa.String(length=8), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_pickup_slots_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_pickup_slots_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["municipality_org_id"],
            ["organisations.id"],
            name=op.f("fk_pickup_slots_municipality_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pickup_slots")),
    )
    op.create_index(op.f("ix_pickup_slots_listing_id"), "pickup_slots", ["listing_id"])
    op.create_index(
        op.f("ix_pickup_slots_municipality_org_id"), "pickup_slots", ["municipality_org_id"]
    )
    op.create_index(op.f("ix_pickup_slots_slot_date"), "pickup_slots", ["slot_date"])
    op.create_table(
        "pickup_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("operator_org_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "booked",
                "checked_in",
                "no_show",
                name="bookingstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("booked_by_id", sa.Integer(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(), nullable=True),
        sa.Column("checked_in_by_id", sa.Integer(), nullable=True),
        sa.Column("no_show_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booked_by_id"], ["users.id"], name=op.f("fk_pickup_bookings_booked_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["checked_in_by_id"],
            ["users.id"],
            name=op.f("fk_pickup_bookings_checked_in_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_org_id"],
            ["organisations.id"],
            name=op.f("fk_pickup_bookings_operator_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_pickup_bookings_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["pickup_slots.id"],
            name=op.f("fk_pickup_bookings_slot_id_pickup_slots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pickup_bookings")),
        sa.UniqueConstraint("order_id", name=op.f("uq_pickup_bookings_order_id")),
    )
    op.create_index(
        op.f("ix_pickup_bookings_operator_org_id"), "pickup_bookings", ["operator_org_id"]
    )
    op.create_index(op.f("ix_pickup_bookings_slot_id"), "pickup_bookings", ["slot_id"])
    op.create_index(op.f("ix_pickup_bookings_status"), "pickup_bookings", ["status"])

    op.bulk_insert(
        trucks,
        [
            dict(zip(("code", "name_ja", "name_en", "max_payload_kg", "source"), row, strict=True))
            for row in TRUCKS
        ],
    )
    op.bulk_insert(
        densities,
        [
            dict(zip(("code", "name_ja", "name_en", "t_per_m3", "source"), row, strict=True))
            for row in DENSITIES
        ],
    )
    import datetime as dt

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        dict(zip(("family", "key", "value", "unit", "source"), row, strict=True), updated_at=now)
        for row in FACTORS
    ]
    # Which truck each family is hauled in by default (an order's entered haul overrides it).
    payload = {code: kg for code, _ja, _en, kg, _src in TRUCKS}
    rows += [
        dict(
            family=family,
            key="default_payload_kg",
            value=float(payload[code]),
            unit="kg",
            source=f"{code}: typical truck for the family [U]",
            updated_at=now,
        )
        for family, code in DEFAULT_TRUCK
    ]
    op.bulk_insert(factors, rows)


def downgrade() -> None:
    op.drop_table("pickup_bookings")
    op.drop_table("pickup_slots")
    op.drop_table("order_hauls")
    op.drop_table("impact_factors")
    op.drop_table("bulk_densities")
    op.drop_table("truck_types")
