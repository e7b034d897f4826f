"""deals: the optimiser's groups of flows (pair, blend, chain through a stockyard), each
party's decision, and each proposal's deal

Existing proposals keep no deal (they are decided as pairs, as before).

Revision ID: 0020_deals
Revises: 0019_proposals_kept_true
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_deals"
down_revision = "0019_proposals_kept_true"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["match_runs.id"],
            name=op.f("fk_deals_run_id_match_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deals_run_id"), ["run_id"], unique=False)
    op.create_table(
        "deal_parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("roles", sa.String(length=40), nullable=False),
        sa.Column("decision", sa.String(length=12), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deal_id"],
            ["deals.id"],
            name=op.f("fk_deal_parties_deal_id_deals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_deal_parties_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_parties")),
        sa.UniqueConstraint("deal_id", "organisation_id", name=op.f("uq_deal_parties_deal_id")),
    )
    with op.batch_alter_table("deal_parties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deal_parties_deal_id"), ["deal_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_deal_parties_organisation_id"), ["organisation_id"], unique=False
        )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deal_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_proposals_deal_id"), ["deal_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_proposals_deal_id_deals"),
            "deals",
            ["deal_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_proposals_deal_id_deals"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_proposals_deal_id"))
        batch_op.drop_column("deal_id")
    with op.batch_alter_table("deal_parties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deal_parties_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_deal_parties_deal_id"))
    op.drop_table("deal_parties")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deals_run_id"))
    op.drop_table("deals")
