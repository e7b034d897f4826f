"""``flask`` commands: database, administrators, demo data, billing, job worker, matching
and search. They run what ``create_app`` has loaded already; only the demo data is imported
by its own command."""

from __future__ import annotations

import datetime as dt

import click
from flask import Flask, current_app

import search
from market import collector, migrate
from market.accounts.services import create_site_admin
from market.allocation.runs import start_run
from market.db import japan_today
from market.errors import DomainError, Invalid
from market.finder.index import all_documents, deliver, pending, retry_now
from market.models import Base
from market.orders.statements import issue_statements, previous_month
from market.tasks import run_worker


def register(app: Flask) -> None:
    """Every ``flask`` command: database, administrators, demo data, billing, worker,
    matching and search."""
    register_db(app)
    register_matching(app)
    register_search(app)
    register_billing(app)
    register_worker(app)

    @app.cli.command("create-admin")
    @click.option("--email", required=True)
    @click.option("--name", "display_name", default="Site admin")
    @click.password_option()
    def create_admin(email: str, display_name: str, password: str):
        """Create a site administrator."""
        session = current_app.extensions["meguri.db"].session()
        try:
            create_site_admin(session, email, password, display_name)
        except Invalid as exc:
            raise click.ClickException(
                "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
            ) from None
        session.commit()
        click.echo(f"site administrator {email} created")

    @app.cli.group("demo")
    def demo_group():
        """Realistic demo data around the Kanto region."""

    @demo_group.command("load")
    @click.option(
        "--seed", default=20261122, help="Random seed: the same seed gives the same data."
    )
    @click.option("--listings", default=400, help="Roughly how many listings to create.")
    @click.option("--if-empty", is_flag=True, help="Do nothing when organisations already exist.")
    def demo_load(seed: int, listings: int, if_empty: bool):
        """Load demo organisations, users and listings of every kind."""
        # Imported here: the demo data (and its images) load only for this command.
        from market.demo import ALREADY_LOADED, load_demo, run_matching

        session = current_app.extensions["meguri.db"].session()
        summary = load_demo(session, seed=seed, target=listings, if_empty=if_empty)
        session.commit()
        click.echo(summary)
        if summary != ALREADY_LOADED:  # then the morning's matching, as the worker runs it
            click.echo(run_matching(current_app._get_current_object(), session))


def register_db(app: Flask) -> None:
    @app.cli.group("db")
    def db_group():
        """Database schema (Alembic)."""

    @db_group.command("upgrade")
    @click.argument("revision", default="heads")
    def db_upgrade(revision: str):
        """Migrate the database to REVISION (default: the latest)."""
        migrate.upgrade(current_app.config["DATABASE_URL"], revision)
        click.echo(f"database at {revision}")

    @db_group.command("downgrade")
    @click.argument("revision", default="base")
    def db_downgrade(revision: str):
        """Migrate the database back to REVISION (default: empty)."""
        migrate.downgrade(current_app.config["DATABASE_URL"], revision)
        click.echo(f"database at {revision}")

    @db_group.command("check")
    def db_check():
        """Fail when the models and the migrations differ."""
        diffs = migrate.drift(current_app.extensions["meguri.db"].engine, Base.metadata)
        if diffs:
            for diff in diffs:
                click.echo(repr(diff))
            raise click.ClickException("models and migrations differ: add a migration")
        click.echo("models and migrations agree")


def register_billing(app: Flask) -> None:
    @app.cli.group("billing")
    def billing_group():
        """The platform's monthly fee statements to payees."""

    @billing_group.command("statements")
    @click.option(
        "--month",
        default=None,
        metavar="YYYY-MM",
        help="The month to issue for (default: last month, Japan time).",
    )
    def billing_statements(month: str | None):
        """Issue the month's fee statements (organisations that have one are skipped)."""
        if month is None:
            first = previous_month(japan_today())
        else:
            try:
                first = dt.date.fromisoformat(f"{month}-01")
            except ValueError:
                raise click.BadParameter(
                    "must be YYYY-MM, e.g. 2026-10", param_hint="--month"
                ) from None
        session = current_app.extensions["meguri.db"].session()
        issued = issue_statements(session, first)
        session.commit()
        click.echo(f"{first:%Y-%m}: {len(issued)} statements issued")


def register_worker(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--workers", default=2, help="Threads in this worker process.")
    def worker(workers: int):
        """Run a background job worker (thumbnails, mail, matching runs, search sync)."""
        collector.install()  # jobs run on several threads: see market/collector.py
        run_worker(current_app._get_current_object(), workers=workers)


def register_matching(app: Flask) -> None:
    @app.cli.group("matching")
    def matching_group():
        """Matching runs."""

    @matching_group.command("run")
    @click.option(
        "--family", type=click.Choice(["soil", "recycled", "reuse", "material"]), required=True
    )
    @click.option(
        "--region", default="08,09,10,11,12,13,14", help="Prefecture codes, comma-separated."
    )
    @click.option("--material", default=None, help="Recycled material code (recycled runs).")
    @click.option(
        "--horizon-weeks",
        type=int,
        default=None,
        help="Plan week by week over this many weeks (version 2); omitted: windows only.",
    )
    @click.option("--carbon-price", type=float, default=None, help="Yen per kg CO2.")
    def matching_run(
        family: str,
        region: str,
        material: str | None,
        horizon_weeks: int | None,
        carbon_price: float | None,
    ):
        """Queue a matching run (a worker, or --inline mode, carries it out)."""
        session = current_app.extensions["meguri.db"].session()
        try:
            run = start_run(
                session,
                None,
                family,
                [c.strip() for c in region.split(",") if c.strip()],
                material,
                horizon_weeks=horizon_weeks,
                carbon_price_per_kg=carbon_price,
            )
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        session.commit()
        click.echo(f"matching run {run.id} queued (job {run.job_id})")


def register_search(app: Flask) -> None:
    @app.cli.group("search")
    def search_group():
        """The listing search index."""

    @search_group.command("reindex")
    def reindex():
        """Rebuild the index beside the live one, then swap (searches keep working)."""
        index = current_app.extensions["meguri.search"]
        index.ensure()
        session = current_app.extensions["meguri.db"].new_session()
        try:
            count = index.rebuild(all_documents(session))
        finally:
            session.close()
        click.echo(f"index rebuilt: {count} listings indexed")

    @search_group.command("verify")
    @click.option("--repair", is_flag=True, help="Fix the differences found.")
    def verify_index(repair: bool):
        """Compare the database and the index; exit 1 when they differ (unless repaired)."""
        index = current_app.extensions["meguri.search"]
        index.ensure()  # idempotent; an index that was lost comes back empty and shows as missing
        session = current_app.extensions["meguri.db"].new_session()
        try:
            report = search.verify(index, all_documents(session), repair=repair)
        finally:
            session.close()
        click.echo(
            f"checked {report.checked} listings: {len(report.missing)} missing, "
            f"{len(report.stale)} stale, {len(report.extra)} extra"
            + (" — repaired" if report.repaired else "")
        )
        for label, ids in (
            ("missing", report.missing),
            ("stale", report.stale),
            ("extra", report.extra),
        ):
            if ids:
                click.echo(
                    f"  {label}: {', '.join(map(str, ids[:50]))}{' …' if len(ids) > 50 else ''}"
                )
        if not report.in_sync and not repair:
            raise SystemExit(1)

    @search_group.command("drain")
    @click.option("--now", is_flag=True, help="Retry waiting entries at once (after an outage).")
    def drain(now: bool):
        """Deliver pending index changes from the outbox."""
        session = current_app.extensions["meguri.db"].new_session()
        try:
            if now:
                retry_now(session)
                session.commit()
            delivered = deliver(current_app._get_current_object())
            left = pending(session)
        finally:
            session.close()
        click.echo(f"delivered {delivered} changes; {left} waiting")
