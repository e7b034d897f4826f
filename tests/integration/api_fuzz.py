"""API fuzzing with schemathesis against the app's own OpenAPI document
(/api/v1/openapi.json, generated from the declared request models), in process on SQLite and
PostgreSQL: every schemathesis check on, valid and invalid requests, with and without a
token, bounded in time. Whatever is sent, the answer keeps the documented contract.

The operations are fuzzed in three parts (``PARTS``), one test module each, so that
pytest-xdist's ``--dist loadscope`` runs them on different workers, each part with its own
time budget; ``test_api_fuzz_rest.py`` checks that every operation is in exactly one part."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

schemathesis = pytest.importorskip(
    "schemathesis", reason="API fuzzing needs schemathesis (requirements-dev.txt)"
)
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import CHECKS, load_all_checks  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402

EXAMPLES = 25  # per operation, mode and database
# Per part and database: the part stops generating after this. The three parts share out
# what was one 240 s budget per database for every operation; listings, the most
# operations with the largest bodies, reached 120 s on SQLite at load ~6.
BUDGET_SECONDS = {"listings": 180, "orders": 120, "rest": 120}

# Each part: the path prefixes of its operations (a prefix covers the path itself and the
# paths under it). Listed, not "everything else", so that a new operation must be placed.
PARTS: dict[str, tuple[str, ...]] = {
    "listings": ("/api/v1/listings",),
    "orders": ("/api/v1/orders",),
    "rest": ("/api/v1/search", "/api/v1/notifications", "/api/v1/tickets"),
}

# Statuses a valid request may still get: the contract checks types and shapes, while a
# listing's reference codes, its window's order, an order's state or another party's
# rights are the domain's to judge (409/422 naming the field) — and a search engine may
# be briefly away (503).
DOMAIN_REFUSALS = ["2xx", "400", "401", "403", "404", "409", "422", "429", "502", "503"]


def parts_of(path: str) -> list[str]:
    return [
        part
        for part, prefixes in PARTS.items()
        if any(path == p or path.startswith(p + "/") for p in prefixes)
    ]


@pytest.fixture
def token(app, factory):
    """A contractor with a listing, an order on another organisation's listing, a token."""
    from market.accounts import services as accounts
    from market.accounts.models import User
    from market.orders import requests

    seller = factory.user()
    buyer = factory.user()
    offer = factory.listing(seller)
    factory.listing(buyer, "soil_want")
    with app.test_request_context():
        s = app.extensions["meguri.db"].session()
        user = s.get(User, buyer.id)
        requests.request_order(s, user, offer, {"quantity": 5})
        secret = accounts.issue_api_token(s, user, "fuzz")[1]
        s.commit()
        return secret


def _nothing_wrong_was_sent(failure, case) -> bool:
    """schemathesis may "break" a query by adding an undeclared argument with no values
    (an empty list, or a list of nulls), which puts nothing in the URL: the request on the wire is valid, and
    accepting it is right."""
    if failure.title != "API accepted schema-violating request":
        return False
    declared = {p.name for p in case.operation.query}
    extra = {k: v for k, v in (case.query or {}).items() if k not in declared}
    return bool(extra) and all(
        v is None or (isinstance(v, list) and all(item is None for item in v))
        for v in extra.values()
    )


def _checks():
    load_all_checks()
    return list(CHECKS.get_all())


def schema(app):
    config = schemathesis.Config.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": DOMAIN_REFUSALS}}}
    )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)


def operations(app) -> list:
    return [result.ok() for result in schema(app).get_all_operations()]


def fuzz_part(app, token: str, part: str, must_include: set[str]) -> None:
    """Fuzz the operations of ``part`` (which must include the paths ``must_include``)
    until each has had its examples or the part's budget is spent."""
    chosen = [op for op in operations(app) if part in parts_of(op.path)]
    assert {op.path for op in chosen} >= must_include
    checks = _checks()
    assert {c.__name__ for c in checks} >= {
        "not_a_server_error",
        "status_code_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "ignored_auth",
    }
    failures: list[str] = []
    statuses: Counter = Counter()
    auth = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + BUDGET_SECONDS[part]

    for operation in chosen:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if time.monotonic() > deadline:
                break

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode), signed_in=st.booleans())
            def fuzz(case, signed_in):
                if time.monotonic() > deadline:
                    return
                if case.media_type == "multipart/form-data" and not isinstance(case.body, dict):
                    return  # a form is named parts: a bare value cannot be sent as one at all
                headers = auth if signed_in else {}
                response = case.call(headers=headers)
                statuses[response.status_code // 100 * 100] += 1
                try:
                    case.validate_response(response, checks=checks, headers=headers)
                except FailureGroup as group:
                    for failure in group.exceptions:
                        if _nothing_wrong_was_sent(failure, case):
                            continue
                        failures.append(
                            f"{failure.title}: {case.method} {case.formatted_path} "
                            f"query={case.query} body={case.body!r} -> "
                            f"{response.status_code} {response.text[:200]}"
                        )

            fuzz()  # noqa: B023 - each operation's fuzz runs before the loop moves on
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(sorted(set(failures))[:30])
    assert statuses[200] >= len(chosen) and statuses[400] > 0, statuses  # fuzzing reached real work
