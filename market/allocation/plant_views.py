"""Improvement plants: plant operators publish their plants and treatment lines; every
signed-in user sees a plant with its load by week."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from market.accounts.models import OrgKind
from market.allocation import planning, plants, rechecks
from market.allocation.forms import ConversionForm, PlantForm
from market.allocation.models import Plant, PlantConversion
from market.catalog.models import Prefecture, SoilClass
from market.core.forms import form_values
from market.core.writes import commit_or_refuse, submit
from market.errors import Conflict, Invalid
from market.services import db_session

bp = Blueprint("plants", __name__)


def _is_operator() -> bool:
    org = current_user.organisation
    return org is not None and org.kind == OrgKind.plant_operator


def _choices() -> dict:
    s = db_session()
    return {
        "prefectures": s.scalars(select(Prefecture).order_by(Prefecture.code)).all(),
        "classes": s.scalars(select(SoilClass).order_by(SoilClass.rank)).all(),
    }


def _list_page(errors: dict | None = None, form=None, status: int = 200):
    s = db_session()
    rows = s.scalars(select(Plant).order_by(Plant.prefecture_code, Plant.id)).all()
    return render_template(
        "allocation/plants.html",
        plants=rows,
        is_operator=_is_operator(),
        errors=errors or {},
        form=form or {},
        **_choices(),
    ), status


@bp.get("/plants")
@login_required
def plant_list():
    return _list_page()


@bp.post("/plants")
@login_required
def plant_create():
    done = submit(
        PlantForm, lambda s, form: plants.save_plant(s, current_user, form), refuse=(Invalid,)
    )
    if not done.ok:
        return _list_page(done.errors, form_values(PlantForm), 422)
    flash(_("Plant saved. Add its treatment lines."), "success")
    return redirect(url_for("plants.plant_detail", plant_id=done.result.id))


def _detail_page(plant: Plant, errors: dict | None = None, status: int = 200, **forms):
    s = db_session()
    return render_template(
        "allocation/plant.html",
        plant=plant,
        can_edit=plant.organisation_id == current_user.organisation_id and _is_operator(),
        load=planning.plant_load(s, plant),
        capacity=plants.weekly_capacity(plant),
        errors=errors or {},
        plant_form=forms.get("plant_form") or {},
        line_form=forms.get("line_form") or {},
        editing=forms.get("editing"),
        **_choices(),
    ), status


@bp.get("/plants/<int:plant_id>")
@login_required
def plant_detail(plant_id: int):
    plant = db_session().get(Plant, plant_id)
    if plant is None:
        abort(404)
    return _detail_page(plant)[0]


@bp.post("/plants/<int:plant_id>")
@login_required
def plant_edit(plant_id: int):
    plant = plants.own_plant(db_session(), current_user, plant_id)

    def save(s, form: PlantForm) -> Plant:
        before = (plant.lat, plant.lon, plant.window_start, plant.window_end)
        plants.save_plant(s, current_user, form, plant)
        if (plant.lat, plant.lon, plant.window_start, plant.window_end) != before:
            rechecks.plant_terms_changed(s, plant.name, [c.id for c in plant.conversions])
        return plant

    done = submit(PlantForm, save, refuse=(Invalid,))
    if not done.ok:
        plant = db_session().get(Plant, plant_id)
        return _detail_page(plant, done.errors, 422, plant_form=form_values(PlantForm))
    flash(_("Plant saved."), "success")
    return redirect(url_for("plants.plant_detail", plant_id=plant_id))


def _terms(line: PlantConversion | None) -> tuple | None:
    if line is None:
        return None
    return (line.from_class, line.to_class, line.price_per_m3, Decimal(line.weekly_capacity))


@bp.post("/plants/<int:plant_id>/lines", defaults={"line_id": None})
@bp.post("/plants/<int:plant_id>/lines/<int:line_id>")
@login_required
def line_save(plant_id: int, line_id: int | None):
    s = db_session()
    plant = plants.own_plant(s, current_user, plant_id)
    line = None
    if line_id is not None:
        line = s.get(PlantConversion, line_id)
        if line is None or line.plant_id != plant.id:
            abort(404)

    def save(s, form: ConversionForm) -> None:
        before = _terms(line)
        plants.save_conversion(s, current_user, plant, form, line)
        if line is not None and _terms(line) != before:
            rechecks.plant_terms_changed(s, plant.name, [line.id])

    done = submit(ConversionForm, save, refuse=(Invalid,))
    if not done.ok:
        plant = db_session().get(Plant, plant_id)
        return _detail_page(
            plant, done.errors, 422, line_form=form_values(ConversionForm), editing=line_id
        )
    flash(_("Treatment line saved."), "success")
    return redirect(url_for("plants.plant_detail", plant_id=plant_id))


@bp.post("/plants/<int:plant_id>/lines/<int:line_id>/delete")
@login_required
def line_delete(plant_id: int, line_id: int):
    plant = plants.own_plant(db_session(), current_user, plant_id)
    done = commit_or_refuse(
        lambda s: plants.remove_conversion(s, current_user, plant, line_id), refuse=(Conflict,)
    )
    if done.ok:
        flash(_("Treatment line removed."), "success")
    else:
        flash(done.refusal.message, "error")
    return redirect(url_for("plants.plant_detail", plant_id=plant_id))
