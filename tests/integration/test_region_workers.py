"""A matching run that falls apart into regions, solved by two real job workers
(``flask worker`` processes) sharing PostgreSQL and Redis, as docs/operations.md scales it
out: one job per region, whichever worker is free takes it, the last one to finish merges,
and the merged run is the whole instance's optimum."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

import matching
from tests.conftest import PG_REASON, PG_URL, listing_data
from tests.integration import stack

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason=PG_REASON),
]

# Four areas far enough apart that no haul (40 km) and no haul that pays joins them.
AREAS = [
    ("13", 35.6727, 139.8171),  # Tokyo Bay
    ("09", 36.5551, 139.8828),  # Utsunomiya
    ("10", 36.3900, 139.0600),  # Maebashi
    ("12", 35.0000, 140.0500),  # southern Boso
]


def _seed(url: str, instance: Path) -> None:
    app = stack.make_app(url, instance)
    try:
        _seed_in(app)
    finally:  # no pooled connection left for the garbage collector to find open
        app.extensions["meguri.db"].dispose()


def _seed_in(app) -> None:
    from market.accounts import services as accounts
    from market.catalog import services, validation
    from market.catalog.models import ListingKind

    with app.test_request_context():
        s = app.extensions["meguri.db"].session()
        accounts.create_site_admin(s, "admin@example.jp", "admin password!", "Admin")
        people = [
            accounts.sign_up(
                s,
                email=f"{name}@example.jp",
                password="correct horse battery",
                display_name=name,
                org_name=f"{name} 建設",
                org_kind="contractor",
            )
            for name in ("supplier", "receiver")
        ]
        for pref, lat, lon in AREAS:
            for user, kind, dlat, values in (
                (people[0], "soil_offer", 0.0, {"quantity": 500}),
                (people[1], "soil_want", 0.05, {"quantity": 300, "max_haul_km": 40}),
            ):
                data = {
                    **listing_data(kind),
                    **values,
                    "lat": lat + dlat,
                    "lon": lon,
                    "prefecture_code": pref,
                    "municipality_code": None,
                }
                clean = validation.validate(s, ListingKind(kind), data)
                services.create_listing(s, user, ListingKind(kind), clean)
        s.commit()


def test_two_job_workers_solve_the_regions_of_one_run_and_merge_once():
    instance = Path(tempfile.mkdtemp(prefix="meguri-regions-"))
    with (
        stack.scratch_database(PG_URL, "regions") as url,
        stack.redis_server(instance) as redis_url,
    ):
        _seed(url, instance)
        with stack.stack(url, instance, redis_url) as running:
            workers = [running.start_worker(f"worker{i}") for i in (1, 2)]
            running.flask("matching", "run", "--family", "soil", "--region", "09,10,12,13")

            def finished() -> bool:
                status = stack.scalar(url, "SELECT status FROM match_runs ORDER BY id DESC")
                assert status != "failed", running.logs()
                return status == "done"

            stack.wait_until(finished, 240, "the run to be merged")
            assert all(w.popen.poll() is None for w in workers), running.logs()

        run = stack.rows(url, "SELECT id, solver_status, instance, result FROM match_runs")
        assert len(run) == 1
        run_id, status, inst, result = run[0]
        assert status == "optimal"
        regions = stack.rows(
            url,
            "SELECT status, worker FROM jobs WHERE kind = 'matching_region' "
            "AND dedupe_key LIKE :key",
            key=f"match-region:{run_id}:%",
        )
        assert len(regions) == len(AREAS) and all(r[0] == "done" for r in regions)
        assert all(r[1] for r in regions)  # each taken by a worker process (host:pid)
        # Merged once: one proposal per area's pair, never twice.
        assert stack.scalar(url, "SELECT count(*) FROM proposals") == len(AREAS)
        whole = matching.solve(matching.load_instance(inst))
        assert result["net_benefit"] == pytest.approx(whole.net_benefit)
        report = matching.check(inst, result)
        assert report.ok, report
