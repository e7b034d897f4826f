"""API fuzzing, the rest: search, notifications and tickets (see api_fuzz.py); and the
check that the three parts together fuzz every operation, each once."""

from __future__ import annotations

from tests.integration.api_fuzz import (  # noqa: F401 - token is a fixture
    BUDGET_SECONDS,
    PARTS,
    fuzz_part,
    operations,
    parts_of,
    token,
)


def test_every_operation_is_fuzzed_by_exactly_one_part(app):
    placed = {f"{op.method.upper()} {op.path}": parts_of(op.path) for op in operations(app)}
    assert len(placed) >= 19
    wrong = {name: parts for name, parts in placed.items() if len(parts) != 1}
    assert not wrong, f"each operation must be in exactly one of {sorted(PARTS)}: {wrong}"
    assert (
        {part for parts in placed.values() for part in parts} == set(PARTS) == set(BUDGET_SECONDS)
    )


def test_every_check_holds_whatever_the_rest_of_the_api_is_sent(app, token):  # noqa: F811
    fuzz_part(
        app,
        token,
        "rest",
        {"/api/v1/search", "/api/v1/notifications/read", "/api/v1/tickets"},
    )
