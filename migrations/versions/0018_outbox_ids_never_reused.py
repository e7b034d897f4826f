"""listing_index_outbox ids are never reused on SQLite (AUTOINCREMENT)

The search index orders racing writes of one listing by the id of the outbox entry that
asked for them (market/finder/index.py). SQLite gives a plain INTEGER PRIMARY KEY the
next id after the largest one present, so once the outbox had drained its ids started
again at 1 and every later change would have looked older than the ones before it.
PostgreSQL's sequence never goes back: nothing to do there.

Revision ID: 0018_outbox_ids_never_reused
Revises: 0017_search_places
"""

from alembic import op

revision = "0018_outbox_ids_never_reused"
down_revision = "0017_search_places"
branch_labels = None
depends_on = None


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "listing_index_outbox",
        recreate="always",
        table_kwargs={"sqlite_autoincrement": autoincrement},
    ):
        pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
