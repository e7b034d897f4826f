"""platform fee statements: the platform's monthly invoice to each payee

One per organisation and month, for the fees on orders paid to it by bank transfer.

Revision ID: 0014_fee_statements
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_fee_statements"
down_revision = "0002"
branch_labels = None
depends_on = "0003_orders"


def upgrade() -> None:
    op.create_table(
        "platform_fee_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("total_yen", sa.Integer(), nullable=False),
        sa.Column("orders", sa.JSON(), nullable=False),
        sa.Column("invoice", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_platform_fee_statements_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_fee_statements")),
        sa.UniqueConstraint("number", name=op.f("uq_platform_fee_statements_number")),
        sa.UniqueConstraint(
            "organisation_id", "month", name=op.f("uq_platform_fee_statements_organisation_id")
        ),
    )
    op.create_index(
        op.f("ix_platform_fee_statements_organisation_id"),
        "platform_fee_statements",
        ["organisation_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_platform_fee_statements_organisation_id"), table_name="platform_fee_statements"
    )
    op.drop_table("platform_fee_statements")
