"""Test support for payments and for the app's own tests: signed webhook payloads, a Stripe
HTTP client that records requests, and a localstripe server on a free loopback port.

Not imported by the payments package itself; nothing here talks to the real Stripe.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import stripe

TEST_API_KEY = "sk_test_meguri"
TEST_WEBHOOK_SECRET = "whsec_test_meguri"


def sign_webhook(
    payload: bytes, secret: str = TEST_WEBHOOK_SECRET, timestamp: int | None = None
) -> str:
    """A Stripe-Signature header for `payload`: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def stripe_event(
    event_type: str, obj: dict, *, event_id: str | None = None, created: int | None = None
) -> bytes:
    """A webhook body shaped like Stripe's (object "event", data.object)."""
    body = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(body).encode()


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]  # form fields as sent, e.g. "transfer_data[destination]"
    headers: dict[str, str]


@dataclass
class RecordingHTTPClient(stripe.HTTPClient):
    """A stripe-python HTTP client that records each outgoing request and answers with a
    canned object, so request shapes can be checked against the documented API offline."""

    name = "recording"
    requests: list[RecordedRequest] = field(default_factory=list)
    responder: Callable[[RecordedRequest], dict] | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        parts = urlsplit(url)
        raw = post_data if method.lower() == "post" else parts.query
        if isinstance(raw, bytes):
            raw = raw.decode()
        recorded = RecordedRequest(
            method=method.upper(),
            path=parts.path,
            params=dict(parse_qsl(raw or "")),
            headers={k.lower(): v for k, v in (headers or {}).items()},
        )
        self.requests.append(recorded)
        body = (self.responder or canned_response)(recorded)
        return json.dumps(body), 200, {"request-id": "req_recorded"}

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise NotImplementedError

    def close(self) -> None:
        pass


def canned_response(request: RecordedRequest) -> dict:
    """Plausible Stripe objects for the endpoints payments calls."""
    p = request.params
    path = request.path
    now = int(time.time())
    if path.startswith("/v1/payment_intents"):
        pi_id = path.split("/")[3] if path.count("/") >= 3 else "pi_recorded"
        status = "requires_payment_method"
        if path.endswith("/cancel"):
            status = "canceled"
        elif path.endswith("/confirm"):
            status = "succeeded"
        return {
            "id": pi_id,
            "object": "payment_intent",
            "amount": int(p.get("amount", 1000)),
            "currency": p.get("currency", "jpy"),
            "status": status,
            "client_secret": f"{pi_id}_secret_recorded",
            "last_payment_error": None,
        }
    if path == "/v1/refunds":
        return {
            "id": "re_recorded",
            "object": "refund",
            "amount": int(p.get("amount", 0)),
            "payment_intent": p.get("payment_intent"),
            "status": "succeeded",
        }
    if path == "/v1/accounts":
        return {"id": "acct_recorded", "object": "account", "type": p.get("type")}
    if path == "/v1/account_links":
        return {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": f"https://onboarding.example.test/{p.get('account')}",
        }
    return {"id": "obj_recorded", "object": "unknown"}


# Runs localstripe bound to loopback only, keeping its store in memory (upstream writes a
# shared pickle under /tmp on every POST and listens on every interface).
_LOCALSTRIPE_RUNNER = """
import sys
from aiohttp import web
from localstripe import resources, server
type(resources.store).dump_to_disk = lambda self: None
web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def localstripe_server(timeout: float = 20.0, python: str = sys.executable) -> Iterator[str]:
    """Start localstripe on a free 127.0.0.1 port; yield its base URL; stop it after."""
    last_log = ""
    for _ in range(3):  # a port picked free can be taken before the server binds it
        port = free_loopback_port()
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(
                [python, "-c", _LOCALSTRIPE_RUNNER, str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            try:
                if _wait_for_port(port, process, timeout):
                    yield f"http://127.0.0.1:{port}"
                    return
                log.seek(0)
                last_log = log.read().decode(errors="replace")[-2000:]
            finally:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    raise RuntimeError(f"localstripe did not start:\n{last_log}")
