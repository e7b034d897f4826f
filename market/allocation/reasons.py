"""The optimiser's words in the user's language: run stages and why a listing stayed
unmatched, rendered from the codes and figures of the result (matching writes English)."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from market.allocation.instance import listing_id

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


def unmatched_reason(entry: Mapping, titles: Mapping[int, str]) -> str:
    """Why an unmatched supply or unmet demand kept its quantity. `titles` maps listing
    ids to titles for naming the counterpart."""

    def name(ref: str) -> str:
        return titles.get(listing_id(ref), ref)

    code = entry.get("code")
    if code == "outbid":
        text = _(
            "Compatible counterparts went to better matches (best candidate %(name)s: "
            "%(net)s yen per unit at %(km).1f km).",
            name=name(entry.get("best_candidate")),
            net=f"{entry.get('best_net_per_unit', 0):,.0f}",
            km=entry.get("best_km", 0.0),
        )
        if entry.get("partly_matched"):
            text = _sentences(_("Partly matched."), text)
    elif code == "not_worth_haul":
        text = _(
            "The best candidate %(name)s does not pay for the haul: %(net)s yen per unit "
            "net at %(km).1f km.",
            name=name(entry.get("best_candidate")),
            net=f"{entry.get('best_net_per_unit', 0):,.0f}",
            km=entry.get("best_km", 0.0),
        )
    elif code == "no_window_overlap":
        text = _(
            "No time window overlaps with the %(n)d compatible counterparts within haul distance.",
            n=entry.get("counterparts", 0),
        )
    elif code == "beyond_haul":
        text = _(
            "No compatible counterpart within haul distance (nearest %(name)s at "
            "%(km).1f km, limit %(limit).0f km).",
            name=name(entry.get("nearest")),
            km=entry.get("nearest_km", 0.0),
            limit=entry.get("limit_km", 0.0),
        )
    elif code == "no_compatible":
        text = _("No compatible counterpart (class, grade, properties or partners).")
    elif code == "no_counterpart":
        text = _("Nothing is listed on the other side.")
    else:
        return entry.get("reason", "")
    if entry.get("direct_routes_only"):
        text = _sentences(
            text, _("Checked on direct routes; no stockyard route was chosen either.")
        )
    return text


def _sentences(first: str, then: str) -> str:
    # English puts a space between sentences, Japanese none: the translation decides.
    return _("%(first)s %(then)s", first=first, then=then)
