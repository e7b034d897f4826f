"""PostgreSQL restarted under load (a PostgreSQL cluster of our own, never the shared one):
while it is down every request fails fast with a clean 503 (an error page for browsers,
JSON for the API, readiness says so), and once it is back the same gunicorn processes
serve normally again, with no restart."""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from urllib.parse import urlencode

import pytest

from tests.conftest import PASSWORD, listing_data
from tests.integration import stack

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

OUTAGE_SECONDS = 6
FAST = 5.0  # seconds: an answer during the outage must come at least this quickly


def _seed(url: str, instance) -> str:
    from market.accounts import services as accounts
    from market.catalog import services as catalog
    from market.catalog import validation
    from market.catalog.models import ListingKind

    app = stack.make_app(url, instance)
    try:
        with app.test_request_context():
            s = app.extensions["meguri.db"].session()
            user = accounts.sign_up(
                s,
                email="site@example.jp",
                password=PASSWORD,
                display_name="現場",
                org_name="現場建設",
                org_kind="contractor",
            )
            for _ in range(3):
                catalog.create_listing(
                    s,
                    user,
                    ListingKind.soil_offer,
                    validation.validate(s, ListingKind.soil_offer, listing_data("soil_offer")),
                )
            token = accounts.issue_api_token(s, user, "restart test")[1]
            s.commit()
            return token
    finally:
        app.extensions["meguri.db"].dispose()


class Browser:
    """A signed-in browser: cookies, the login form's CSRF token."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str, headers: dict | None = None, timeout: float = 30) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def sign_in(self, email: str) -> None:
        _, page = self.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = urlencode({"email": email, "password": PASSWORD, "csrf_token": csrf}).encode()
        with self.opener.open(
            urllib.request.Request(self.base + "/login", data=body), timeout=30
        ) as response:
            assert response.status == 200 and "/login" not in response.url, response.url


def _server_errors(stack_: stack.Stack) -> list[str]:
    """The servers' unhandled errors, with their tracebacks (a 500's cause)."""
    lines = []
    for process in stack_.processes:
        text = process.log.read_text(errors="replace")
        lines += [
            line[-3000:]
            for line in text.splitlines()
            if "unhandled error" in line or "Traceback" in line
        ]
    return lines[-20:]


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    instance = tmp_path_factory.mktemp("restart-instance")
    with stack.pg_cluster() as cluster, stack.scratch_database(cluster.url, "restart") as url:
        token = _seed(url, instance)
        with stack.stack(url, instance, MEGURI_RATE_LIMITS="0") as s:
            s.start_web(workers=2, threads=2)
            s.cluster, s.token = cluster, token
            yield s


def test_requests_fail_fast_with_a_clean_page_while_postgresql_restarts_and_recover(running):
    browser = Browser(running.port)
    browser.sign_in("site@example.jp")
    api = {"Authorization": f"Bearer {running.token}"}
    requests = [("/listings", {}), ("/", {}), ("/api/v1/listings", api)]
    assert all(browser.get(path, headers)[0] == 200 for path, headers in requests)

    # Background load through the whole restart: (started, path, status, seconds, body).
    seen: list = []
    stop = threading.Event()

    def load(offset: int) -> None:
        n = offset
        while not stop.is_set() and len(seen) < 5000:
            path, headers = requests[n % len(requests)]
            n += 1
            t0 = time.monotonic()
            try:
                status, body = browser.get(path, headers)
            except OSError as exc:
                status, body = 0, repr(exc)
            seen.append((t0, path, status, time.monotonic() - t0, body))
            time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        running.cluster.stop("fast")
        down_at = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        ready_status, ready = browser.get("/readyz")
        restart_at = time.monotonic()  # the server may answer before pg_ctl returns
        running.cluster.start()
        up_at = time.monotonic()

        def recovered() -> bool:
            return all(browser.get(path, headers)[0] == 200 for path, headers in requests)

        stack.wait_until(
            recovered, 30, "the app to serve again after PostgreSQL came back", interval=0.5
        )
        recovered_after = time.monotonic() - up_at
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=40)

    assert ready_status == 503 and '"database":"error' in ready.replace(" ", ""), ready
    outage = [r for r in seen if down_at + 0.5 < r[0] and r[0] + r[3] < restart_at]
    assert len(outage) >= 10, f"only {len(outage)} requests during the outage"
    assert {r[2] for r in outage} == {503}, sorted({(r[1], r[2]) for r in outage})
    slowest = max(r[3] for r in outage)
    assert slowest < FAST, f"a request took {slowest:.1f}s during the outage"
    for _, path, _, _, body in outage:
        assert "Traceback" not in body and "psycopg" not in body
        if path.startswith("/api/"):
            assert '"error"' in body
        else:
            assert "<html" in body.lower() and "503" in body
    unexpected = [(r[1], r[2]) for r in seen if r[2] not in (200, 503)]
    # no 500s, no dropped connections, before, during or after (the servers' error lines say why)
    assert not unexpected, (unexpected, _server_errors(running))
    print(
        f"\nRESTART: {len(outage)} requests during a {OUTAGE_SECONDS}s outage, all 503, slowest "
        f"{slowest * 1000:.0f} ms; serving again {recovered_after:.1f}s after PostgreSQL was back"
    )
