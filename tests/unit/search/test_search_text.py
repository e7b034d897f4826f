"""Tokenisation: what makes Japanese two-character words and full-width input findable."""

from hypothesis import given
from hypothesis import strategies as st

from search.text import QueryTerm, index_terms, normalise, plain_query, query_terms


def test_nfkc_folds_width_and_case():
    assert normalise("ＲＣ－４０") == "rc-40"
    assert normalise("ｺﾝｸﾘｰﾄ") == "コンクリート"


def test_cjk_runs_become_bigrams_plus_last_character():
    assert index_terms("再生砕石") == ["再生", "生砕", "砕石", "石"]
    assert index_terms("椅子") == ["椅子", "子"]


def test_latin_and_digits_are_words():
    assert index_terms("Crushed RC-40!") == ["crushed", "rc", "40"]
    assert index_terms("RC40号") == ["rc40", "号"]


def test_query_terms():
    assert query_terms("再生砕石") == [QueryTerm(("再生", "生砕", "砕石"))]
    assert query_terms("土") == [QueryTerm(("土",), prefix=True)]
    assert query_terms("RC-40") == [QueryTerm(("rc",)), QueryTerm(("40",), prefix=True)]
    assert query_terms('"*( NEAR OR -') == [QueryTerm(("near",)), QueryTerm(("or",), prefix=True)]
    assert query_terms("") == []


def test_queries_are_bounded():
    assert len(query_terms("あい " * 5000)) == 1  # duplicates collapse
    assert len(query_terms(" ".join(f"w{i}" for i in range(1000)))) == 16


def test_plain_query_strips_syntax():
    assert plain_query('"椅子" -(RC-40)*') == "椅子 rc 40"


@given(st.text())
def test_tokenising_any_text_never_fails(text):
    for term in index_terms(text):
        assert term and " " not in term and '"' not in term and "'" not in term
    for term in query_terms(text):
        assert all(term.terms)
