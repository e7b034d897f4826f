"""Start-up with many workers at once, as README's first command runs Meguri
(scripts/run.sh): gunicorn workers and ``flask worker`` processes on the embedded
defaults, all opening a job queue file that does not exist yet at the same moment.

CI once saw gunicorn exit here: two workers set up the SQLite queue together and one got
"database is locked" from huey's ``initialize_schema`` (market/tasks.py, SqliteQueue)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import PASSWORD, listing_data
from tests.integration import stack

pytestmark = [pytest.mark.slow]

WEB_WORKERS = 4
JOB_WORKERS = 3


def _token(url: str, instance) -> str:
    from market.accounts import services as accounts

    app = stack.make_app(url, instance)
    try:
        with app.test_request_context():
            s = app.extensions["meguri.db"].session()
            user = accounts.sign_up(
                s,
                email="seller@example.jp",
                password=PASSWORD,
                display_name="売り手",
                org_name="売り手建設",
                org_kind="contractor",
            )
            token = accounts.issue_api_token(s, user, "startup")[1]
            s.commit()
            return token
    finally:
        app.extensions["meguri.db"].dispose()


def test_web_and_job_workers_start_together_on_a_new_sqlite_queue(tmp_path):
    from market import migrate

    instance = tmp_path / "instance"
    instance.mkdir()
    url = f"sqlite:///{tmp_path / 'meguri.db'}"
    migrate.upgrade(url)
    token = _token(url, tmp_path / "seed")  # the seed app's inline queue lives elsewhere
    assert not (instance / "jobs.db").exists()

    with stack.stack(url, instance, MEGURI_RATE_LIMITS="0") as s:
        # Every process opens the queue as it starts: the job workers at once, gunicorn's
        # workers while start_web waits for them to answer.
        workers = [s.start_worker(f"worker-{n}") for n in range(JOB_WORKERS)]
        web = s.start_web(workers=WEB_WORKERS, threads=2)
        assert (instance / "jobs.db").exists()

        # A change made through the web is delivered to search by a job worker: the queue
        # the processes set up together works end to end.
        code, body = stack.call(
            s.port,
            "POST",
            "/api/v1/listings",
            {**listing_data("soil_offer"), "kind": "soil_offer", "title": "江東区 発生土 起動"},
            token,
        )
        assert code == 201, (code, body, s.logs())

        def found() -> bool:
            code, result = stack.call(s.port, "GET", "/api/v1/search?q=" + quote("起動"))
            return code == 200 and [h["id"] for h in result["hits"]] == [body["id"]]

        stack.wait_until(found, 60, "the job worker to index the new listing")
        for process in (web, *workers):
            assert process.popen.poll() is None, s.logs()
        assert "database is locked" not in s.logs()
