"""Benchmark the listing import: a contractor's file of --rows rows (XLSX and CSV), read,
checked row by row with the kinds' ``validate`` and written in one transaction, then the
same file again (every row unchanged), then the export.

    .venv/bin/python benchmarks/listing_import.py --rows 10000
    .venv/bin/python benchmarks/listing_import.py --rows 10000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

With --database-url a database of its own is made beside the given one and dropped after.
Rows are soil offers, soil wants and construction-material offers around Tokyo, each with
the contractor's own reference (external_id). Times are wall seconds of the service as the
web job and the API run it (``market.catalog.imports.import_listings``), the commit timed
apart (it includes the after-commit search-outbox delivery, inline here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from openpyxl import Workbook  # noqa: E402

HEADER = [
    "管理番号",
    "種類",
    "タイトル",
    "緯度",
    "経度",
    "都道府県",
    "住所",
    "受渡期間（開始日）",
    "受渡期間（終了日）",
    "数量",
    "単価（円）",
    "ステータス",
    "土質区分",
    "土壌汚染調査",
    "最大運搬距離（km）",
    "用途",
    "受入可能な土質区分",
    "資材の種類",
    "状態",
]


def rows(n: int, seed: int) -> list[list[object]]:
    rng = random.Random(seed)
    today = dt.date.today()  # noqa: DTZ011 - any date near today does; the app's clock is not needed
    out = [HEADER]
    for i in range(1, n + 1):
        kind = rng.choice(["soil_offer", "soil_offer", "soil_want", "material_offer"])
        row = [
            f"S-{i:06d}",
            kind,
            f"現場{i} {'発生土' if kind != 'material_offer' else '余剰資材'}",
            round(35.5 + rng.random() * 0.4, 5),
            round(139.5 + rng.random() * 0.5, 5),
            "13",
            f"東京都江東区豊洲{i % 6 + 1}丁目",
            today,
            today + dt.timedelta(days=30 + i % 90),
            rng.randint(10, 5000),
            rng.choice([-2000, -1500, 0, 500]),
            "open",
            "",
            "",
            rng.choice([20, 30, 40, ""]),
            "",
            "",
            "",
            "",
        ]
        if kind == "soil_offer":
            row[12], row[13] = rng.choice(["1", "2a", "2b", "3a"]), "not_required"
        elif kind == "soil_want":
            row[15], row[16] = "road_embankment", "1, 2a, 2b"
        else:
            row[17], row[18] = "timber", "unused"
        out.append(row)
    return out


def as_xlsx(data) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in data:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def as_csv(data) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in data:
        writer.writerow([v.isoformat() if isinstance(v, dt.date) else v for v in row])
    return out.getvalue().encode("cp932")


def own_database(url: str) -> str:
    base = sa.engine.make_url(url)
    target = base.set(database=f"{base.database}_import_bench_{os.getpid()}")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return target.render_as_string(hide_password=False)


def drop_database(url: str, target: str) -> None:
    name = sa.engine.make_url(target).database
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from market import create_app, migrate

    workdir = Path(tempfile.mkdtemp(prefix="import-bench-"))
    url = own_database(args.database_url) if args.database_url else f"sqlite:///{workdir}/b.db"
    try:
        migrate.upgrade(url)
        app = create_app(
            {
                "DATABASE_URL": url,
                "INSTANCE_DIR": str(workdir / "instance"),
                "SECRET_KEY": "bench",
                "JOBS_IMMEDIATE": True,
                "LOG_FORMAT": "text",
            }
        )
        run(app, args)
        app.extensions["meguri.db"].dispose()
    finally:
        if args.database_url:
            drop_database(args.database_url, url)
    return 0


def run(app, args) -> None:
    from market.accounts import services as accounts
    from market.accounts.models import User
    from market.catalog import imports, sheets
    from market.catalog.queries import organisation_listings

    data = rows(args.rows, args.seed)
    files = {"xlsx": as_xlsx(data), "csv (Shift_JIS)": as_csv(data)}
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, load {os.getloadavg()}")
    print(
        f"rows {args.rows}; xlsx {len(files['xlsx']):,} B; csv {len(files['csv (Shift_JIS)']):,} B"
    )
    db = app.extensions["meguri.db"]
    with app.test_request_context():
        s = db.session()
        user = accounts.sign_up(
            s,
            email="bench@example.jp",
            password="correct horse battery",
            display_name="Bench",
            org_name="Bench 建設",
            org_kind="contractor",
            prefecture_code="13",
        )
        s.commit()
        user_id = user.id

    def timed(label, fmt, dry_run, commit=False):
        with app.test_request_context():
            s = db.session()
            user = s.get(User, user_id)
            start = time.perf_counter()
            outcome = imports.import_listings(s, user, files[fmt], dry_run=dry_run)
            work = time.perf_counter() - start
            committed = 0.0
            if commit:
                start = time.perf_counter()
                s.commit()
                committed = time.perf_counter() - start
            else:
                s.rollback()
            assert outcome.ok, outcome.errors[:5]
            print(
                f"{label:<34} {fmt:<16} {work:7.2f} s  commit {committed:6.2f} s  "
                f"{args.rows / (work + committed):8.0f} rows/s  "
                f"created {outcome.created} updated {outcome.updated} "
                f"unchanged {outcome.unchanged}"
            )

    timed("preview (dry run), empty account", "xlsx", True)
    timed("preview (dry run), empty account", "csv (Shift_JIS)", True)
    timed("import, all new", "xlsx", False, commit=True)
    timed("re-import, all unchanged", "xlsx", False, commit=True)
    timed("re-import, all unchanged", "csv (Shift_JIS)", False, commit=True)
    with app.test_request_context():
        s = db.session()
        listings = organisation_listings(s, s.get(User, user_id).organisation_id)
        for name, write in (("xlsx", sheets.write_xlsx), ("csv", sheets.write_csv)):
            start = time.perf_counter()
            body = write(listings)
            print(
                f"{'export':<34} {name:<16} {time.perf_counter() - start:7.2f} s  {len(body):,} B"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB; load {os.getloadavg()}")


if __name__ == "__main__":
    sys.exit(main())
