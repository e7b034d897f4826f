"""search: municipalities (places to measure distance from) and synonym groups

Seeded from migrations/data/municipalities_v1.json (every 市区町村: 総務省 codes and
readings, points from JpGeocode 0.3.1, MIT) and migrations/data/synonyms_v1.json; both
are editable afterwards.

Revision ID: 0017_search_places
Revises: 0008
"""

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0017_search_places"
down_revision = "0008"
branch_labels = None
depends_on = None

DATA = Path(__file__).resolve().parent.parent / "data"


def upgrade() -> None:
    municipalities = op.create_table(
        "municipalities",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("prefecture_code", sa.String(length=2), nullable=False),
        sa.Column("name_ja", sa.String(length=20), nullable=False),
        sa.Column("name_kana", sa.String(length=40), nullable=False),
        sa.Column("name_en", sa.String(length=60), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["prefecture_code"],
            ["prefectures.code"],
            name=op.f("fk_municipalities_prefecture_code_prefectures"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_municipalities")),
    )
    with op.batch_alter_table("municipalities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_municipalities_name_ja"), ["name_ja"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_municipalities_prefecture_code"), ["prefecture_code"], unique=False
        )
    groups = op.create_table(
        "synonym_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("mutual", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synonym_groups")),
    )
    places = json.loads((DATA / "municipalities_v1.json").read_text(encoding="utf-8"))
    op.bulk_insert(
        municipalities,
        [{**row, "source": places["source"][:200]} for row in places["municipalities"]],
    )
    synonyms = json.loads((DATA / "synonyms_v1.json").read_text(encoding="utf-8"))
    # when the seed was written (naive UTC, as stored)
    stamp = dt.datetime(2026, 12, 2, tzinfo=dt.UTC).replace(tzinfo=None)
    op.bulk_insert(
        groups,
        [
            {
                "terms": g["terms"],
                "mutual": g["mutual"],
                "source": g["source"][:200],
                "updated_at": stamp,
            }
            for g in synonyms["groups"]
        ],
    )


def downgrade() -> None:
    op.drop_table("synonym_groups")
    with op.batch_alter_table("municipalities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_municipalities_prefecture_code"))
        batch_op.drop_index(batch_op.f("ix_municipalities_name_ja"))
    op.drop_table("municipalities")
