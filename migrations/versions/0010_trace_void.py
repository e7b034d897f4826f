"""trace: void tickets: who voided a ticket that never arrived, when and why

A void ticket keeps its row and number (5-year retention). Status ``void`` is a new value
of the existing non-native enum column (a VARCHAR(16) without a CHECK constraint), so only
the four columns below are added.

Revision ID: 0010_trace_void
Revises: 0006_trace
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_trace_void"
down_revision = "0006_trace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trace_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voided_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("voided_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("voided_by_org_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("void_reason", sa.Text(), nullable=False, server_default=""))
        batch_op.create_foreign_key(
            batch_op.f("fk_trace_tickets_voided_by_id_users"),
            "users",
            ["voided_by_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_trace_tickets_voided_by_org_id_organisations"),
            "organisations",
            ["voided_by_org_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    with op.batch_alter_table("trace_tickets", schema=None) as batch_op:
        batch_op.alter_column("void_reason", server_default=None)


def downgrade() -> None:
    # Without these columns a void ticket would read as issued again: refuse rather than do that.
    voided = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM trace_tickets WHERE status = 'void'")
    )
    if voided:
        raise RuntimeError(
            f"trace_tickets holds {voided} void tickets, kept 5 years: not downgrading them away"
        )
    with op.batch_alter_table("trace_tickets", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_trace_tickets_voided_by_org_id_organisations"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_trace_tickets_voided_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("void_reason")
        batch_op.drop_column("voided_by_org_id")
        batch_op.drop_column("voided_by_id")
        batch_op.drop_column("voided_at")
