"""Writes reference_v1.json: the reference data the first migration seeds.

Run once by hand when the seed changes; the migration reads the JSON, never this code.
Figures are from ../shared/domain/REFERENCE.md with its markers ([V], [3p], [U]).
"""

import json
from pathlib import Path

SRC_SOIL = "MLIT 発生土利用基準 / 土質区分基準 [V]"
SRC_USE = "平成3年建設省令第19号 別表 [V]"

prefectures = [
    ("01", "北海道", "Hokkaido", 43.064, 141.347),
    ("02", "青森県", "Aomori", 40.824, 140.740),
    ("03", "岩手県", "Iwate", 39.704, 141.153),
    ("04", "宮城県", "Miyagi", 38.269, 140.872),
    ("05", "秋田県", "Akita", 39.719, 140.102),
    ("06", "山形県", "Yamagata", 38.240, 140.364),
    ("07", "福島県", "Fukushima", 37.750, 140.468),
    ("08", "茨城県", "Ibaraki", 36.342, 140.447),
    ("09", "栃木県", "Tochigi", 36.566, 139.884),
    ("10", "群馬県", "Gunma", 36.391, 139.060),
    ("11", "埼玉県", "Saitama", 35.857, 139.649),
    ("12", "千葉県", "Chiba", 35.605, 140.123),
    ("13", "東京都", "Tokyo", 35.690, 139.692),
    ("14", "神奈川県", "Kanagawa", 35.448, 139.643),
    ("15", "新潟県", "Niigata", 37.902, 139.023),
    ("16", "富山県", "Toyama", 36.695, 137.211),
    ("17", "石川県", "Ishikawa", 36.594, 136.626),
    ("18", "福井県", "Fukui", 36.065, 136.222),
    ("19", "山梨県", "Yamanashi", 35.664, 138.568),
    ("20", "長野県", "Nagano", 36.651, 138.181),
    ("21", "岐阜県", "Gifu", 35.391, 136.722),
    ("22", "静岡県", "Shizuoka", 34.977, 138.383),
    ("23", "愛知県", "Aichi", 35.180, 136.907),
    ("24", "三重県", "Mie", 34.730, 136.509),
    ("25", "滋賀県", "Shiga", 35.004, 135.868),
    ("26", "京都府", "Kyoto", 35.021, 135.756),
    ("27", "大阪府", "Osaka", 34.686, 135.520),
    ("28", "兵庫県", "Hyogo", 34.691, 135.183),
    ("29", "奈良県", "Nara", 34.685, 135.833),
    ("30", "和歌山県", "Wakayama", 34.226, 135.168),
    ("31", "鳥取県", "Tottori", 35.504, 134.238),
    ("32", "島根県", "Shimane", 35.472, 133.051),
    ("33", "岡山県", "Okayama", 34.662, 133.935),
    ("34", "広島県", "Hiroshima", 34.397, 132.460),
    ("35", "山口県", "Yamaguchi", 34.186, 131.471),
    ("36", "徳島県", "Tokushima", 34.066, 134.559),
    ("37", "香川県", "Kagawa", 34.340, 134.043),
    ("38", "愛媛県", "Ehime", 33.842, 132.766),
    ("39", "高知県", "Kochi", 33.560, 133.531),
    ("40", "福岡県", "Fukuoka", 33.607, 130.418),
    ("41", "佐賀県", "Saga", 33.249, 130.299),
    ("42", "長崎県", "Nagasaki", 32.745, 129.874),
    ("43", "熊本県", "Kumamoto", 32.790, 130.742),
    ("44", "大分県", "Oita", 33.238, 131.613),
    ("45", "宮崎県", "Miyazaki", 31.911, 131.424),
    ("46", "鹿児島県", "Kagoshima", 31.560, 130.558),
    ("47", "沖縄県", "Okinawa", 26.212, 127.681),
]

soil_classes = [
    # code, group, ja, en, min qc, improved, rank
    ("1", "1", "第1種", "Class 1", None, False, 0),
    ("1i", "1", "第1種改良土", "Class 1 improved", None, True, 1),
    ("2a", "2", "第2a種", "Class 2a", 800, False, 2),
    ("2b", "2", "第2b種", "Class 2b", 800, False, 3),
    ("2i", "2", "第2種改良土", "Class 2 improved", 800, True, 4),
    ("3a", "3", "第3a種", "Class 3a", 400, False, 5),
    ("3b", "3", "第3b種", "Class 3b", 400, False, 6),
    ("3i", "3", "第3種改良土", "Class 3 improved", 400, True, 7),
    ("4a", "4", "第4a種", "Class 4a", 200, False, 8),
    ("4b", "4", "第4b種", "Class 4b", 200, False, 9),
    ("4i", "4", "第4種改良土", "Class 4 improved", 200, True, 10),
    ("mud-a", "mud", "泥土a", "Mud a", None, False, 11),
    ("mud-b", "mud", "泥土b", "Mud b", None, False, 12),
    ("mud-c", "mud", "泥土c", "Mud c (highly organic) [U]", None, False, 13),
]

soil_uses = [
    ("structure_backfill", "工作物の埋戻し・基礎材", "Backfill of structures and foundations"),
    ("civil_backfill", "土木構造物の裏込材", "Backfill behind civil structures"),
    ("road_embankment", "道路盛土", "Road embankment"),
    ("road_body", "道路路体", "Road embankment body"),
    ("river_levee", "河川築堤", "River levee"),
    ("land_development", "宅地造成", "Housing-land development"),
    ("water_reclamation", "水面埋立", "Water-area reclamation"),
]

class_uses = {
    "1": ["structure_backfill", "civil_backfill", "road_embankment", "land_development"],
    "2": ["civil_backfill", "road_embankment", "river_levee", "land_development"],
    "3": ["civil_backfill", "road_body", "river_levee", "land_development", "water_reclamation"],
    "4": ["water_reclamation"],
}

properties = [
    ("absorption", "吸水率", "Water absorption", "%"),
    ("fines", "微粒分量", "Fines content", "%"),
    ("density", "絶乾密度", "Oven-dry density", "g/cm³"),
    ("modified_cbr", "修正CBR", "Modified CBR", "%"),
    ("contaminants", "異物混入率", "Contaminants", "%"),
]

materials = [
    # code, ja, en, unit, virgin, recycled co2 kg/t, source, grades [(code, ja, en, limits)]
    (
        "road_base",
        "再生路盤材",
        "Recycled road base",
        "t",
        2.9,
        None,
        "aggregate virgin coarse 2.9 kg-CO2/t [3p]; recycled: no JP factor",
        [
            (
                "RM-25",
                "再生粒度調整砕石 RM-25",
                "Graded recycled RM-25",
                {"modified_cbr": {"min": 80}},
            ),
            (
                "RM-30",
                "再生粒度調整砕石 RM-30",
                "Graded recycled RM-30",
                {"modified_cbr": {"min": 80}},
            ),
            (
                "RM-40",
                "再生粒度調整砕石 RM-40",
                "Graded recycled RM-40",
                {"modified_cbr": {"min": 80}},
            ),
            ("RC-30", "再生クラッシャラン RC-30", "Recycled crusher-run RC-30", {}),
            ("RC-40", "再生クラッシャラン RC-40", "Recycled crusher-run RC-40", {}),
            ("RC-other", "再生砕石 その他", "Other recycled crushed stone", {}),
        ],
    ),
    (
        "rca_coarse",
        "再生骨材(粗骨材)",
        "Recycled concrete aggregate, coarse",
        "t",
        2.9,
        None,
        "JIS A 5021/5022/5023 [3p]",
        [
            (
                "H",
                "再生粗骨材H",
                "Coarse H",
                {"density": {"min": 2.5}, "absorption": {"max": 3.0}, "fines": {"max": 1.0}},
            ),
            (
                "M",
                "再生粗骨材M",
                "Coarse M",
                {"density": {"min": 2.3}, "absorption": {"max": 5.0}, "fines": {"max": 2.0}},
            ),
            ("L", "再生粗骨材L", "Coarse L", {"absorption": {"max": 7.0}, "fines": {"max": 3.0}}),
        ],
    ),
    (
        "rca_fine",
        "再生骨材(細骨材)",
        "Recycled concrete aggregate, fine",
        "t",
        3.7,
        None,
        "JIS A 5021/5022/5023 [3p]",
        [
            (
                "H",
                "再生細骨材H",
                "Fine H",
                {"density": {"min": 2.5}, "absorption": {"max": 3.5}, "fines": {"max": 7.0}},
            ),
            (
                "M",
                "再生細骨材M",
                "Fine M",
                {"density": {"min": 2.2}, "absorption": {"max": 7.0}, "fines": {"max": 8.0}},
            ),
            ("L", "再生細骨材L", "Fine L", {"absorption": {"max": 13.0}, "fines": {"max": 10.0}}),
        ],
    ),
    (
        "scrap_steel",
        "鉄スクラップ",
        "Steel scrap",
        "t",
        2000.0,
        500.0,
        "鉄スクラップ検収統一規格 [V]; BF-BOF 2.0 vs EAF 0.5 t-CO2/t [V]",
        [
            ("HS", "ヘビーHS", "Heavy HS", {}),
            ("H1", "ヘビーH1", "Heavy H1", {}),
            ("H2", "ヘビーH2", "Heavy H2", {}),
            ("H3", "ヘビーH3", "Heavy H3", {}),
            ("H4", "ヘビーH4", "Heavy H4", {}),
        ],
    ),
    (
        "waste_paper",
        "古紙",
        "Waste paper",
        "t",
        None,
        None,
        "古紙標準品質規格 [V]",
        [
            ("office", "上質古紙", "Office paper", {}),
            ("newspaper", "新聞", "Newspaper", {}),
            ("cardboard", "段ボール", "Cardboard", {}),
            ("magazine", "雑誌", "Magazines", {}),
            ("mixed", "雑がみ", "Mixed paper", {}),
        ],
    ),
    (
        "rpet",
        "再生PET",
        "Recycled PET",
        "t",
        2150.0,
        450.0,
        "PET 2.15 vs rPET 0.45 kg-CO2e/kg [V]",
        [
            ("A", "ベールA", "Bale A", {"contaminants": {"max": 1.0}}),
            ("B", "ベールB", "Bale B", {"contaminants": {"max": 3.0}}),
            ("C", "ベールC", "Bale C", {"contaminants": {"max": 5.0}}),
        ],
    ),
    (
        "recycled_asphalt",
        "再生アスファルト混合物",
        "Recycled asphalt mix",
        "t",
        None,
        None,
        "about 3/4 of asphalt mix is recycled [V]; saving ≈ 42 % [V]",
        [
            ("dense13", "再生密粒度アスコン(13)", "Recycled dense-graded (13)", {}),
            ("dense20", "再生密粒度アスコン(20)", "Recycled dense-graded (20)", {}),
            ("coarse20", "再生粗粒度アスコン(20)", "Recycled coarse-graded (20)", {}),
            ("stabilised", "再生瀝青安定処理", "Recycled bitumen-stabilised base", {}),
        ],
    ),
]

reuse_categories = [
    ("table", "テーブル", "Table", 15.0),
    ("chair", "椅子", "Chair", 5.0),
    ("cabinet", "キャビネット・棚", "Cabinet / shelf", 20.0),
    ("chest", "タンス", "Chest of drawers", 30.0),
    ("sofa", "ソファ", "Sofa", 35.0),
    ("bed", "ベッド", "Bed frame", 40.0),
    ("bicycle", "自転車", "Bicycle", 15.0),
    ("appliance", "小型家電", "Small appliance", 5.0),
    ("instrument", "楽器", "Musical instrument", 10.0),
    ("toy", "玩具", "Toys", 3.0),
    ("household", "生活雑貨", "Household goods", 3.0),
]

material_categories = [
    ("timber", "木材", "Timber", "m3"),
    ("rebar", "鉄筋", "Rebar", "t"),
    ("steel_section", "鋼材", "Steel sections", "t"),
    ("plasterboard", "石膏ボード", "Plasterboard", "sheet"),
    ("insulation", "断熱材", "Insulation", "m2"),
    ("tile", "タイル", "Tiles", "m2"),
    ("pipe", "配管材", "Pipes", "m"),
    ("concrete_block", "コンクリートブロック", "Concrete blocks", "piece"),
    ("formwork", "型枠材", "Formwork panels", "sheet"),
    ("other", "その他資材", "Other materials", "piece"),
]

data = {
    "prefectures": [
        dict(code=c, name_ja=j, name_en=e, lat=la, lon=lo) for c, j, e, la, lo in prefectures
    ],
    "soil_classes": [
        dict(
            code=c,
            group=g,
            name_ja=j,
            name_en=e,
            min_cone_index=q,
            improved=i,
            rank=r,
            source=SRC_SOIL,
        )
        for c, g, j, e, q, i, r in soil_classes
    ],
    "soil_uses": [dict(code=c, name_ja=j, name_en=e) for c, j, e in soil_uses],
    "soil_class_uses": [
        dict(group=g, use_code=u, suitability="◎", source=SRC_USE)
        for g, uses in class_uses.items()
        for u in uses
    ],
    "grade_properties": [dict(code=c, name_ja=j, name_en=e, unit=u) for c, j, e, u in properties],
    "materials": [
        dict(
            code=c,
            name_ja=j,
            name_en=e,
            unit=u,
            virgin_co2_kg_per_t=v,
            recycled_co2_kg_per_t=r,
            source=s,
        )
        for c, j, e, u, v, r, s, _ in materials
    ],
    "grades": [
        dict(material_code=m[0], code=c, name_ja=j, name_en=e, rank=i, limits=lim)
        for m in materials
        for i, (c, j, e, lim) in enumerate(m[7])
    ],
    "reuse_categories": [
        dict(
            code=c,
            name_ja=j,
            name_en=e,
            typical_weight_kg=w,
            co2_kg_per_kg=None,
            source="typical weight [U]; no per-item CO2 factor found [U]",
        )
        for c, j, e, w in reuse_categories
    ],
    "material_categories": [
        dict(code=c, name_ja=j, name_en=e, unit=u) for c, j, e, u in material_categories
    ],
}
Path(__file__).with_name("reference_v1.json").write_text(
    json.dumps(data, ensure_ascii=False, indent=1) + "\n"
)
