"""Translation markers for words that templates translate dynamically.

Templates show stored values through ``_()`` (``_(item.status.value)``,
``_(org.kind.value)``, ``_(m.role.value)``, ``_(run.status)``, ``_(p.state)``, ...).
The extractor cannot see such calls, so every value is marked here to put it in
the catalog; see babel.cfg. tests/unit/test_translations.py checks that every
value of ``ENUMS`` is listed and that every such call in templates/ is listed in
``DYNAMIC_CALLS``. When a value shown this way is added (or a new column is
shown this way), add it here.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from market.accounts.models import OrgKind, Role
from market.catalog.models import ListingStatus

#: Enums whose values templates pass to ``_()``.
ENUMS = (ListingStatus, Role, OrgKind)

#: Every non-literal ``_(...)`` argument in templates/ (as dotted names) and the
#: group of TERMS below that covers its values. The test lists calls missing here.
DYNAMIC_CALLS = {
    "item.status.value": "listing status",
    "listing.status.value": "listing status",
    "m.role.value": "member role",
    "i.role.value": "member role",
    "org.kind.value": "organisation kind",
    "f": "matching run family",
    "run.family": "matching run family",
    "run.status": "matching run status",
    "r.status": "job status of one region of a matching run (queued, running, done, failed)",
    "run.solver_status": "solver status",
    "p.state": "proposal state",
    "p.supply_decision": "proposal decision",
    "p.demand_decision": "proposal decision",
    "party.decision": "proposal decision",
}

TERMS = {
    # Listing status (掲載の状態): _(item.status.value)
    "draft": _l("draft"),
    "open": _l("open"),
    "reserved": _l("reserved"),
    "closed": _l("closed"),
    "expired": _l("expired"),
    # Member role in an organisation: _(m.role.value)
    "admin": _l("admin"),
    "member": _l("member"),
    # Organisation kind (事業者の種別): _(org.kind.value)
    "contractor": _l("contractor"),
    "municipality": _l("municipality"),
    "reuse_operator": _l("reuse_operator"),
    "recycler": _l("recycler"),
    "stockyard_operator": _l("stockyard_operator"),
    "plant_operator": _l("plant_operator"),
    # Matching run family: _(run.family)
    "soil": _l("soil"),
    "recycled": _l("recycled"),
    "reuse": _l("reuse"),
    "material": _l("material"),
    # Matching run status: _(run.status)
    "queued": _l("queued"),
    "running": _l("running"),
    "merging": _l("merging"),
    "done": _l("done"),
    "failed": _l("failed"),
    # Solver status of a run: _(run.solver_status)
    "optimal": _l("optimal"),
    "feasible": _l("feasible"),
    # Match proposal state and each side's decision: _(p.state), _(p.supply_decision)
    "proposed": _l("proposed"),
    "agreed": _l("agreed"),
    "declined": _l("declined"),
    "superseded": _l("superseded"),
    "pending": _l("pending"),
    # Deal kind: _(deal.kind) in the new-proposal notice
    "pair": _l("pair"),
    "blend": _l("blend"),
    "chain": _l("chain"),
    "treated": _l("treated"),
    "accepted": _l("accepted"),
}
