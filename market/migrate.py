"""Alembic driven from the app's config: upgrade, downgrade, revision, drift check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def drift(engine, metadata) -> list:
    """Differences between the models (``metadata``, every table: ``market.models``) and
    the migrated schema (empty when in step)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, metadata)
    # Tables owned by the search package and the job queue are not ours to migrate.
    return [d for d in diffs if not _foreign_table(d)]


def _foreign_table(diff) -> bool:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item:
        name = getattr(part, "name", None) or getattr(getattr(part, "table", None), "name", None)
        if isinstance(name, str) and (name.startswith("search_") or name.startswith("huey")):
            return True
    return False
