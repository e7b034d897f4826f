"""Tokenisation and analysis: what makes Japanese two-character words, kana, readings,
codes however typed, synonyms and misspelt words findable."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.analysis import fold_kana, read
from search.synonyms import SynonymGroup, Synonyms
from search.text import (
    HEAD,
    READING,
    TEXT,
    analyse,
    index_terms,
    normalise,
    plain_query,
    query_terms,
)
from search.typos import corrections, deletions, distance, lexicon_keys


def test_width_case_and_kana_fold_to_one_spelling():
    assert normalise("ＲＣ－４０") == "rc-40"
    assert (
        normalise("ｺﾝｸﾘｰﾄ")
        == normalise("コンクリート")
        == normalise("こんくりいと".replace("い", "ー"))
    )
    assert normalise("たんす") == normalise("タンス") == normalise("ﾀﾝｽ") == "タンス"
    assert fold_kana("コンピューター") == fold_kana("コンピュータ")
    assert fold_kana("ヴァイオリン") == fold_kana("バイオリン")


def test_cjk_runs_become_bigrams_plus_last_character():
    assert index_terms("再生砕石") == ["再生", "生砕", "砕石", "石"]
    assert index_terms("椅子") == ["椅子", "子"]


def test_letters_and_digits_are_words_apart():
    assert index_terms("Crushed RC-40!") == ["crushed", "rc", "40"]
    assert index_terms("RC40号") == ["rc", "40", "号"]
    assert index_terms("第２ａ種") == ["第", "2", "a", "種"]


def test_readings_and_dictionary_forms_come_from_the_dictionary():
    assert read("椅子").text == "イス" and read("自転車").text == "ジテンシャ"
    assert read("たんす").normalized == "箪笥" and read("タンス").normalized == "箪笥"
    assert read("発生土").starts == (0, 4)  # 発生 / 土: each word's reading starts
    analysed = analyse("中古の椅子 RC-40")
    assert analysed.reading_text == "チュウコ ノ イス"  # word by word
    assert analysed.reading_runs == ["チュウコノイス"]
    assert "イス" in analysed.heads and "イス" in analysed.reading
    assert analyse("タンス").variants == ["箪笥", "笥"]


def _fields(term):
    return [[p.field for p in option] for option in term.options]


def test_kana_words_match_readings_from_a_word_start():
    (term,) = query_terms("いす")
    reading, head = term.options[0]
    assert (reading.field, reading.terms) == (READING, ("イス",))
    assert (head.field, head.terms) == (HEAD, ("イス",))
    (term,) = query_terms("じてんしゃ")
    assert term.options[0][0].terms == ("ジテ", "テン", "ンシ", "シャ")
    (term,) = query_terms("椅子")
    assert _fields(term) == [[TEXT]]  # kanji match as written, never by sound


@pytest.mark.parametrize("typed", ["RC40", "rc-40", "ＲＣ－４０", "RC‐40", "RC 40", "rc40"])
def test_codes_are_one_phrase_however_typed(typed):
    (term,) = query_terms(typed)
    (phrase,) = term.options[0]
    assert phrase.terms == ("rc", "40") and phrase.prefix  # still typing: RC-4 finds RC-40


def test_soil_class_codes():
    assert [t.options[0][0].terms for t in query_terms("第２ａ種")] == [
        ("第",),
        ("2", "a"),
        ("種",),
    ]
    assert [t.options[0][0].terms for t in query_terms("2a")] == [("2", "a")]


def test_nothing_typed_is_syntax():
    words = [t.options[0][0].terms for t in query_terms('"*( NEAR OR -')]
    assert words == [("near",), ("or",)]
    assert query_terms("") == []


def test_synonyms_expand_words_their_readings_and_inside_runs():
    synonyms = Synonyms(
        [
            SynonymGroup(("発生土", "残土", "建設発生土")),
            SynonymGroup(("ガラ", "コンクリート塊"), mutual=False),
        ]
    )
    (term,) = query_terms("残土", synonyms)
    assert [o[0].like for o in term.options] == ["%残土%", "%発生土%", "%建設発生土%"]
    (term,) = query_terms("ざんど", synonyms)
    assert "%発生土%" in [o[0].like for o in term.options]
    (term,) = query_terms("残土処分", synonyms)
    assert "%発生土処分%" in [o[0].like for o in term.options]
    (term,) = query_terms("がら", synonyms)
    assert "%コンクリト塊%" in [o[0].like for o in term.options]
    (term,) = query_terms("コンクリート塊", synonyms)  # one-way: not the reverse
    assert [o[0].like for o in term.options] == ["%コンクリト塊%"]
    assert Synonyms.from_json(synonyms.to_json()) == synonyms


def test_typo_distance_and_lexicon():
    assert distance("concreet", "concrete", 2) == 1  # swapped neighbours
    assert distance("insulaton", "insulation", 2) == 1
    assert distance("steel", "sheet", 1) == 2
    assert deletions("insulaton", 2) & lexicon_keys("insulation")
    assert corrections("concreet", ["concrete", "concert", "discrete"]) == ["concrete"]
    assert corrections("chai", ["chair"]) == []  # four letters: no typo allowed
    (term,) = query_terms("aluminum")
    assert term.typo_word == "aluminum"


def test_queries_are_bounded():
    assert len(query_terms("あい " * 5000)) == 1  # duplicates collapse
    assert len(query_terms(" ".join(f"w{i}" for i in range(1000)))) == 16


def test_plain_query_strips_syntax_and_sends_kana_as_katakana():
    assert plain_query('"椅子" -(RC-40)*') == "椅子 rc 40"
    assert plain_query("いす RC40") == "イス rc 40"


@given(st.text())
def test_tokenising_any_text_never_fails(text):
    for term in index_terms(text):
        assert term and " " not in term and '"' not in term and "'" not in term
    for term in query_terms(text):
        assert term.options and all(p.terms and all(p.terms) for o in term.options for p in o)
    analyse(text)
