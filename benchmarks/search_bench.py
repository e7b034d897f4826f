"""Benchmark the embedded search engine at scale: full reindex time, latency of searches
as people type them (kanji, kana, codes, synonyms, English, misspelt words, places;
each with facet counts and the page's documents), and process memory.

    .venv/bin/python benchmarks/search_bench.py --backend sqlite --listings 1000000
    .venv/bin/python benchmarks/search_bench.py --backend postgres --listings 1000000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/search_bench

Listings are synthetic but shaped like Meguri's: Japanese and English titles and
descriptions in several spellings (椅子/いす, タンス/箪笥, RC-40/RC40, 第2a種), 30
categories of words, spread over the 1,741 municipalities of the shipped gazetteer (a
few large cities hold most, as in life). They are generated lazily from --seed, so the
script holds none in memory and two seeds give two different data sets and query mixes."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from search import ListingDocument, SearchQuery, SynonymGroup, Synonyms, make_index  # noqa: E402
from search._schema import KEYS  # noqa: E402

PLACES = json.loads((ROOT / "migrations/data/municipalities_v1.json").read_text("utf-8"))
PLACES = PLACES["municipalities"]
SYNONYMS = json.loads((ROOT / "migrations/data/synonyms_v1.json").read_text("utf-8"))
# category -> (words as written in titles, unit); several spellings of one thing
WORDS = {
    "soil": (["建設発生土", "発生土", "残土", "山砂", "改良土", "第2a種 発生土", "第3b種 建設発生土", "surplus soil"], "m3"),
    "aggregate": (["再生砕石 RC-40", "再生クラッシャラン RC40", "RC-30 再生砕石", "RM-25 粒調砕石", "crushed stone RC-40"], "t"),
    "rubble": (["コンクリート塊", "コンガラ", "アスファルト塊", "アスガラ", "concrete rubble"], "t"),
    "timber": (["木くず", "廃材", "合板", "角材", "パレット", "wooden pallets"], "m3"),
    "furniture": (["椅子", "いす", "オフィスチェア", "机", "つくえ", "タンス", "箪笥", "本棚", "食器棚", "ソファ", "office chairs"], "個"),
    "bicycle": (["自転車", "子供用自転車", "三輪車", "bicycle"], "台"),
    "metal": (["鉄くず", "鉄スクラップ H2", "銅線", "アルミ", "ステンレス", "steel scrap", "aluminium scrap"], "kg"),
    "boards": (["石膏ボード", "断熱材", "タイル", "ガラス", "insulation boards", "plasterboard"], "枚"),
}  # fmt: skip
SITES = [
    "解体現場",
    "造成工事",
    "オフィス移転",
    "倉庫整理",
    "改修工事",
    "工場閉鎖",
    "引越し",
    "粗大ごみ回収",
]
EXTRAS = [
    "引取り歓迎。", "運搬も相談可能です。", "品質試験済み。", "少量からお譲りします。",
    "平日のみ積込み可。", "Pickup by truck welcome.", "写真あり。", "早い者勝ちです。",
    "分別済みで異物混入なし。", "長期保管品のため現状渡し。", "Good condition.",
]  # fmt: skip
QUERIES = {  # kind of query -> (text, category it belongs to or None)
    "kanji": [("椅子", "furniture"), ("土砂", None), ("砕石", "aggregate"), ("自転車", "bicycle"),
              ("鉄くず", "metal"), ("石膏ボード", "boards"), ("改良土", "soil"), ("机", "furniture")],
    "kana": [("いす", "furniture"), ("たんす", "furniture"), ("じてんしゃ", "bicycle"),
             ("つくえ", "furniture"), ("はっせいど", "soil"), ("ぱれっと", "timber")],
    "code": [("RC40", "aggregate"), ("rc-40", "aggregate"), ("ＲＣ－４０", "aggregate"),
             ("第2a種", "soil"), ("2a", "soil"), ("H2", "metal")],
    "synonym": [("残土", "soil"), ("ガラ", "rubble"), ("がら", "rubble"), ("スクラップ", "metal")],
    "english": [("chairs", "furniture"), ("pallets", "timber"), ("concrete", "rubble"),
                ("insulation", "boards"), ("steel", "metal")],
    "typo": [("concreet", "rubble"), ("insulaton", "boards"), ("palets", "timber"),
             ("bicyle", "bicycle"), ("aluminum", "metal")],
    "two words": [("中古 いす", "furniture"), ("再生砕石 rc40", "aggregate"), ("発生土 第2a種", "soil")],
    "place only": [("", None)],
    "no words": [("", None)],  # facets of everything, or of a filter
}  # fmt: skip


def _place_weights(rng: random.Random) -> list[float]:
    # a few large cities hold most listings (Pareto-like), the same for every listing
    return [rng.paretovariate(1.2) for _ in PLACES]


class Generator:
    def __init__(self, seed: int):
        self.seed = seed
        self.weights = _place_weights(random.Random(seed))
        self.cumulative = []
        total = 0.0
        for w in self.weights:
            total += w
            self.cumulative.append(total)

    def place(self, rng: random.Random) -> dict:
        return rng.choices(PLACES, cum_weights=self.cumulative)[0]

    def listing(self, i: int) -> ListingDocument:
        rng = random.Random(self.seed * 1_000_003 + i)
        place = self.place(rng)
        category = rng.choice(list(WORDS))
        words, unit = WORDS[category]
        word = rng.choice(words)
        quantity = rng.randint(1, 500)
        start = date(2025, 1, 1) + timedelta(days=rng.randint(0, 365))
        town = place["name_ja"]
        return ListingDocument(
            id=i,
            kind=rng.choice(["offer", "offer", "offer", "wanted"]),
            title=f"{word} {quantity}{unit} {town}",
            description=(
                f"{town}の{rng.choice(SITES)}から出た{word}です。{quantity}{unit}あります。"
                + "".join(rng.sample(EXTRAS, 3))
            ),
            org_name=f"{rng.choice(['めぐり', '関東', '西日本', 'Green'])}{rng.choice(['商事', '建設', 'リサイクル'])}",
            prefecture=place["prefecture_code"],
            municipality_code=place["code"],
            category=category,
            status="open" if rng.random() < 0.9 else "closed",
            price_per_unit=rng.choice([0, 100, 500, 1200, 3000, 15000, None]),
            unit=unit,
            quantity=float(quantity),
            window_start=start,
            window_end=start + timedelta(days=rng.randint(7, 120)),
            lat=place["lat"] + rng.uniform(-0.05, 0.05),
            lon=place["lon"] + rng.uniform(-0.05, 0.05),
            created_at=datetime(2025, 1, 1) + timedelta(seconds=i * 30),
        )

    def queries(self, count: int) -> list[tuple[str, SearchQuery]]:
        rng = random.Random(self.seed + 7)
        out = []
        kinds = list(QUERIES)
        for number in range(count):
            kind = kinds[number % len(kinds)]
            words, category = rng.choice(QUERIES[kind])
            place = self.place(rng)
            filters = {}
            if category and rng.random() < 0.5:
                filters = {"category": [category]}
            elif rng.random() < 0.3:
                filters = {"kind": ["offer"]}
            if kind == "no words":
                filters = rng.choice([{}, {"category": [rng.choice(list(WORDS))]},
                                      {"prefecture": [place["prefecture_code"]]}])  # fmt: skip
            near = (
                (place["lat"], place["lon"])
                if kind == "place only" or (kind != "no words" and rng.random() < 0.7)
                else None
            )
            out.append(
                (
                    kind,
                    SearchQuery(
                        text=words,
                        filters=filters,
                        near=near,
                        radius_km=rng.choice([10, 20, 50, 100]) if near else None,
                        sort=rng.choice(["relevance", "distance"]) if near else "relevance",
                        facets=["category", "prefecture", "kind"],
                    ),
                )
            )
        return out


def rss_mb() -> str:
    """Resident memory: private (heap) and file-backed (the memory-mapped Sudachi
    dictionary, shared by every process on the machine)."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                found[key] = int(value.split()[0]) / 1024
    return f"{found['VmRSS']:.0f} (private {found['RssAnon']:.0f}, mapped files {found['RssFile']:.0f})"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def table_sizes(engine, index) -> str:
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        return f"database file {os.path.getsize(path) / 2**20:.0f} MB"
    with engine.connect() as conn:
        size = conn.execute(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                " WHERE c.relname LIKE :p AND c.relkind = 'r'"
            ),
            {"p": f"search_{index.name}_%"},
        ).scalar()
    return f"tables and indexes {int(size or 0) / 2**20:.0f} MB"


def replicate(engine, index, copies: int, base: int) -> None:
    """Copy every indexed listing `copies - 1` more times under the ids id + k·base, in
    SQL, with its terms, tags, place and document: a corpus `copies` times larger with
    the same posting-list proportions, without analysing the text again (Sudachi is
    most of a build's time). Then the inverted index is finished as a rebuild would."""
    t = index.tables
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}, rank) VALUES ('automerge', 0)"))
            conn.execute(
                text(
                    "CREATE TEMP TABLE source AS SELECT rowid AS r, title, body, reading, head,"
                    f" tags FROM {t.fts}"
                )
            )
            columns = ", ".join(c for c in KEYS if c != "id")
            for k in range(1, copies):
                shift = k * base
                conn.execute(
                    text(
                        f"INSERT INTO {t.keys} (rid, id, {columns})"
                        f" SELECT ((rid >> 32) << 32) | (id + {shift}), id + {shift}, {columns}"
                        f" FROM {t.keys} WHERE id <= {base}"
                    )
                )
                conn.execute(
                    text(
                        f"INSERT INTO {t.store} (id, document) SELECT id + {shift},"
                        f" json_set(document, '$.id', id + {shift}) FROM {t.store}"
                        f" WHERE id <= {base}"
                    )
                )
                conn.execute(
                    text(
                        f"INSERT INTO {t.fts} (rowid, title, body, reading, head, tags)"
                        f" SELECT ((r >> 32) << 32) | ((r & 4294967295) + {shift}), title, body,"
                        " reading, head, tags FROM source"
                    )
                )
            conn.execute(text("DROP TABLE source"))
            conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}) VALUES ('optimize')"))
            conn.execute(text(f"INSERT INTO {t.fts} ({t.fts}, rank) VALUES ('automerge', 4)"))
        else:
            gin = conn.execute(
                text(
                    "SELECT indexname FROM pg_indexes WHERE tablename = :t AND indexdef LIKE '%gin%'"
                ),
                {"t": t.keys},
            ).scalar_one()
            conn.execute(text(f"DROP INDEX {gin}"))
            columns = ", ".join(c for c in (*KEYS, "tsv") if c != "id")
            for k in range(1, copies):
                shift = k * base
                conn.execute(
                    text(
                        f"INSERT INTO {t.keys} (id, {columns}) SELECT id + {shift}, {columns}"
                        f" FROM {t.keys} WHERE id <= {base}"
                    )
                )
                conn.execute(
                    text(
                        f"INSERT INTO {t.store} (id, document) SELECT id + {shift},"
                        f" jsonb_set(document::jsonb, '{{id}}', to_jsonb(id + {shift}))::text"
                        f" FROM {t.store} WHERE id <= {base}"
                    )
                )
            conn.execute(
                text(f"CREATE INDEX {gin} ON {t.keys} USING GIN (tsv) WITH (fastupdate = off)")
            )
        # a new build token: every process loads its columns again
        conn.execute(text(f"UPDATE {t.clock} SET build = 'copied', seq = seq + 1"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {t.keys}"))
            conn.execute(text(f"VACUUM ANALYZE {t.store}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", help="PostgreSQL URL (postgres backend)")
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=800)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the index (re-run queries)")
    parser.add_argument("--reuse", action="store_true", help="search an index kept before")
    parser.add_argument(
        "--compare-sql",
        type=int,
        default=0,
        metavar="N",
        help="also run the first N searches through the SQL engine the columns replaced",
    )
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="generate listings/copies listings and index each that many times (see replicate)",
    )
    args = parser.parse_args()

    workdir = Path(os.environ.get("TMPDIR") or tempfile.gettempdir())
    if args.backend == "sqlite":
        url = f"sqlite:///{workdir}/search-bench-{args.listings}-{args.seed}.db"
    else:
        url = args.database_url or os.environ.get("MEGURI_TEST_DATABASE_URL")
        if not url:
            parser.error("--database-url (or MEGURI_TEST_DATABASE_URL) is needed for postgres")
    engine = create_engine(url)
    index = make_index(engine, "embedded", name=f"bench{args.seed}")
    generator = Generator(args.seed)

    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, backend {args.backend}, seed {args.seed}")  # fmt: skip
    with engine.connect() as conn:
        if args.backend == "postgres":
            print("server:", conn.execute(text("SELECT version()")).scalar().split(" on ")[0])
    print(f"load average at start: {load_average()}")
    rss_before = rss_mb()
    if not args.reuse:
        index.drop()
        index.ensure()
        started = time.perf_counter()
        base = args.listings // args.copies
        indexed = index.rebuild(generator.listing(i) for i in range(1, base + 1))
        reindex_s = time.perf_counter() - started
        print(f"reindex: {indexed} of {base} listings indexed in {reindex_s:.0f} s")
        if args.copies > 1:
            started = time.perf_counter()
            replicate(engine, index, args.copies, base)
            copied = index.count()
            print(
                f"copied {args.copies} times under new ids: {copied} listings indexed"
                f" in {time.perf_counter() - started:.0f} s more"
            )
    index.ensure()  # an index kept by an older version gets its change log
    index.set_synonyms(
        Synonyms(SynonymGroup(tuple(g["terms"]), g["mutual"]) for g in SYNONYMS["groups"])
    )
    print(table_sizes(engine, index))
    rss_after_build = rss_mb()

    workload = generator.queries(args.queries)
    started = time.perf_counter()
    index.warm(background=False)  # what a gunicorn worker does in a thread as it starts
    held = index._columns_held
    print(
        f"warm (loads the columns and the persisted words' ids):"
        f" {time.perf_counter() - started:.1f} s; columns {held.nbytes / 2**20:.0f} MB,"
        f" {len(held.words)} words' ids {held.words.nbytes / 2**20:.0f} MB"
    )
    rss_after_load = rss_mb()
    seen = set()  # words this process has searched (its memory keeps their ids)
    for _, query in workload[:40]:  # warm caches
        index.search(query)
        seen.add(query.text)
    first_time, again = [], []
    by_kind: dict[str, list[float]] = {}
    hits_by_kind: dict[str, list[int]] = {}
    latencies, totals = [], []
    for kind, query in workload:
        started = time.perf_counter()
        results = index.search(query)
        elapsed = (time.perf_counter() - started) * 1000
        latencies.append(elapsed)
        if query.text:
            (again if query.text in seen else first_time).append(elapsed)
            seen.add(query.text)
        by_kind.setdefault(kind, []).append(elapsed)
        hits_by_kind.setdefault(kind, []).append(results.total)
        totals.append(results.total)
    rss_after_queries = rss_mb()
    print(
        f"all {len(workload)} searches (facet counts on 3 facets, 20 documents a page): "
        f"p50 {percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms, "
        f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms; "
        f"median hits {statistics.median(totals):.0f}, max {max(totals)}"
    )
    for name, values in (("a word's first search", first_time), ("words searched before", again)):
        if values:
            print(
                f"  {name}: p50 {percentile(values, 50):.1f} ms, p95"
                f" {percentile(values, 95):.1f} ms, p99 {percentile(values, 99):.1f} ms"
                f" ({len(values)} searches)"
            )
    for kind, values in by_kind.items():
        hits = hits_by_kind[kind]
        print(
            f"  {kind:>10}: p50 {percentile(values, 50):6.1f} ms, p95 {percentile(values, 95):6.1f}"
            f" ms, max {max(values):6.1f} ms ({len(values)} searches; hits median"
            f" {statistics.median(hits):.0f}, max {max(hits)})"
        )
    print(f"load average at end: {load_average()}")
    if args.compare_sql:
        # the engine before the columns (one SQL statement), on the same index and
        # queries, alternating with the columns so that both see the same load
        old, new = [], []
        for _, query in workload[: args.compare_sql]:
            for run, out in (
                (index._search_sql, old),
                (index.search, new),
            ):
                started = time.perf_counter()
                results = run(query)
                out.append(((time.perf_counter() - started) * 1000, results.ids, results.total))
        same = sum(a[1:] == b[1:] for a, b in zip(old, new, strict=True))
        for name, values in (("one SQL statement", old), ("columns in memory", new)):
            ms = [v[0] for v in values]
            print(
                f"  {name}: p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms,"
                f" max {max(ms):.1f} ms"
            )
        print(f"  same page and total: {same} of {len(old)} searches")
        print(f"load average after the comparison: {load_average()}")
    with engine.connect() as conn:
        words = conn.execute(text(f"SELECT count(*), sum(length(ids)) FROM {index.tables.words}"))
        persisted, size = words.one()
    print(f"persisted words (2,000+ hits): {persisted}, {(size or 0) / 2**20:.0f} MB of ids")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"memory (RSS, MB): {rss_before} at start, {rss_after_build} after reindex,"
        f" {rss_after_load} with the columns loaded, {rss_after_queries} after searches;"
        f" peak {peak_mb:.0f} MB"
    )
    if not args.keep:
        index.drop()
        if args.backend == "sqlite":
            engine.dispose()
            Path(engine.url.database).unlink(missing_ok=True)
    engine.dispose()


if __name__ == "__main__":
    main()
