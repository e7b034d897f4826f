"""Relevance measured on a judged set (judged.py: 70 queries of seven kinds over 73
listings, the shipped synonyms), on every backend. Fails when nDCG@10 or "found at all"
drops below what this engine reached (docs/benchmarks.md, "Search relevance")."""

import judged
import pytest

NDCG_FLOOR = 0.94  # measured 0.946 on SQLite and PostgreSQL
FOUND_FLOOR = 1.0  # every query has something it means on its first page


@pytest.fixture
def figures(search_index):
    search_index.upsert(judged.documents(), wait=True)
    search_index.set_synonyms(judged.shipped_synonyms())
    return judged.measure(search_index)


def test_the_judged_set_is_big_and_varied_enough():
    assert len(judged.QUERIES) >= 50
    kinds = {kind for kind, _, _ in judged.QUERIES}
    assert {"kana", "kanji", "code", "english", "synonym", "misspelt"} <= kinds
    ids = {listing[0] for listing in judged.LISTINGS}
    for _, typed, judgement in judged.QUERIES:
        assert set(judgement) <= ids, typed
        assert 2 in judgement.values(), typed


def test_ndcg_and_found_at_all_do_not_drop(figures):
    assert figures.found >= FOUND_FLOOR, f"nothing meant on the first page: {figures.misses}"
    assert figures.ndcg10 >= NDCG_FLOOR, figures.by_kind


def test_the_metric_itself():
    assert judged.ndcg([1, 2], {1: 2, 2: 2}) == pytest.approx(1.0)
    assert judged.ndcg([3, 1], {1: 2}) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert judged.ndcg([], {1: 2}) == 0.0
