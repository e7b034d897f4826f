"""Meguri web app: ``create_app`` wires config, database, services, blueprints and CLI."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import inspect as sa_inspect

from market import config as config_module

ROOT = Path(__file__).resolve().parent.parent
LOCALES = config_module.LOCALES

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def select_locale() -> str:
    chosen = session.get("lang") if request else None
    if chosen in LOCALES:
        return chosen
    user = getattr(g, "api_user", None)
    # The locale as loaded with the token's user, never a new load: after a failed flush
    # (the database went away mid-request) the user is expired and loading it again would
    # fail while the error page is being worded.
    locale = sa_inspect(user).dict.get("locale") if user is not None else None
    if locale in LOCALES:
        return locale
    return "ja"  # Japanese first, whatever the browser says


# The areas are imported inside the functions below, not at the top: ``import market.db``
# (a worker, a migration, a script) must not load the whole web app, and the areas import
# this package's infrastructure modules while it is still being imported.


def create_app(test_config: dict | None = None) -> Flask:
    """The app, in steps: settings, database, jobs and services, the web (Babel, login,
    blueprints, error pages), the CLI."""
    from market.core.web import DatabaseIdConverter

    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "market" / "static"),
    )
    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    _configure(app, test_config)
    _open_database(app)
    _start_services(app)
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(ROOT / "market" / "translations"),
    )
    _init_login(app)
    _register_blueprints(app)
    _register_web(app)
    return app


def _configure(app: Flask, test_config: dict | None) -> None:
    from market.core import observability

    settings = config_module.from_environ()
    if test_config:
        settings.update(test_config)
    config_module.finalise(settings, app.instance_path)
    app.config.update(settings)
    observability.configure_logging(app.config["LOG_FORMAT"])


def _open_database(app: Flask) -> None:
    from market import collector
    from market.db import Database

    db = Database(app.config["DATABASE_URL"])
    app.extensions["meguri.db"] = db

    @app.teardown_appcontext
    def _remove_session(_exc):
        db.remove()
        # Garbage is collected here, once the session is closed, not inside some allocation
        # while another thread is half-way through one (market/collector.py).
        collector.collect_if_due()


def _start_services(app: Flask) -> None:
    """The job queue with every area's jobs, the mailer and the search index."""
    from market import mail, tasks

    # Every area declares its jobs in its own jobs.py (docs/architecture.md, "Jobs");
    # importing them registers them in market.tasks.
    from market.allocation import jobs as _allocation_jobs  # noqa: F401
    from market.catalog import jobs as _catalog_jobs  # noqa: F401
    from market.finder import index as search_index
    from market.finder import jobs as _finder_jobs  # noqa: F401
    from market.orders import jobs as _orders_jobs  # noqa: F401
    from market.pickups import jobs as _pickups_jobs  # noqa: F401

    tasks.configure(app, app_factory=create_app)
    app.extensions["meguri.mailer"] = mail.make_mailer(app.config)
    app.extensions["meguri.search"] = search_index.make(app)


def _register_blueprints(app: Flask) -> None:
    from market.accounts.views import bp as accounts_bp
    from market.allocation.plant_views import bp as plants_bp
    from market.allocation.views import bp as allocation_bp
    from market.api.views import bp as api_bp
    from market.catalog.api_views import api as catalog_api_bp
    from market.catalog.sheet_views import bp as listing_files_bp
    from market.catalog.views import bp as catalog_bp
    from market.core.views import bp as core_bp
    from market.finder.views import api as finder_api_bp
    from market.finder.views import bp as finder_bp
    from market.notifications.views import api as notifications_api_bp
    from market.notifications.views import bp as notifications_bp
    from market.orders.views import api as orders_api_bp
    from market.orders.views import bp as orders_bp
    from market.orders.views import stripe_webhook
    from market.pickups.views import bp as pickups_bp
    from market.reports.views import bp as reports_bp
    from market.site.views import bp as site_bp
    from market.trace import guard  # noqa: F401 - append-only and retention rules on every flush
    from market.trace.views import api as trace_api_bp
    from market.trace.views import bp as trace_bp

    for bp in (
        site_bp,
        core_bp,
        accounts_bp,
        allocation_bp,
        plants_bp,
        catalog_bp,
        catalog_api_bp,
        listing_files_bp,
        finder_bp,
        finder_api_bp,
        notifications_bp,
        notifications_api_bp,
        api_bp,
        orders_bp,
        orders_api_bp,
        reports_bp,
        pickups_bp,
        trace_bp,
        trace_api_bp,
    ):
        app.register_blueprint(bp)
    for bp in (finder_api_bp, notifications_api_bp, api_bp, catalog_api_bp, orders_api_bp):
        csrf.exempt(bp)  # token auth, no cookies
    csrf.exempt(stripe_webhook)  # authenticated by the Stripe-Signature header


def _register_web(app: Flask) -> None:
    """Logging, rate limits, error pages, template helpers and the CLI."""
    from market.cli import register as register_cli
    from market.core import errors, limits, observability, web
    from market.site import web as site_web

    observability.register(app)
    limits.register(app)
    errors.register(app)
    web.register(app)
    site_web.register(app)
    register_cli(app)


def _init_login(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from market.accounts.models import User

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = lazy_gettext("Please sign in to continue.")
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(raw: str):
        user_id, _, generation = raw.partition(":")
        if not user_id.isdigit() or not generation.isdigit():
            return None
        from market.accounts.services import LOGIN_KEY, login_is_open

        db = app.extensions["meguri.db"].session()
        user = db.get(User, int(user_id))
        if user is None or not user.active or user.session_generation != int(generation):
            return None
        # Signed out on the server (logout, or this browser's row gone): a copy of the
        # cookie opens nothing.
        if not login_is_open(db, user.id, session.get(LOGIN_KEY)):
            return None
        return user
