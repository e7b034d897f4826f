"""Dashboards (one per organisation kind, one for the site), their CSV downloads, the
impact of one order, and the factor tables. Parse → service → commit → render."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from market.core.forms import form_values
from market.core.writes import submit
from market.errors import Forbidden, NotFound
from market.factors.models import BulkDensity, ImpactFactor, TruckType
from market.factors.tables import load_factors
from market.orders import moves
from market.reports import charts, factor_labels, impact, queries, services
from market.reports.forms import FactorForm, HaulForm
from market.services import db_session

bp = Blueprint("reports", __name__)


@bp.app_template_global("svg_chart")
def svg_chart(kind: str, labels, series, title: str, unit: str = ""):
    """Any page's chart in the dashboards' style (other areas hand over only figures)."""
    return charts.render(kind, labels, series, title, unit)


def _org_dashboard() -> queries.Dashboard:
    org = current_user.organisation
    if org is None:
        abort(404)
    return queries.for_organisation(db_session(), org)


def _csv(table, name: str) -> Response:
    if table is None:
        abort(404)
    return Response(
        table.csv().encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="meguri-{name}-{table.slug}.csv"'},
    )


@bp.get("/dashboard")
@login_required
def dashboard():
    board = _org_dashboard()
    return render_template(
        "reports/dashboard.html", board=board, csv_endpoint="reports.dashboard_csv"
    )


@bp.get("/dashboard/<slug>.csv")
@login_required
def dashboard_csv(slug: str):
    board = _org_dashboard()
    return _csv(board.table(slug), board.kind)


def _admin_only() -> None:
    if not current_user.is_site_admin:
        abort(403)


@bp.get("/dashboard/site")
@login_required
def site():
    _admin_only()
    board = queries.site(db_session())
    return render_template("reports/dashboard.html", board=board, csv_endpoint="reports.site_csv")


@bp.get("/dashboard/site/<slug>.csv")
@login_required
def site_csv(slug: str):
    _admin_only()
    return _csv(queries.site(db_session()).table(slug), "site")


def _order_id(order_id: int) -> int:
    if order_id >= 2**31:  # beyond the database's integer: no such order
        abort(404)
    return order_id


def _impact_page(order_id: int, errors: dict | None = None, status: int = 200):
    s = db_session()
    order_id = _order_id(order_id)
    order = moves.visible_order(s, current_user, order_id)
    rows = impact.deliveries(s, impact.Order.id == order.id)
    estimate = None
    if not rows:
        fs = load_factors(s)
        impact.attach_order_data(s, fs, [order])
        estimate = impact.haul(fs, order)
    return render_template(
        "reports/order_impact.html",
        order=order,
        rows=rows,
        estimate=estimate or rows[0].haul,
        trucks=s.scalars(select(TruckType).order_by(TruckType.max_payload_kg)).all(),
        haul_basis=queries.HAUL_BASIS,
        errors=errors or {},
        form=form_values(HaulForm),
    ), status


@bp.get("/orders/<int:order_id>/impact")
@login_required
def order_impact(order_id: int):
    return _impact_page(order_id)


@bp.post("/orders/<int:order_id>/haul")
@login_required
def enter_haul(order_id: int):
    order = moves.visible_order(db_session(), current_user, _order_id(order_id))
    done = submit(
        HaulForm, lambda s, form: services.enter_haul(s, current_user, order, form.sent())
    )
    if not done.ok:
        return _impact_page(order_id, done.errors, done.status)
    flash(_("Haul saved; the figures use it now."), "success")
    return redirect(url_for("reports.order_impact", order_id=order_id))


def _factors_page(errors: dict | None = None, status: int = 200, failed: str = ""):
    s = db_session()
    return render_template(
        "reports/factors.html",
        errors=errors or {},
        failed=failed,
        factors=s.scalars(
            select(ImpactFactor).order_by(ImpactFactor.family, ImpactFactor.key)
        ).all(),
        trucks=s.scalars(select(TruckType).order_by(TruckType.max_payload_kg)).all(),
        densities=s.scalars(select(BulkDensity).order_by(BulkDensity.code)).all(),
        family_names=factor_labels.FACTOR_FAMILIES,
        factor_names=factor_labels.FACTOR_NAMES,
        factor_units=factor_labels.FACTOR_UNITS,
    ), status


@bp.get("/reports/factors")
@login_required
def factors():
    return _factors_page()


@bp.post("/reports/factors/<table>/<path:key>")
@login_required
def edit_factor(table: str, key: str):
    done = submit(
        FactorForm,
        lambda s, form: services.edit_factor(s, current_user, table, key, form.sent()),
        unless=(Forbidden, NotFound),
    )
    if not done.ok:
        return _factors_page(done.errors, done.status, f"{table}:{key}")
    flash(_("Factor saved."), "success")
    return redirect(url_for("reports.factors"))
