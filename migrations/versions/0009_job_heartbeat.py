"""job heartbeat: a running job's worker and the last time it was seen alive

A worker killed mid-job (SIGKILL, machine lost) loses the task it had taken from the
queue; the reaper re-queues jobs whose heartbeat went stale.

Revision ID: 0009
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("worker", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("worker")
        batch_op.drop_column("heartbeat_at")
