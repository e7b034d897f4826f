"""email verification: when a user proved the address is theirs

Accounts that exist before this revision are taken as verified (from their creation):
they were made by sign-up or invitation before verification existed.

Revision ID: 0016_email_verification
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_email_verification"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_verified_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE users SET email_verified_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")
