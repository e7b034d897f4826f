"""The load mix shared by the CI load test (tests/integration/test_stack.py) and
benchmarks/load_bench.py: seeding a scratch database, and closed-loop virtual users on
loopback that browse listings, query the search API and request orders, each waiting a
think time between requests.

Standard library only (threads and http.client): 50 users with think time send about
50 requests a second, which a thread per user drives without distorting the figures,
and the pytest process needs no gevent monkey-patching (as locust would).
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SEARCH_WORDS = [
    "発生土",
    "RC-40",
    "椅子",
    "砕石",
    "木材",
    "soil",
    "2b",
    "stockyard",
    "再生砕石",
    "テーブル",
    "鉄筋",
    "江東区",
    "RC-40 横浜",
    "第2種",
]
KINDS = ["soil_offer", "soil_want", "material_offer", "reuse_item", "recycled_offer", "stockyard"]
# name -> weight: what a marketplace visitor mostly does is look around.
MIX = {"browse": 50, "search": 35, "order": 15}
EXPECTED = {"browse": {200}, "search": {200}, "order": {201, 409}}  # 409: quantity gone, a refusal


def seed(database_url: str, instance: Path, listings: int, users: int) -> dict:
    """Demo organisations and ``listings`` listings, one API token per virtual user (one
    contractor buying), and the open soil offers of other organisations to order from."""
    import sqlalchemy as sa

    from market import create_app
    from market.accounts import services as accounts
    from market.accounts.models import User
    from market.demo import load_demo

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(instance),
            "SECRET_KEY": "seed",
            "JOBS_IMMEDIATE": False,
            "TESTING": True,
            "LOG_FORMAT": "text",
        }
    )
    try:
        with app.test_request_context():
            s = app.extensions["meguri.db"].session()
            load_demo(s, target=listings)
            s.commit()
            buyer = s.scalar(sa.select(User).where(User.email == "demo1@meguri.example"))
            tokens = [accounts.issue_api_token(s, buyer, f"load {i}")[1] for i in range(users)]
            s.commit()
            offers = (
                s.execute(
                    sa.text(
                        "SELECT id FROM listings WHERE kind = 'soil_offer' AND status = 'open' "
                        "AND organisation_id <> :org ORDER BY id"
                    ),
                    {"org": buyer.organisation_id},
                )
                .scalars()
                .all()
            )
            return {"tokens": tokens, "offers": list(offers)}
    finally:
        app.extensions["meguri.db"].dispose()


@dataclass
class Phase:
    users: int
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    unexpected: list = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def all_latencies(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]

    @property
    def requests(self) -> int:
        return len(self.all_latencies)

    def errors(self) -> list:
        """5xx answers and failed connections."""
        return [u for u in self.unexpected if u[1] == 0 or u[1] >= 500]

    def summary(self) -> dict:
        def pct(values: list[float]) -> dict:
            if len(values) < 2:
                return {"n": len(values)}
            q = statistics.quantiles(values, n=100, method="inclusive")
            return {
                "n": len(values),
                "p50_ms": round(q[49] * 1000, 1),
                "p95_ms": round(q[94] * 1000, 1),
                "p99_ms": round(q[98] * 1000, 1),
            }

        return {
            "users": self.users,
            "seconds": round(self.elapsed, 1),
            "requests": self.requests,
            "throughput_rps": round(self.requests / self.elapsed, 1) if self.elapsed else 0.0,
            **pct(self.all_latencies),
            "by_kind": {k: pct(v) for k, v in sorted(self.latencies.items())},
            "statuses": dict(sorted(self.statuses.items())),
            "errors": len(self.errors()),
            "unexpected": len(self.unexpected),
            "first_unexpected": self.unexpected[:5],
        }


def _request(port: int, kind: str, rng: random.Random, seeded: dict, token: str):
    if kind == "browse":
        params = f"kind={rng.choice(KINDS)}&page={rng.randint(1, 5)}"
        if rng.random() < 0.3:
            params += f"&prefecture_code={rng.choice(['11', '12', '13', '14'])}"
        return "GET", f"/listings?{params}", None, None
    if kind == "search":
        from urllib.parse import quote

        params = f"q={quote(rng.choice(SEARCH_WORDS))}&per_page=20"
        if rng.random() < 0.4:
            params += f"&kind={rng.choice(KINDS)}"
        return "GET", f"/api/v1/search?{params}", None, token
    listing = rng.choice(seeded["offers"])
    return "POST", "/api/v1/orders", {"listing_id": listing, "quantity": 1}, token


def run_phase(
    port: int,
    seeded: dict,
    users: int,
    seconds: float,
    think: tuple[float, float] = (0.5, 1.5),
    seed: int = 7,
) -> Phase:
    """``users`` closed-loop users for ``seconds``: request, wait for the answer, think, repeat."""
    phase = Phase(users, seconds)
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds
    kinds, weights = list(MIX), list(MIX.values())

    def user(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        token = seeded["tokens"][n % len(seeded["tokens"])]
        time.sleep(rng.uniform(0, think[1]))  # users arrive spread out, not in one burst
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            method, path, body, auth = _request(port, kind, rng, seeded, token)
            headers = {"Content-Type": "application/json"}
            if auth:
                headers["Authorization"] = f"Bearer {auth}"
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                try:
                    conn.request(
                        method, path, body=json.dumps(body) if body else None, headers=headers
                    )
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                finally:
                    conn.close()
            except OSError as exc:
                status = 0
                path = f"{path} ({exc!r})"
            took = time.perf_counter() - t0
            with lock:
                phase.latencies.setdefault(kind, []).append(took)
                phase.statuses[status] += 1
                if status not in EXPECTED[kind]:
                    phase.unexpected.append((kind, status, path))
            pause = rng.uniform(*think)
            if time.monotonic() + pause >= deadline:
                break
            time.sleep(pause)

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    phase.elapsed = time.monotonic() - started
    return phase


def warm_up(port: int, seeded: dict, rounds: int = 3) -> None:
    """A few requests of each kind, so every gunicorn worker has loaded its caches."""
    rng = random.Random(1)
    for _ in range(rounds * 4):
        for kind in ("browse", "search"):
            method, path, body, auth = _request(port, kind, rng, seeded, seeded["tokens"][0])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request(
                    method, path, headers={"Authorization": f"Bearer {auth}"} if auth else {}
                )
                conn.getresponse().read()
            finally:
                conn.close()
