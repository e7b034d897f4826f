"""improvement plants and their treatment lines, what deals book on them each week, a
stockyard's holding price, and each proposal's weeks, plant and class

Revision ID: 0023_plants
Revises: 0022_planning_horizon
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_plants"
down_revision = "0022_planning_horizon"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("prefecture_code", sa.String(length=2), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=True),
        sa.Column("window_end", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_plants_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["prefecture_code"],
            ["prefectures.code"],
            name=op.f("fk_plants_prefecture_code_prefectures"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plants")),
    )
    with op.batch_alter_table("plants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plants_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_plants_prefecture_code"), ["prefecture_code"], unique=False
        )

    op.create_table(
        "plant_conversions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plant_id", sa.Integer(), nullable=False),
        sa.Column("from_class", sa.String(length=8), nullable=False),
        sa.Column("to_class", sa.String(length=8), nullable=False),
        sa.Column("price_per_m3", sa.Integer(), nullable=False),
        sa.Column("weekly_capacity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.CheckConstraint(
            "weekly_capacity > 0", name=op.f("ck_plant_conversions_weekly_capacity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["from_class"],
            ["soil_classes.code"],
            name=op.f("fk_plant_conversions_from_class_soil_classes"),
        ),
        sa.ForeignKeyConstraint(
            ["plant_id"],
            ["plants.id"],
            name=op.f("fk_plant_conversions_plant_id_plants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_class"],
            ["soil_classes.code"],
            name=op.f("fk_plant_conversions_to_class_soil_classes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plant_conversions")),
        sa.UniqueConstraint("plant_id", "from_class", name=op.f("uq_plant_conversions_plant_id")),
    )
    with op.batch_alter_table("plant_conversions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plant_conversions_plant_id"), ["plant_id"], unique=False
        )

    op.create_table(
        "plant_loads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversion_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("reserved", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_plant_loads_reserved_not_negative")),
        sa.ForeignKeyConstraint(
            ["conversion_id"],
            ["plant_conversions.id"],
            name=op.f("fk_plant_loads_conversion_id_plant_conversions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plant_loads")),
        sa.UniqueConstraint("conversion_id", "week", name=op.f("uq_plant_loads_conversion_id")),
    )
    with op.batch_alter_table("plant_loads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plant_loads_conversion_id"), ["conversion_id"], unique=False
        )

    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holding_price_per_week", sa.Integer(), nullable=True))

    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversion_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ship_week", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("deliver_week", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("flow_class", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column("treatment_cost", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("holding_cost", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_proposals_conversion_id_plant_conversions"),
            "plant_conversions",
            ["conversion_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_proposals_conversion_id_plant_conversions"), type_="foreignkey"
        )
        batch_op.drop_column("holding_cost")
        batch_op.drop_column("treatment_cost")
        batch_op.drop_column("flow_class")
        batch_op.drop_column("deliver_week")
        batch_op.drop_column("ship_week")
        batch_op.drop_column("conversion_id")

    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("holding_price_per_week")

    with op.batch_alter_table("plant_loads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plant_loads_conversion_id"))

    op.drop_table("plant_loads")
    with op.batch_alter_table("plant_conversions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plant_conversions_plant_id"))

    op.drop_table("plant_conversions")
    with op.batch_alter_table("plants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plants_prefecture_code"))
        batch_op.drop_index(batch_op.f("ix_plants_organisation_id"))

    op.drop_table("plants")
