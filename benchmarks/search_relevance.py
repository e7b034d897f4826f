"""Relevance on the judged set (tests/contract/search/judged.py): nDCG@10, "found at all"
and recall, overall and by kind of query, on the embedded engine.

    .venv/bin/python benchmarks/search_relevance.py                      # SQLite
    .venv/bin/python benchmarks/search_relevance.py --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "contract" / "search")]

import judged  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from search import SearchQuery, make_index  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a scratch SQLite file)")
    parser.add_argument("--no-synonyms", action="store_true", help="measure without synonyms")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/judged.db"
    engine = create_engine(url)
    index = make_index(engine, "embedded", name="judged")
    index.drop()
    index.ensure()
    index.upsert(judged.documents())
    if not args.no_synonyms:
        index.set_synonyms(judged.shipped_synonyms())
    figures = judged.measure(index)
    print(
        f"{engine.dialect.name}: {len(judged.QUERIES)} queries over {len(judged.LISTINGS)} listings"
    )
    print(
        f"nDCG@10 {figures.ndcg10:.3f}, found at all {figures.found:.3f}, "
        f"recall {figures.recall:.3f}"
    )
    for kind, (ndcg, found) in figures.by_kind.items():
        count = sum(1 for k, _, _ in judged.QUERIES if k == kind)
        print(f"  {kind:>9} ({count:2}): nDCG@10 {ndcg:.3f}, found {found:.3f}")
    print(f"nothing meant on the first page: {figures.misses or 'none'}")
    for _, typed, judgement in judged.QUERIES:
        first = index.search(SearchQuery(text=typed, per_page=20)).ids
        score = judged.ndcg(first, judgement)
        if score < 0.8:
            meant = sorted(i for i, rel in judgement.items() if rel == 2)
            print(f"  {score:.2f} {typed}: first {first[:8]}, meant {meant}")
    index.drop()
    engine.dispose()


if __name__ == "__main__":
    main()
