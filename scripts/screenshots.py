"""Screenshots of the main pages on a phone (390 × 844), in Japanese and English, on the
demo data: `.venv/bin/python scripts/screenshots.py [out_dir]` (default docs/screenshots).

Uses Debian's chromium through Playwright, as the browser tests do; never downloads one.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from market import create_app, migrate  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
# (file name, who signs in, language, path or a function of the app giving it, full page)
SHOTS = [
    ("home-ja", None, "ja", "/", False),
    ("search-en", None, "en", "/search?q=%E6%A4%85%E5%AD%90", False),
    ("menu-ja", "demo9@meguri.example", "ja", "/", False),
    ("listing-reuse-en", None, "en", "reuse_item", False),
    ("dashboard-municipality-ja", "demo9@meguri.example", "ja", "/dashboard", True),
    ("dashboard-contractor-en", "demo1@meguri.example", "en", "/dashboard", True),
    ("dashboard-contractor-ja", "demo1@meguri.example", "ja", "/dashboard", True),
    ("dashboard-reuse-operator-ja", "demo15@meguri.example", "ja", "/dashboard", True),
    ("dashboard-recycler-ja", "demo21@meguri.example", "ja", "/dashboard", True),
    ("dashboard-site-ja", "admin@meguri.example", "ja", "/dashboard/site", True),
    ("pickups-municipality-ja", "demo9@meguri.example", "ja", "/pickups", True),
    ("form-rpet-ja", "demo21@meguri.example", "ja", "/listings/new/recycled_offer", False),
]


def _listing_with_photo(app, kind: str) -> str:
    from market.catalog.models import Listing, ListingPhoto, ListingStatus

    with app.app_context():
        session = app.extensions["meguri.db"].session()
        listing_id = session.scalar(
            select(Listing.id)
            .join(ListingPhoto, ListingPhoto.listing_id == Listing.id)
            .where(Listing.kind == kind, Listing.status == ListingStatus.open)
            .order_by(Listing.id)
        )
    return f"/listings/{listing_id}"


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/meguri.db"
        migrate.upgrade(url)
        app = create_app(
            {
                "DATABASE_URL": url,
                "INSTANCE_DIR": f"{tmp}/instance",
                "SECRET_KEY": "screenshots",
                "JOBS_IMMEDIATE": True,
                "SECURE_COOKIES": False,
                "RATE_LIMITS": False,
                "LOG_LEVEL": "WARNING",
                "TILE_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png",
            }
        )
        from market.demo import load_demo

        with app.app_context():
            session = app.extensions["meguri.db"].session()
            load_demo(session)
            session.commit()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            for name, email, lang, target, full in SHOTS:
                context = browser.new_context(viewport=PHONE, locale="ja-JP", device_scale_factor=1)
                page = context.new_page()
                page.goto(f"{base}/")
                if email:
                    page.goto(f"{base}/login")
                    page.fill("#email", email)
                    page.fill("#password", "meguri-demo-2026")
                    page.click("main form button[type=submit]")
                    page.wait_for_load_state()
                if page.locator("html").get_attribute("lang") != lang:
                    page.click("#lang-switch")
                    page.wait_for_load_state()
                path = target if target.startswith("/") else _listing_with_photo(app, target)
                page.goto(f"{base}{path}")
                page.wait_for_load_state("networkidle")
                if name.startswith("menu"):
                    page.click(".menu-toggle")
                if name.startswith("form-rpet"):
                    page.select_option("#material_code", "rpet")
                    page.locator("#properties").scroll_into_view_if_needed()
                page.screenshot(path=str(out_dir / f"{name}.png"), full_page=full)
                context.close()
            browser.close()
        server.shutdown()
        app.extensions["meguri.db"].dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
