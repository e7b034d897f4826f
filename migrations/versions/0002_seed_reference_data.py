"""seed reference data (土質区分, uses, grade schemes, categories, prefectures)

The rows are editable afterwards; this migration only provides the first version,
read from migrations/data/reference_v1.json.

Revision ID: 0002
Revises: 0001
"""

import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DATA = Path(__file__).resolve().parent.parent / "data" / "reference_v1.json"

# Insert order respects foreign keys; downgrade deletes in reverse.
TABLES = [
    "prefectures",
    "soil_classes",
    "soil_uses",
    "soil_class_uses",
    "grade_properties",
    "materials",
    "grades",
    "reuse_categories",
    "material_categories",
]


def _table(name: str, rows: list[dict]) -> sa.TableClause:
    # JSON columns need their type so that dicts are serialised.
    return sa.table(
        name, *(sa.column(key, sa.JSON() if key == "limits" else None) for key in rows[0])
    )


def upgrade() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    for name in TABLES:
        rows = data[name]
        op.bulk_insert(_table(name, rows), rows)


def downgrade() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    for name in reversed(TABLES):
        keys = {"code"} if "code" in data[name][0] else set()
        if name == "soil_class_uses":
            keys = {"group", "use_code"}
        elif name == "grades":
            keys = {"material_code", "code"}
        table = sa.table(name, *(sa.column(k) for k in keys))
        for row in data[name]:
            op.execute(table.delete().where(sa.and_(*(table.c[k] == row[k] for k in keys))))
