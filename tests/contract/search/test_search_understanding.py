"""Queries as Japanese users type them, on every backend: kana for kanji words, codes
however typed, synonyms, misspelt Latin words and each part of a mixed-script title."""

from datetime import datetime

import pytest

from search import ListingDocument, SearchQuery, SynonymGroup, Synonyms


def listing(id, title, **fields):
    fields.setdefault("kind", "offer")
    fields.setdefault("created_at", datetime(2025, 2, id))
    return ListingDocument(id=id, title=title, **fields)


CORPUS = [
    listing(1, "中古の椅子 20脚", description="会議室で使っていました"),
    listing(2, "子供用自転車 16インチ", description="ブレーキ調整済み"),
    listing(3, "桐のタンス 三段", description="引き出しは滑らかです"),
    listing(4, "再生クラッシャラン RC-40 500t", grade="RC-40"),
    listing(5, "再生クラッシャラン RC-30 300t", description="粒度 0-30mm 400t在庫", grade="RC-30"),
    listing(6, "建設発生土 第2a種 1,200m³", soil_class="2a"),
    listing(7, "建設発生土 第2b種 800m³", soil_class="2b"),
    listing(8, "コンクリート塊 解体現場から", description="鉄筋なし"),
    listing(9, "IKEAのソファ 2人掛け", description="布張り"),
    listing(10, "Crushed concrete aggregate", description="Recycled, washed"),
    listing(11, "Insulation boards, 40 sheets", description="Glass wool"),
    listing(12, "アイスボックス 業務用", description="冷蔵用の保冷箱"),
    listing(13, "木製の箪笥", description="婚礼家具"),
    listing(14, "Steel sheet offcuts", description="1.6 mm"),
    listing(15, "Sheep wool batts", description="natural"),
]
SYNONYMS = Synonyms(
    [
        SynonymGroup(("建設発生土", "発生土", "残土", "建設残土")),
        SynonymGroup(("ガラ", "コンクリート塊", "コンクリートがら", "コンガラ"), mutual=False),
    ]
)


@pytest.fixture
def index(search_index):
    search_index.upsert(CORPUS, wait=True)
    search_index.set_synonyms(SYNONYMS)
    return search_index


def found(index, text):
    return set(index.search(SearchQuery(text=text, per_page=100)).ids)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("いす", {1}),
        ("イス", {1}),
        ("ｲｽ", {1}),
        ("じてんしゃ", {2}),
        ("じてん", {2}),  # still typing
        ("たんす", {3, 13}),
        ("タンス", {3, 13}),  # 箪笥 read as たんす
        ("箪笥", {3, 13}),  # タンス's dictionary form
        ("ちゅうこのいす", {1}),
        ("中古のいす", {1}),  # half converted
    ],
)
def test_kana_finds_the_kanji_word(index, typed, meant):
    assert found(index, typed) == meant


def test_kana_matches_from_the_start_of_a_word(index):
    assert 12 not in found(index, "いす")  # アイスボックス contains イス, not the word 椅子


@pytest.mark.parametrize(
    "typed", ["RC40", "rc40", "rc-40", "ＲＣ－４０", "RC‐40", "RC 40", "ＲＣ４０"]
)
def test_grade_codes_match_however_typed(index, typed):
    assert found(index, typed) == {4}  # not RC-30 with its 400t


@pytest.mark.parametrize("typed", ["2a", "第2a種", "第２ａ種", "２Ａ"])
def test_soil_class_codes_match_however_typed(index, typed):
    assert found(index, typed) == {6}


def test_synonyms_find_the_trade_words(index):
    assert found(index, "残土") == {6, 7}
    assert found(index, "ざんど") == {6, 7}
    assert found(index, "ガラ") == {8}
    assert found(index, "がら") == {8}
    assert found(index, "コンクリート塊") == {8}  # one-way: ガラ is not every コンクリート塊


def test_new_synonyms_apply_at_once_and_none_undoes_them(index):
    index.set_synonyms(Synonyms([SynonymGroup(("ソファー", "長椅子"))]))
    assert found(index, "長椅子") == {9}
    assert found(index, "残土") == set()
    index.set_synonyms(Synonyms())
    assert found(index, "長椅子") == set()


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("concreet", {10}), ("insulaton", {11}), ("insulatoin", {11}), ("agregate", {10})],
)
def test_misspelt_latin_words_are_corrected(index, typed, meant):
    assert found(index, typed) == meant


def test_a_word_someone_wrote_is_not_corrected(index):
    assert found(index, "sheet") == {11, 14}  # and "sheets" (a prefix); not sheep
    assert found(index, "sheep") == {15}
    assert found(index, "sheeb") == {11, 14, 15}  # nobody wrote it: sheep, sheet(s) are near


def test_each_part_of_a_mixed_script_title(index):
    assert found(index, "ikea") == {9}
    assert found(index, "ソファ") == {9}
    assert found(index, "そふぁ") == {9}
    assert found(index, "ikea ソファ") == {9}


def test_exact_title_matches_rank_first(index):
    # 発生土 in the title as typed ranks above a synonym's match in the title
    results = index.search(SearchQuery(text="発生土")).ids
    assert set(results) == {6, 7}
    assert index.search(SearchQuery(text="ガラ")).ids == [8]
