"""Benchmark the embedded search engine: full reindex time, text+facet+geo query latency,
a naive LIKE scan over the same data for comparison, and process memory.

    .venv/bin/python benchmarks/search_bench.py --backend sqlite --listings 100000
    .venv/bin/python benchmarks/search_bench.py --backend postgres \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Listings are synthetic but shaped like Meguri's (Japanese titles and descriptions, 16
cities, 7 categories); they are generated lazily so the script holds none in memory."""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from search import ListingDocument, SearchQuery, make_index  # noqa: E402
from search.geo import bounding_box, haversine_threshold  # noqa: E402
from search.text import query_terms  # noqa: E402

CITIES = [
    ("札幌", 43.062, 141.354, "北海道", "01100"),
    ("仙台", 38.268, 140.870, "宮城県", "04100"),
    ("さいたま", 35.861, 139.645, "埼玉県", "11100"),
    ("千葉", 35.607, 140.106, "千葉県", "12100"),
    ("新宿", 35.690, 139.692, "東京都", "13104"),
    ("横浜", 35.444, 139.638, "神奈川県", "14100"),
    ("新潟", 37.916, 139.036, "新潟県", "15100"),
    ("静岡", 34.976, 138.383, "静岡県", "22100"),
    ("名古屋", 35.181, 136.906, "愛知県", "23100"),
    ("京都", 35.021, 135.756, "京都府", "26100"),
    ("大阪", 34.686, 135.520, "大阪府", "27100"),
    ("神戸", 34.690, 135.196, "兵庫県", "28100"),
    ("広島", 34.396, 132.459, "広島県", "34100"),
    ("福岡", 33.607, 130.418, "福岡県", "40130"),
    ("熊本", 32.790, 130.742, "熊本県", "43100"),
    ("那覇", 26.212, 127.681, "沖縄県", "47201"),
]
MATERIALS = {
    "土砂": (["建設発生土", "残土", "山砂", "改良土", "soil"], "m3"),
    "砕石": (["再生砕石", "再生クラッシャーラン", "砕石", "crushed stone"], "t"),
    "がれき": (["コンクリート塊", "アスファルト塊", "瓦", "レンガ", "crushed concrete"], "t"),
    "木材": (["木くず", "廃材", "合板", "角材", "パレット", "pallets"], "m3"),
    "家具": (["椅子", "机", "棚", "ロッカー", "ソファ", "office chairs"], "脚"),
    "金属": (["鉄くず", "銅線", "アルミ", "ステンレス", "steel scrap"], "kg"),
    "建材": (["石膏ボード", "断熱材", "ガラス", "タイル", "insulation"], "枚"),
}
SOIL_CLASSES = ["第1種建設発生土", "第2種建設発生土", "第3種建設発生土", "第4種建設発生土"]
GRADES = ["RC-40", "RC-30", "RC-10", "RM-40"]
SITES = ["解体現場", "造成工事", "オフィス移転", "倉庫整理", "改修工事", "工場閉鎖"]
EXTRAS = [
    "引取り歓迎。", "運搬も相談可能です。", "品質試験済み。", "少量からお譲りします。",
    "平日のみ積込み可。", "Pickup by truck welcome.", "写真あり。", "早い者勝ちです。",
    "分別済みで異物混入なし。", "長期保管品のため現状渡し。",
]  # fmt: skip
QUERY_WORDS = [
    ("椅子", "家具"), ("土砂", "土砂"), ("砕石", "砕石"), ("家具", "家具"),
    ("コンクリート", "がれき"), ("鉄くず", "金属"), ("RC-40", "砕石"), ("pallets", "木材"),
    ("石膏ボード", "建材"), ("改良土", "土砂"), ("机", "家具"), ("瓦", "がれき"),
]  # fmt: skip


def listing(i: int) -> ListingDocument:
    rng = random.Random(i)
    city, lat, lon, prefecture, municipality = rng.choice(CITIES)
    category = rng.choice(list(MATERIALS))
    words, unit = MATERIALS[category]
    word = rng.choice(words)
    quantity = rng.randint(1, 500)
    start = date(2025, 1, 1) + timedelta(days=rng.randint(0, 365))
    return ListingDocument(
        id=i,
        kind=rng.choice(["offer", "offer", "offer", "wanted"]),
        title=f"{word} {quantity}{unit} {city}",
        description=(
            f"{city}の{rng.choice(SITES)}から出た{word}です。{quantity}{unit}あります。"
            + "".join(rng.sample(EXTRAS, 3))
        ),
        org_name=f"{rng.choice(['めぐり', '関東', '西日本', 'Green'])}{rng.choice(['商事', '建設', 'リサイクル'])}",
        prefecture=prefecture,
        municipality_code=municipality,
        soil_class=rng.choice(SOIL_CLASSES) if category == "土砂" else None,
        grade=rng.choice(GRADES) if category == "砕石" else None,
        material=word,
        category=category,
        status="open" if rng.random() < 0.9 else "closed",
        price_per_unit=rng.choice([0, 100, 500, 1200, 3000, 15000, None]),
        unit=unit,
        quantity=float(quantity),
        window_start=start,
        window_end=start + timedelta(days=rng.randint(7, 120)),
        lat=lat + rng.uniform(-0.3, 0.3),
        lon=lon + rng.uniform(-0.3, 0.3),
        created_at=datetime(2025, 1, 1) + timedelta(minutes=i),
    )


def queries(count: int, seed: int = 7) -> list[SearchQuery]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        word, category = rng.choice(QUERY_WORDS)
        _, lat, lon, _, _ = rng.choice(CITIES)
        facet_filter = rng.choice([{"category": [category]}, {"kind": ["offer"]}])
        out.append(
            SearchQuery(
                text=word,
                filters=facet_filter,
                near=(lat + rng.uniform(-0.2, 0.2), lon + rng.uniform(-0.2, 0.2)),
                radius_km=rng.choice([20, 50, 100]),
                sort=rng.choice(["relevance", "distance"]),
                facets=["category", "prefecture", "kind"],
            )
        )
    return out


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# The fields the engine's free text reads (title + ListingDocument.searchable_body()).
TEXT_COLUMNS = (
    "title", "description", "org_name", "material", "category", "soil_class", "grade",
    "prefecture",
)  # fmt: skip
NAIVE_COLUMNS = ("id", *TEXT_COLUMNS, "kind", "lat", "lon")


def naive_where(query: SearchQuery) -> tuple[str, dict]:
    """What one would write without a search engine, cheap tests first: the facet
    equality, the bounding box, the same haversine test, then LIKE over every field the
    engine's free text reads."""
    lat, lon = query.near
    facet, values = next(iter(query.filters.items()))
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, query.radius_km)
    params = {
        "p": f"%{query.text.lower()}%",
        "v": values[0],
        "lat": lat,
        "lon": lon,
        "cos": math.cos(math.radians(lat)),
        "hav": haversine_threshold(query.radius_km),
        "min_lat": min_lat,
        "max_lat": max_lat,
        "min_lon": min_lon,
        "max_lon": max_lon,
    }
    where = (
        f"{facet} = :v AND lat BETWEEN :min_lat AND :max_lat"
        " AND lon BETWEEN :min_lon AND :max_lon AND "
        "(power(sin(radians(lat - :lat) / 2), 2) + :cos * cos(radians(lat))"
        " * power(sin(radians(lon - :lon) / 2), 2)) <= :hav AND ("
        + " OR ".join(f"lower({column}) LIKE :p" for column in TEXT_COLUMNS)
        + ")"
    )
    return where, params


def naive_like(conn, query: SearchQuery, table: str) -> int:
    """The naive search: a count and one page (20 by id)."""
    where, params = naive_where(query)
    total = conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar()
    conn.execute(text(f"SELECT id FROM {table} WHERE {where} ORDER BY id LIMIT 20"), params).all()
    return total


def naive_ids(conn, query: SearchQuery, table: str) -> set[int]:
    where, params = naive_where(query)
    return {row[0] for row in conn.execute(text(f"SELECT id FROM {table} WHERE {where}"), params)}


def embedded_ids(index, query: SearchQuery) -> set[int]:
    ids: set[int] = set()
    page = 1
    while True:
        results = index.search(replace(query, page=page, per_page=100, facets=[]))
        ids.update(results.ids)
        if page >= results.pages:
            return ids
        page += 1


def text_match_ms(index, query: SearchQuery) -> float:
    """One run of the engine's full-text match for the query's words only, in ms."""
    terms = query_terms(query.text)
    params = index._sql.match(terms, [])
    table = index.tables.fts if index.engine.dialect.name == "sqlite" else index.tables.keys
    with index.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        started = time.perf_counter()
        # count(*): the match inside the database, no rows carried to Python
        if index.engine.dialect.name == "sqlite":
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (params["q"],))
        else:
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE tsv @@ CAST(%s AS tsquery)",
                (params["q_words"],),
            )
        cursor.fetchall()
        elapsed = (time.perf_counter() - started) * 1000
        cursor.close()
        return elapsed


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", help="PostgreSQL URL (postgres backend)")
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--naive-queries", type=int, default=30)
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved repeats of each compared query"
    )
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="search-bench-")
    if args.backend == "sqlite":
        url = f"sqlite:///{workdir}/bench.db"
    else:
        url = args.database_url or os.environ.get("MEGURI_TEST_DATABASE_URL")
        if not url:
            parser.error("--database-url (or MEGURI_TEST_DATABASE_URL) is needed for postgres")
    engine = create_engine(url)
    index = make_index(engine, "embedded", name="bench")
    index.drop()
    index.ensure()

    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, backend {args.backend}")  # fmt: skip
    with engine.connect() as conn:
        if args.backend == "postgres":
            print("server:", conn.execute(text("SELECT version()")).scalar().split(" on ")[0])

    print(f"load average at start: {load_average()}")
    rss_before = rss_mb()
    started = time.perf_counter()
    indexed = index.rebuild(listing(i) for i in range(1, args.listings + 1))
    reindex_s = time.perf_counter() - started
    rss_after_build = rss_mb()
    print(f"reindex: {indexed} of {args.listings} listings indexed in {reindex_s:.1f} s")

    workload = queries(args.queries)
    for query in workload[:20]:  # warm caches
        index.search(query)
    latencies, totals = [], []
    for query in workload:
        started = time.perf_counter()
        results = index.search(query)
        latencies.append((time.perf_counter() - started) * 1000)
        totals.append(results.total)
    rss_after_queries = rss_mb()
    print(
        f"text+facet+geo search ({len(workload)} queries, facet counts on 3 facets): "
        f"p50 {percentile(latencies, 50):.2f} ms, p95 {percentile(latencies, 95):.2f} ms, "
        f"p99 {percentile(latencies, 99):.2f} ms, max {max(latencies):.2f} ms; "
        f"median hits {statistics.median(totals):.0f}"
    )

    # Naive baseline: a plain copy of the same rows without any index, LIKE-scanned.
    naive_table = "bench_naive_listings"
    columns = NAIVE_COLUMNS
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {naive_table}"))
        conn.execute(
            text(
                f"CREATE TABLE {naive_table} (id BIGINT PRIMARY KEY, "
                + "".join(f"{c} TEXT, " for c in (*TEXT_COLUMNS, "kind"))
                + "lat DOUBLE PRECISION, lon DOUBLE PRECISION)"
            )
        )
    insert = text(
        f"INSERT INTO {naive_table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + c for c in columns)})"
    )
    batch = []
    for i in range(1, args.listings + 1):
        document = listing(i)
        if document.status == "open":
            batch.append({c: getattr(document, c) for c in columns})
        if len(batch) == 5000 or i == args.listings:
            with engine.begin() as conn:
                conn.execute(insert, batch)
            batch = []
    # Same first N queries, a block of naive then a block of embedded, --rounds times:
    # both see the same machine load (the host is shared); each query's time is its
    # median over the rounds. (Alternating per query would run every search right after
    # a full-table scan has flushed the CPU caches, which no real server does.)
    compared = workload[: args.naive_queries]
    naive_runs: list[list[float]] = [[] for _ in compared]
    embedded_runs: list[list[float]] = [[] for _ in compared]
    same_ids, differing = 0, []
    with engine.connect() as conn:
        naive_like(conn, workload[0], naive_table)  # warm
        for query in compared:
            expected, found = naive_ids(conn, query, naive_table), embedded_ids(index, query)
            if expected == found:
                same_ids += 1
            else:
                differing.append(
                    f"{query.text}: naive {len(expected)}, embedded {len(found)}, "
                    f"only embedded {len(found - expected)}, only naive {len(expected - found)}"
                )
        for _ in range(args.rounds):
            for number, query in enumerate(compared):
                started = time.perf_counter()
                naive_like(conn, query, naive_table)
                naive_runs[number].append((time.perf_counter() - started) * 1000)
            for number, query in enumerate(compared):
                started = time.perf_counter()
                index.search(query)
                embedded_runs[number].append((time.perf_counter() - started) * 1000)
    naive_ms = [statistics.median(runs) for runs in naive_runs]
    embedded_ms = [statistics.median(runs) for runs in embedded_runs]
    ratios = [n / e for n, e in zip(naive_ms, embedded_ms, strict=True)]
    print(
        f"naive LIKE scan vs embedded, first {len(compared)} queries in alternating blocks, "
        f"median of {args.rounds} rounds each: naive mean {statistics.mean(naive_ms):.1f} ms "
        f"(p50 {percentile(naive_ms, 50):.1f}), embedded mean {statistics.mean(embedded_ms):.2f}"
        f" ms (p50 {percentile(embedded_ms, 50):.2f}) -> "
        f"{statistics.mean(naive_ms) / statistics.mean(embedded_ms):.0f}x faster (ratio of "
        f"means), per-query ratio median {statistics.median(ratios):.0f}x, "
        f"min {min(ratios):.0f}x"
    )
    print(f"result ids identical on {same_ids}/{len(compared)} queries")
    # The floor of this engine shape: the full-text index's own match of the words alone
    # (no facet, no place, no rows read), against what a search may cost for 50x.
    text_ms = [
        statistics.median(text_match_ms(index, query) for _ in range(args.rounds))
        for query in compared
    ]
    print(
        f"full-text match of the words alone (count(*) of FTS5 MATCH / GIN @@), same queries: mean "
        f"{statistics.mean(text_ms):.2f} ms (p50 {percentile(text_ms, 50):.2f}); a whole search at 50x the "
        f"naive scan would have {statistics.mean(naive_ms) / 50:.2f} ms"
    )
    for line in differing:
        print(f"  differ: {line}")
    print(f"load average at end: {load_average()}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"memory (RSS): {rss_before:.1f} MB before reindex, {rss_after_build:.1f} MB after, "
        f"{rss_after_queries:.1f} MB after queries; peak {peak_mb:.1f} MB"
    )
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {naive_table}"))
    index.drop()
    engine.dispose()


if __name__ == "__main__":
    main()
