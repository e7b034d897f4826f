"""catalog: the properties each recycled material is judged by, with units and sources

Adds a source to each measurable property, the properties buyers judge rPET, steel scrap,
waste paper and recycled asphalt by (REFERENCE.md §2.3), and ``material_properties``: which
properties a lot of each material is asked for, in the order its form shows them. The rows
are editable data, like the rest of the reference tables.

Revision ID: 0018_material_properties
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_material_properties"
down_revision = "0002"
branch_labels = None
depends_on = None

# code: (name_ja, name_en, unit, source) — sources as REFERENCE.md marks them.
SOURCES = {
    "absorption": "JIS A 5021/5022/5023 吸水率 (再生骨材H/M/L) [3p]",
    "density": "JIS A 5021/5022/5023 絶乾密度 [3p]",
    "fines": "JIS A 5021/5022/5023 微粒分量 [3p]",
    "modified_cbr": "MLIT 舗装設計施工指針: 上層路盤の再生材 修正CBR ≥ 80 % [V]",
    "contaminants": "buyers' specifications as traded (REFERENCE.md §2.3) [U]",
}
NEW = [
    ("abrasion", "すりへり減量", "Abrasion loss", "%", "JIS A 1121 (ロサンゼルス試験) [U]"),
    (
        "iv",
        "固有粘度 IV",
        "Intrinsic viscosity (IV)",
        "dL/g",
        "bottle grade ≈ 0.72–0.80 dL/g, as traded [U]",
    ),
    ("moisture", "水分", "Moisture", "%", "buyers' specifications as traded [U]"),
    ("pvc", "PVC混入量", "PVC content", "ppm", "buyers' specifications as traded [U]"),
    ("colour_l", "色調 L*", "Colour L*", "", "CIE L*a*b*, as traded [U]"),
    ("bulk_density", "かさ密度", "Bulk density", "kg/m³", "as traded [U]"),
    (
        "thickness",
        "厚さ",
        "Thickness",
        "mm",
        "鉄スクラップ検収統一規格: HS/H1 ≥ 6 mm, H2 3–6, H3 1–3, H4 < 1 [V]",
    ),
    (
        "max_size",
        "最大寸法",
        "Largest dimension",
        "mm",
        "鉄スクラップ検収統一規格: HS ≤ 500×700 mm, H1 ≤ 500×1200 [V]",
    ),
    ("attached_matter", "付着物", "Attached matter", "%", "付着物 (土砂・油・非鉄), as traded [U]"),
    ("copper", "銅含有率", "Copper", "%", "as traded [U]"),
    ("contraries", "禁忌品混入率", "Contraries", "%", "古紙標準品質規格: 禁忌品A・B [V]"),
    (
        "asphalt_content",
        "旧アスファルト含有量",
        "Recovered binder content",
        "%",
        "舗装再生便覧 [U]",
    ),
    (
        "penetration",
        "旧アスファルト針入度",
        "Recovered binder penetration",
        "1/10 mm",
        "舗装再生便覧: ≥ 20 [U]",
    ),
]
# Which properties a lot of each material is asked for, in this order.
BY_MATERIAL = {
    "road_base": ["modified_cbr", "abrasion", "absorption", "density", "fines"],
    "rca_coarse": ["absorption", "density", "fines", "abrasion"],
    "rca_fine": ["absorption", "density", "fines"],
    "scrap_steel": ["thickness", "max_size", "attached_matter", "copper"],
    "waste_paper": ["moisture", "contraries"],
    "rpet": ["iv", "moisture", "pvc", "contaminants", "colour_l", "bulk_density"],
    "recycled_asphalt": ["asphalt_content", "penetration"],
}


def upgrade() -> None:
    with op.batch_alter_table("grade_properties") as batch:
        batch.add_column(sa.Column("source", sa.String(length=200), nullable=True))
    props = sa.table(
        "grade_properties",
        sa.column("code"),
        sa.column("name_ja"),
        sa.column("name_en"),
        sa.column("unit"),
        sa.column("source"),
    )
    for code, source in SOURCES.items():
        op.execute(props.update().where(props.c.code == code).values(source=source))
    op.bulk_insert(
        props,
        [
            {"code": c, "name_ja": ja, "name_en": en, "unit": unit, "source": source}
            for c, ja, en, unit, source in NEW
        ],
    )
    op.create_table(
        "material_properties",
        sa.Column("material_code", sa.String(length=32), nullable=False),
        sa.Column("property_code", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["material_code"],
            ["materials.code"],
            name=op.f("fk_material_properties_material_code_materials"),
        ),
        sa.ForeignKeyConstraint(
            ["property_code"],
            ["grade_properties.code"],
            name=op.f("fk_material_properties_property_code_grade_properties"),
        ),
        sa.PrimaryKeyConstraint(
            "material_code", "property_code", name=op.f("pk_material_properties")
        ),
    )
    links = sa.table(
        "material_properties",
        sa.column("material_code"),
        sa.column("property_code"),
        sa.column("position"),
    )
    op.bulk_insert(
        links,
        [
            {"material_code": m, "property_code": p, "position": i}
            for m, codes in BY_MATERIAL.items()
            for i, p in enumerate(codes)
        ],
    )


def downgrade() -> None:
    op.drop_table("material_properties")
    props = sa.table("grade_properties", sa.column("code"))
    op.execute(props.delete().where(props.c.code.in_([row[0] for row in NEW])))
    with op.batch_alter_table("grade_properties") as batch:
        batch.drop_column("source")
