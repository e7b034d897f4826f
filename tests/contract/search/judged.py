"""A judged set for search relevance: a fixed set of listings shaped like Meguri's and
queries as people type them (kana, kanji, codes, English, synonyms, misspelt Latin
words, several words), each with the listings a person means (2) or would accept (1).
Judged by what the words mean, not by what the engine finds.

Documents carry, as the app's (market/finder/index.py), the names of their category,
material, grade and kind in Japanese and English after the description. The synonyms
are the shipped seed (migrations/data/synonyms_v1.json).

Used by test_search_relevance.py (which fails when a figure drops) and by
benchmarks/search_relevance.py (which prints the figures for docs/benchmarks.md)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from search import ListingDocument, SearchQuery, SynonymGroup, Synonyms

ROOT = Path(__file__).resolve().parents[3]
KIND_NAMES = {
    "soil_offer": "建設発生土（搬出） Surplus soil (搬出)",
    "soil_want": "発生土の受入（搬入） Soil wanted (搬入)",
    "recycled_offer": "再生材（提供） Recycled material offered",
    "material_offer": "建設資材（提供） Construction materials offered",
    "reuse_item": "リユース品 Reuse item",
}
NAMES = {  # category, material, soil class and grade names as the reference data has them
    "2a": "第2a種 Class 2a", "2b": "第2b種 Class 2b", "3a": "第3a種 Class 3a", "1": "第1種 Class 1",
    "2i": "第2種改良土 Class 2 improved", "mud-b": "泥土b Mud b",
    "road_base": "再生路盤材 Recycled road base", "scrap_steel": "鉄スクラップ Steel scrap",
    "timber": "木材 Timber", "rebar": "鉄筋 Rebar", "steel_section": "鋼材 Steel sections",
    "plasterboard": "石膏ボード Plasterboard", "insulation": "断熱材 Insulation",
    "tile": "タイル Tiles", "other": "その他資材 Other materials",
    "table": "テーブル Table", "chair": "椅子 Chair", "cabinet": "キャビネット・棚 Cabinet / shelf",
    "chest": "タンス Chest of drawers", "sofa": "ソファ Sofa", "bicycle": "自転車 Bicycle",
    "appliance": "小型家電 Small appliance", "toy": "玩具 Toys", "household": "生活雑貨 Household goods",
}  # fmt: skip

# id, kind, title, description, category (or material), grade or soil class
LISTINGS = [
    (1, "soil_offer", "建設発生土 第2a種 1,200m³ 江東区", "掘削土、平日搬出可", None, "2a"),
    (2, "soil_offer", "発生土 第2b種 800m³", "造成工事の残り", None, "2b"),
    (3, "soil_offer", "残土 引取り先募集 第3a種", "ダンプ10t 20台分", None, "3a"),
    (4, "soil_offer", "山砂 500m³", "埋戻し用の良質な山砂", None, "1"),
    (5, "soil_offer", "改良土 300m³", "セメント改良済み", None, "2i"),
    (6, "soil_offer", "泥土 処分先を探しています", "含水比高め", None, "mud-b"),
    (7, "soil_offer", "Surplus soil, class 2a, 600 m3", "Excavated at a Yokohama site", None, "2a"),
    (8, "soil_want", "発生土 受入地 第1種〜第3種", "道路盛土に使えます", None, None),
    (10, "recycled_offer", "再生クラッシャラン RC-40 500t", "コンクリート塊を破砕", "road_base", "RC-40"),
    (11, "recycled_offer", "再生砕石 RC40 300t 横浜", "粒度 0-40mm", "road_base", "RC-40"),
    (12, "recycled_offer", "再生クラッシャラン RC-30 400t", "粒度 0-30mm", "road_base", "RC-30"),
    (13, "recycled_offer", "再生粒度調整砕石 RM-25", "上層路盤用 修正CBR 80%以上", "road_base", "RM-25"),
    (14, "recycled_offer", "RM-40 粒調砕石 200t", "路盤材", "road_base", "RM-40"),
    (15, "recycled_offer", "Crushed recycled aggregate RC-40", "Pickup by truck", "road_base", "RC-40"),
    (16, "material_offer", "再生砂 100m³", "埋戻し・管の基礎用", "other", None),
    (17, "material_offer", "単粒度砕石 5号", "バージン材の余り", "other", None),
    (20, "material_offer", "コンクリート塊 解体現場から 50t", "鉄筋なし、分別済み", "other", None),
    (21, "material_offer", "コンガラ 引取りお願いします", "無筋コンクリートがら", "other", None),
    (22, "material_offer", "アスファルト塊 30t", "舗装の打換えで発生", "other", None),
    (23, "material_offer", "アスガラ 処分", "切削材ではありません", "other", None),
    (24, "material_offer", "レンガ・ブロック片", "庭の解体", "other", None),
    (25, "material_offer", "Concrete rubble, 80 t", "From a demolished warehouse", "other", None),
    (30, "material_offer", "木くず 4m³", "解体で出た木材", "timber", None),
    (31, "material_offer", "廃材 角材・板材", "再利用できます", "timber", None),
    (32, "material_offer", "合板 12mm 50枚", "未使用の余り", "timber", None),
    (33, "material_offer", "パレット 木製 100枚", "1100×1100", "timber", None),
    (34, "material_offer", "Wooden pallets, 40", "Good condition", "timber", None),
    (35, "material_offer", "建設発生木材 チップ用", "釘付き", "timber", None),
    (40, "recycled_offer", "鉄くず H2 2t", "鉄スクラップ検収統一規格 H2相当", "scrap_steel", "H2"),
    (41, "recycled_offer", "鉄スクラップ HS 5t", "重量屑", "scrap_steel", "HS"),
    (42, "material_offer", "銅線 被覆付き 200kg", "電気工事の余り", "other", None),
    (43, "material_offer", "アルミ缶 プレス済み", "約300kg", "other", None),
    (44, "material_offer", "ステンレス端材 SUS304", "厚板", "other", None),
    (45, "material_offer", "Aluminium scrap, 500 kg", "Window frames", "other", None),
    (46, "material_offer", "Steel beams H-300, 12 m", "Reusable structural steel", "steel_section", None),
    (47, "material_offer", "スクラップ 雑品", "家電・金属の混合", "other", None),
    (50, "material_offer", "石膏ボード 9.5mm 80枚", "新品の余り", "plasterboard", None),
    (51, "material_offer", "プラスターボード 端材", "分別済み", "plasterboard", None),
    (52, "material_offer", "断熱材 グラスウール 30袋", "未開封", "insulation", None),
    (53, "material_offer", "Insulation boards, 40 sheets", "Polystyrene, unused", "insulation", None),
    (54, "material_offer", "タイル 300角 200枚", "床用", "tile", None),
    (55, "material_offer", "窓ガラス 10枚", "取り外し品", "other", None),
    (56, "material_offer", "鉄筋 D13 2t", "余剰材", "rebar", None),
    (57, "material_offer", "H形鋼 200×200", "中古", "steel_section", None),
    (60, "reuse_item", "中古の椅子 20脚", "会議室で使っていました", "chair", None),
    (61, "reuse_item", "事務用いす 10脚", "キャスター付き", "chair", None),
    (62, "reuse_item", "オフィスチェア 肘掛け付き", "動作良好", "chair", None),
    (63, "reuse_item", "座椅子 3脚", "和室用", "chair", None),
    (64, "reuse_item", "Office chairs x12", "Mesh back", "chair", None),
    (65, "reuse_item", "学習机", "引き出し付き", "household", None),
    (66, "reuse_item", "事務机 スチール 5台", "鍵付き", "household", None),
    (67, "reuse_item", "つくえ 木製", "子ども用", "household", None),
    (68, "reuse_item", "桐のタンス 三段", "引き出しは滑らか", "chest", None),
    (69, "reuse_item", "箪笥 婚礼家具", "大型", "chest", None),
    (70, "reuse_item", "整理だんす 小型", "4段", "chest", None),
    (71, "reuse_item", "本棚 3段", "木製", "cabinet", None),
    (72, "reuse_item", "食器棚 幅90cm", "ガラス扉", "cabinet", None),
    (73, "reuse_item", "スチール棚 5段", "倉庫用", "cabinet", None),
    (74, "reuse_item", "IKEAのソファ 2人掛け", "布張り", "sofa", None),
    (75, "reuse_item", "ソファー 3人掛け 革", "使用感あり", "sofa", None),
    (76, "reuse_item", "子供用自転車 16インチ", "ブレーキ調整済み", "bicycle", None),
    (77, "reuse_item", "ママチャリ 26インチ", "前かご付き", "bicycle", None),
    (78, "reuse_item", "Bicycle, 27 inch", "Needs a new tyre", "bicycle", None),
    (79, "reuse_item", "三輪車", "幼児用", "toy", None),
    (80, "reuse_item", "ベビーカー A型", "折りたたみ", "household", None),
    (81, "reuse_item", "アイスボックス 業務用", "保冷箱", "household", None),
    (82, "reuse_item", "扇風機", "動作確認済み", "appliance", None),
    (83, "reuse_item", "掃除機 紙パック式", "吸引力良好", "appliance", None),
    (84, "reuse_item", "テーブル 6人用", "ダイニング", "table", None),
    (85, "reuse_item", "ダイニングテーブルと椅子4脚", "セット", "table", None),
    (86, "reuse_item", "ロッカー 6人用", "鍵なし", "household", None),
    (87, "reuse_item", "Desk and chair set", "For students", "household", None),
    (88, "reuse_item", "衣装ケース 10個", "プラスチック", "household", None),
]  # fmt: skip

SOIL = {1: 2, 2: 2, 3: 2, 7: 2, 8: 1}
CHAIRS = {60: 2, 61: 2, 62: 2, 64: 2, 63: 1, 85: 1, 87: 1}
DESKS = {65: 2, 66: 2, 67: 2, 87: 1}
CHESTS = {68: 2, 69: 2, 70: 2}
BICYCLES = {76: 2, 77: 2, 78: 2}
RC40 = {10: 2, 11: 2, 15: 2}
CLASS_2A = {1: 2, 7: 2}
CONCRETE_RUBBLE = {20: 2, 21: 2, 25: 2}
RUBBLE = {20: 2, 21: 2, 22: 2, 23: 2, 25: 2, 24: 1}
PALLETS = {33: 2, 34: 2}
INSULATION = {52: 2, 53: 2}
PLASTERBOARD = {50: 2, 51: 2}
SOFAS = {74: 2, 75: 2}
SCRAP = {40: 2, 41: 2, 45: 2, 47: 2}
ALUMINIUM = {43: 2, 45: 2}
WOOD_WASTE = {30: 2, 31: 2, 35: 2}

# (kind of query, what is typed, {listing id: 2 meant / 1 acceptable})
QUERIES = [
    ("kana", "いす", CHAIRS),
    ("kana", "つくえ", DESKS),
    ("kana", "たんす", CHESTS),
    ("kana", "じてんしゃ", BICYCLES),
    ("kana", "ほんだな", {71: 2}),
    ("kana", "しょっきだな", {72: 2}),
    ("kana", "そふぁ", SOFAS),
    ("kana", "ぱれっと", PALLETS),
    ("kana", "ざんど", SOIL),
    ("kana", "はっせいど", SOIL),
    ("kana", "てっきん", {56: 2}),
    ("kana", "すくらっぷ", SCRAP),
    ("kana", "こんがら", CONCRETE_RUBBLE),
    ("kana", "がら", RUBBLE),
    ("kana", "だんねつざい", INSULATION),
    ("kana", "せっこうぼーど", PLASTERBOARD),
    ("kanji", "椅子", CHAIRS),
    ("kanji", "机", DESKS),
    ("kanji", "自転車", BICYCLES),
    ("kanji", "箪笥", CHESTS),
    ("kanji", "砕石", {10: 2, 11: 2, 12: 2, 13: 2, 14: 2, 15: 2, 17: 2, 16: 1}),
    ("kanji", "発生土", SOIL),
    ("kanji", "鉄くず", {40: 2, 41: 2, 47: 1}),
    ("kanji", "木くず", WOOD_WASTE),
    ("kanji", "石膏ボード", PLASTERBOARD),
    ("kanji", "食器棚", {72: 2}),
    ("kanji", "土砂", {1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 7: 2, 6: 1, 8: 1}),
    ("code", "RC40", RC40),
    ("code", "rc-40", RC40),
    ("code", "ＲＣ－４０", RC40),
    ("code", "RC‐40", RC40),
    ("code", "RC 40", RC40),
    ("code", "RM25", {13: 2}),
    ("code", "2a", CLASS_2A),
    ("code", "第2a種", CLASS_2A),
    ("code", "第２ａ種", CLASS_2A),
    ("code", "第2種", {1: 2, 2: 2, 5: 2, 7: 2}),
    ("code", "H2", {40: 2}),
    ("code", "SUS304", {44: 2}),
    ("english", "chair", CHAIRS),
    ("english", "bicycle", BICYCLES),
    ("english", "pallets", PALLETS),
    ("english", "insulation", INSULATION),
    ("english", "concrete", {**CONCRETE_RUBBLE, 10: 1, 15: 1, 22: 1}),
    ("english", "steel", {46: 2, 40: 2, 41: 2, 56: 1, 57: 1, 66: 1, 73: 1}),
    ("english", "aluminium", ALUMINIUM),
    ("english", "plasterboard", PLASTERBOARD),
    ("english", "sofa", SOFAS),
    ("english", "desk", {65: 2, 66: 2, 67: 2, 87: 2}),
    ("english", "soil", {1: 2, 2: 2, 3: 2, 7: 2, 4: 1, 5: 1, 6: 1, 8: 1}),
    ("synonym", "残土", SOIL),
    ("synonym", "ガラ", RUBBLE),
    ("synonym", "コンガラ", CONCRETE_RUBBLE),
    ("synonym", "アスガラ", {22: 2, 23: 2}),
    ("synonym", "廃材", WOOD_WASTE),
    ("synonym", "チェア", {60: 2, 61: 2, 62: 2, 64: 2, 63: 1, 87: 1}),
    ("synonym", "プラスターボード", PLASTERBOARD),
    ("synonym", "ソファー", SOFAS),
    ("synonym", "スクラップ", SCRAP),
    ("misspelt", "concreet", {**CONCRETE_RUBBLE, 10: 1, 15: 1, 22: 1}),
    ("misspelt", "insulaton", INSULATION),
    ("misspelt", "bicyle", BICYCLES),
    ("misspelt", "palets", PALLETS),
    ("misspelt", "aluminum", ALUMINIUM),
    ("misspelt", "chiar", CHAIRS),
    ("misspelt", "plasterbord", PLASTERBOARD),
    ("words", "中古 いす", {60: 2, 61: 1, 62: 1, 64: 1}),
    ("words", "ikea ソファ", {74: 2}),
    ("words", "事務 いす", {61: 2, 62: 1}),
    ("words", "木製 パレット", PALLETS),
]


def documents() -> list[ListingDocument]:
    out = []
    for number, (id_, kind, title, description, category, grade) in enumerate(LISTINGS):
        names = " ".join(
            n for n in (KIND_NAMES[kind], NAMES.get(category or ""), NAMES.get(grade or "")) if n
        )
        out.append(
            ListingDocument(
                id=id_,
                kind=kind,
                title=title,
                description=f"{description}\n{names}",
                category=category,
                grade=grade if kind == "recycled_offer" else None,
                soil_class=grade if kind.startswith("soil") else None,
                created_at=datetime(2025, 1, 1) + timedelta(minutes=number),
            )
        )
    return out


def shipped_synonyms() -> Synonyms:
    data = json.loads((ROOT / "migrations/data/synonyms_v1.json").read_text(encoding="utf-8"))
    return Synonyms(SynonymGroup(tuple(g["terms"]), g["mutual"]) for g in data["groups"])


@dataclass
class Figures:
    ndcg10: float  # mean nDCG@10 over the queries
    found: float  # share of queries with something meant (2) on the first page (20)
    recall: float  # share of all meant listings found anywhere
    by_kind: dict[str, tuple[float, float]]  # kind -> (nDCG@10, found)
    misses: list[str]  # queries whose first page has nothing meant


def ndcg(ranked: list[int], judged: dict[int, int], k: int = 10) -> float:
    def gain(rel: int) -> float:
        return (2**rel - 1) if rel else 0.0

    dcg = sum(gain(judged.get(i, 0)) / math.log2(n + 2) for n, i in enumerate(ranked[:k]))
    ideal = sorted(judged.values(), reverse=True)[:k]
    best = sum(gain(rel) / math.log2(n + 2) for n, rel in enumerate(ideal))
    return dcg / best if best else 0.0


def measure(index) -> Figures:
    scores, hits, meant_found, meant_all = [], [], 0, 0
    by_kind: dict[str, list[tuple[float, bool]]] = {}
    misses = []
    for kind, typed, judged in QUERIES:
        first = index.search(SearchQuery(text=typed, per_page=20)).ids
        everything = index.search(SearchQuery(text=typed, per_page=100)).ids
        score = ndcg(first, judged)
        found = any(judged.get(i) == 2 for i in first)
        meant = {i for i, rel in judged.items() if rel == 2}
        meant_all += len(meant)
        meant_found += len(meant & set(everything))
        scores.append(score)
        hits.append(found)
        by_kind.setdefault(kind, []).append((score, found))
        if not found:
            misses.append(typed)
    return Figures(
        ndcg10=sum(scores) / len(scores),
        found=sum(hits) / len(hits),
        recall=meant_found / meant_all,
        by_kind={
            kind: (sum(s for s, _ in v) / len(v), sum(f for _, f in v) / len(v))
            for kind, v in by_kind.items()
        },
        misses=misses,
    )
