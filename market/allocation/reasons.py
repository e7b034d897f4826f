"""The optimiser's words in the user's language: run stages and why a listing stayed
unmatched, rendered from the codes and figures of the result (matching writes English)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from market.allocation.instance import listing_id
from market.catalog.models import GradeProperty

STAGES = {
    "building instance": _l("Collecting open listings"),
    "optimising: candidates": _l("Finding candidate routes"),
    "optimising: solve": _l("Optimising"),
    "optimising: pricing": _l("Checking every other route"),
    "optimising: explain": _l("Explaining the result"),
    "optimising: done": _l("Explaining the result"),
    "regions": _l("Splitting into regions no haul can join"),
    "merging regions": _l("Merging the regions"),
    "greedy baseline": _l("Computing the greedy baseline"),
    "saving proposals": _l("Saving proposals"),
    "requeued": _l("Waiting for a worker again"),
    "done": _l("Finished"),
}


def stage_label(stage: str | None) -> str:
    """A job stage for people; an unknown one is shown as it is."""
    return str(STAGES.get(stage, stage or ""))


def property_names(session: Session) -> dict[str, str]:
    """Graded-lot property codes with their names in the user's language."""
    japanese = str(get_locale() or "ja") == "ja"
    return {
        row.code: row.name_ja if japanese else row.name_en
        for row in session.scalars(select(GradeProperty))
    }


def unmatched_reason(
    entry: Mapping, titles: Mapping[int, str], properties: Mapping[str, str] | None = None
) -> str:
    """Why an unmatched supply or unmet demand kept its quantity. `titles` maps listing
    ids to titles for naming the counterpart; `properties` property codes to their names
    in the user's language (吸水率 for absorption). A code this version does not know is
    shown as the optimiser's own English reason."""

    def name(ref: str | None) -> str:
        return titles.get(listing_id(ref), ref) if ref else ""

    words = REASONS.get(entry.get("code"))
    if words is None:
        return entry.get("reason", "")
    text = words(entry, name, properties or {})
    if entry.get("direct_routes_only"):
        text = _sentences(
            text, _("Checked on direct routes; no stockyard route was chosen either.")
        )
    return text


# Each reason code's words: (entry, name of a listing ref, property names) → a sentence.
Name = Callable[[str | None], str]


def _property_limit_reason(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    return _property_limit(entry, name(entry.get("candidate")), properties)


def _partner_only(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    return _(
        "The compatible counterparts are not partners of the municipality during the "
        "item's partner-only period."
    )


def _declined(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    return _("Every compatible counterpart has been declined before.")


def _counterparts_full(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    return _sentences(
        _("Partly matched."),
        _(
            "The compatible counterparts within reach take no more (%(name)s is full).",
            name=name(entry.get("best_candidate")),
        ),
    )


def _best_route(entry: Mapping, name: Name) -> dict:
    """The words' figures for the best route the engine saw: whose, net per unit, how far."""
    return {
        "name": name(entry.get("best_candidate")),
        "net": f"{entry.get('best_net_per_unit', 0):,.0f}",
        "km": entry.get("best_km", 0.0),
    }


def _not_chosen(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    return _(
        "The plan did not use the possible route to %(name)s (%(net)s yen per unit at "
        "%(km).1f km); it is not proven to be the best plan.",
        **_best_route(entry, name),
    )


def _outbid(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    if "best_km" not in entry:  # a plan over weeks (version 2)
        text = _(
            "Its routes went to better matches or met weekly limits and capacities (best "
            "candidate %(name)s).",
            name=name(entry.get("best_candidate")),
        )
    else:
        text = _(
            "Compatible counterparts went to better matches (best candidate %(name)s: "
            "%(net)s yen per unit at %(km).1f km).",
            **_best_route(entry, name),
        )
    return _sentences(_("Partly matched."), text) if entry.get("partly_matched") else text


def _no_period_overlap(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    return _(
        "No week in which it and any of the %(n)d compatible counterparts within haul "
        "distance are both active, even through a stockyard.",
        n=entry.get("counterparts", 0),
    )


def _beyond_haul(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    if "limit_km" not in entry:
        return _(
            "No compatible counterpart within haul distance (nearest %(name)s at %(km).1f km).",
            name=name(entry.get("nearest")),
            km=entry.get("nearest_km", 0.0),
        )
    return _(
        "No compatible counterpart within haul distance (nearest %(name)s at "
        "%(km).1f km, limit %(limit).0f km).",
        name=name(entry.get("nearest")),
        km=entry.get("nearest_km", 0.0),
        limit=entry.get("limit_km", 0.0),
    )


def _not_worth_haul(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    return _(
        "The best candidate %(name)s does not pay for the haul: %(net)s yen per unit "
        "net at %(km).1f km.",
        **_best_route(entry, name),
    )


def _no_window_overlap(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    return _(
        "No time window overlaps with the %(n)d compatible counterparts within haul distance.",
        n=entry.get("counterparts", 0),
    )


def _no_compatible(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    return _("No counterpart takes this class or grade.")


def _no_counterpart(entry: Mapping, name: Name, properties: Mapping[str, str]) -> str:
    return _("Nothing is listed on the other side.")


REASONS: dict[str, Callable[[Mapping, Name, Mapping[str, str]], str]] = {
    "property_limit": _property_limit_reason,
    "partner_only": _partner_only,
    "declined": _declined,
    "counterparts_full": _counterparts_full,
    "not_chosen": _not_chosen,
    "outbid": _outbid,
    "no_period_overlap": _no_period_overlap,
    "beyond_haul": _beyond_haul,
    "not_worth_haul": _not_worth_haul,
    "no_window_overlap": _no_window_overlap,
    "no_compatible": _no_compatible,
    "no_counterpart": _no_counterpart,
}


def _property_limit(entry: Mapping, candidate: str, properties: Mapping[str, str]) -> str:
    prop = properties.get(entry.get("property", ""), entry.get("property", ""))
    value = entry.get("value")
    shown = _("not given") if value is None else f"{value:g}"
    bound = f"{entry.get('limit_value', 0):g}"
    limit = (
        _("at most %(v)s", v=bound) if entry.get("limit") == "max" else _("at least %(v)s", v=bound)
    )
    if entry.get("blend"):
        text = _(
            "Blending with %(name)s would break the average limit (%(property)s %(value)s, "
            "limit %(limit)s).",
            name=candidate,
            property=prop,
            value=shown,
            limit=limit,
        )
        return _sentences(_("Partly matched."), text) if entry.get("partly_matched") else text
    return _(
        "No counterpart's property limits are met (%(property)s %(value)s at %(name)s, "
        "limit %(limit)s).",
        name=candidate,
        property=prop,
        value=shown,
        limit=limit,
    )


def _sentences(first: str, then: str) -> str:
    # English puts a space between sentences, Japanese none: the translation decides.
    return _("%(first)s %(then)s", first=first, then=then)
