"""A live Meguri server on a free loopback port and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from market import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(tmp_path, sqlite_template):
    db = tmp_path / "meguri.db"
    shutil.copy(sqlite_template, db)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "browser-test",
            "JOBS_IMMEDIATE": True,
            "SECURE_COOKIES": False,
            # Tiles from a closed port: the page must still work without them.
            "TILE_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png",
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["meguri.db"].dispose()


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, locale="ja-JP"
        )  # a phone
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()
