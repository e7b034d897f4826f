"""The search page (text, facets, map, distance from my sites), saved searches and the
search API."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

import search
from market.api.auth import (
    token_optional,
)
from market.api.contract import answer, operation
from market.catalog.kinds import SPECS
from market.catalog.models import (
    Grade,
    Material,
    MaterialCategory,
    Prefecture,
    ReuseCategory,
    SoilClass,
)
from market.core.forms import form_values
from market.core.writes import commit, submit
from market.errors import Invalid, Unavailable
from market.finder import services, suggest, synonyms
from market.finder.forms import SavedSearchForm, SynonymsForm, search_args
from market.finder.models import SavedSearch, SynonymGroup
from market.finder.schemas import Hits, SearchQuery, Suggestions, SuggestQuery
from market.services import db_session

bp = Blueprint("finder", __name__)
api = Blueprint("finder_api", __name__, url_prefix="/api/v1")


def _labels() -> dict[str, dict[str, str]]:
    """Names for facet values in the user's language."""
    s = db_session()
    en = str(get_locale() or "ja") == "en"

    def names(model, key=lambda r: r.code):
        return {key(r): (r.name_en if en else r.name_ja) for r in s.scalars(select(model))}

    categories = names(ReuseCategory)
    categories.update(names(MaterialCategory))
    return {
        "kind": {k.value: str(spec.label) for k, spec in SPECS.items()},
        "prefecture": names(Prefecture),
        "soil_class": names(SoilClass),
        "material": names(Material),
        "grade": {g.code: g.code for g in s.scalars(select(Grade))},
        "category": categories,
    }


def _user():
    return current_user if current_user.is_authenticated else None


def _labelled(errors: dict[str, str]) -> list[str]:
    """Errors as the page shows them: the field's name in the user's language, never
    the argument's (並び順: …, not sort: …); one line for a point's two halves."""
    lines = [f"{services.field_label(field)}: {message}" for field, message in errors.items()]
    return list(dict.fromkeys(lines))


@bp.get("/search")
def search_page():
    s = db_session()
    errors, results, origin, status = [], None, None, 200
    try:
        asked = services.parse_search_args(s, request.args, _user())
        origin = asked.origin
        results = services.run(asked.query)
    except Invalid as exc:
        errors, status = _labelled(exc.errors), 400
    except search.SearchBackendError:
        errors = [_("Search is briefly unavailable. Please try again in a moment.")]
        status = 503
    selected = {name: request.args.getlist(name) for name in services.FACET_ARGS}
    saved = (
        s.scalars(
            select(SavedSearch)
            .where(SavedSearch.user_id == current_user.id)
            .order_by(SavedSearch.id)
        ).all()
        if current_user.is_authenticated
        else []
    )
    points = [
        {
            "id": h.id,
            "kind": h.document.kind,
            "title": h.document.title,
            "lat": h.document.lat,
            "lon": h.document.lon,
        }
        for h in (results.hits if results else [])
        if h.document.lat is not None
    ]
    return render_template(
        "finder/search.html",
        results=results,
        errors=errors,
        origin=origin,
        selected=selected,
        labels=_labels(),
        sites=services.my_sites(s, _user()),
        saved=saved,
        points=points,
        args=request.args,
        facet_order=services.SHOWN_FACETS,
    ), status


@bp.post("/search/saved")
@login_required
def save():
    sent = search_args()
    done = submit(
        SavedSearchForm,
        lambda s, form: services.save_search(s, current_user, form.name, MultiDict(sent)),
        refuse=(Invalid,),
    )
    if not done.ok:
        for line in _labelled(done.errors):
            flash(line, "error")
        return redirect(url_for("finder.search_page", **sent))
    saved = done.result
    flash(_("Search saved. You will be told about new listings that match."), "success")
    return redirect(url_for("finder.search_page", **saved.params))


@bp.post("/search/saved/<int:saved_id>/delete")
@login_required
def delete_saved(saved_id: int):
    def delete(s) -> None:
        saved = s.get(SavedSearch, saved_id)
        if saved is None or saved.user_id != current_user.id:
            abort(404)
        s.delete(saved)

    commit(delete)
    return redirect(url_for("finder.search_page"))


def _hit_json(hit: search.SearchHit) -> dict:
    doc = hit.document.to_json_dict()
    doc["distance_km"] = None if hit.distance_km is None else round(hit.distance_km, 2)
    doc["url"] = url_for("catalog.detail", listing_id=hit.id, _external=True)
    return doc


@api.get("/search")
@token_optional
@operation(
    "Search public listings",
    query=SearchQuery,
    ok=(200, Hits),
    errors=(400, 401, 429, 503),
)
def search_api(query: SearchQuery):
    """Public listings by words, facets, price, window and distance (from a place by
    name or code, a point, or one of the token's organisation's listings)."""
    s = db_session()
    try:
        # The arguments as declared (types checked); how they combine is the search's rule.
        asked = services.parse_search_args(s, request.args, _api_user(), per_page=None)
        results = services.run(asked.query)
    except Invalid as exc:
        raise Invalid(exc.errors, status=400) from None  # the keys are the arguments
    except search.SearchBackendError:
        raise Unavailable(
            _("Search is briefly unavailable. Please try again in a moment.")
        ) from None
    origin = asked.origin
    return answer(
        Hits,
        {
            "total": results.total,
            "page": results.page,
            "per_page": results.per_page,
            "facets": results.facets,
            "origin": None
            if origin is None
            else {"kind": origin.kind, "label": origin.label, "lat": origin.lat, "lon": origin.lon},
            "hits": [_hit_json(h) for h in results.hits],
        },
    )


@api.get("/search/suggest")
@token_optional
@operation(
    "Suggestions as people type (from two characters): words, places, listings",
    query=SuggestQuery,
    ok=(200, Suggestions),
    errors=(400, 401, 429, 503),
)
def suggest_api(query: SuggestQuery):
    """Suggestions as people type (from two characters): words, places and listings."""
    try:
        found = suggest.suggestions(db_session(), query.q, str(get_locale() or "ja"), query.limit)
    except search.SearchBackendError:
        raise Unavailable(
            _("Search is briefly unavailable. Please try again in a moment.")
        ) from None
    return answer(Suggestions, {"q": query.q, "suggestions": found})


def _api_user():
    return g.get("api_user")


def _synonyms_page(errors: dict | None = None, failed: str = "", status: int = 200):
    groups = db_session().scalars(select(SynonymGroup).order_by(SynonymGroup.id)).all()
    return render_template(
        "finder/synonyms.html",
        groups=groups,
        errors=errors or {},
        failed=failed,
        form=form_values(SynonymsForm),
    ), status


@bp.get("/search/synonyms")
@login_required
def synonyms_page():
    """The synonym groups search applies; site administrators edit them."""
    return _synonyms_page()


@bp.post("/search/synonyms", defaults={"group_id": None})
@bp.post("/search/synonyms/<int:group_id>")
@login_required
def save_synonyms(group_id: int | None):
    done = submit(
        SynonymsForm,
        lambda s, form: synonyms.save_group(s, current_user, form.sent(), group_id),
        refuse=(Invalid,),
    )
    if not done.ok:
        return _synonyms_page(done.errors, str(group_id or "new"), 422)
    flash(_("Synonyms saved. Searches use them now."), "success")
    return redirect(url_for("finder.synonyms_page"))


@bp.post("/search/synonyms/<int:group_id>/delete")
@login_required
def delete_synonyms(group_id: int):
    commit(lambda s: synonyms.delete_group(s, current_user, group_id))
    flash(_("Synonym group removed."), "success")
    return redirect(url_for("finder.synonyms_page"))
