"""Every page as each kind of user sees it, in Japanese and English, on a phone (390 × 844).

A crawler signs in as each kind of user on the demo data and follows every link it is
offered. It fails on a link that answers 403 or 5xx, a page wider than the screen
(sideways scrolling), a raw key, code or English word in the Japanese chrome (and Japanese
in the English chrome), and needless decimals ("1.000", "20000.000").

Bounded in time: pages are grouped by their shape (numbers in the path become ``#``, the
query by its keys) and only the first few of each shape are opened; every link found is
still checked for its status.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections import defaultdict
from urllib.parse import parse_qsl, urlsplit

import pytest
from werkzeug.serving import make_server

from market import create_app
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
ROLES = {
    "contractor": "demo1@meguri.example",
    "municipality": "demo9@meguri.example",
    "reuse_operator": "demo15@meguri.example",
    "recycler": "demo21@meguri.example",
    "stockyard_operator": "demo26@meguri.example",
    "plant_operator": "demo30@meguri.example",
    "site_admin": "admin@meguri.example",
    "visitor": None,
}
PAGES_PER_SHAPE = 2  # pages opened per path (numbers as #)
STATUS_CHECKS_PER_SHAPE = 3  # links requested per path and query keys
MAX_PAGES = 90  # per role and language; the whole crawl stays within a couple of minutes

# Words that may stand in Japanese text: names, units and abbreviations Japanese writes in
# Latin letters too.
LATIN_IN_JAPANESE = {
    "meguri",
    "co",
    "kg",
    "km",
    "t",
    "m",
    "mm",
    "cm",
    "csv",
    "pdf",
    "json",
    "api",
    "id",
    "qr",
    "url",
    "cbr",
    "iv",
    "rpet",
    "pet",
    "jis",
    "stripe",
    "osm",
    "openstreetmap",
    "leaflet",
    "english",
    "mlit",
    "tel",
    "fax",
    "no",
    "ppm",
    "mpa",
    "kn",
    "rc",
    "rca",
    "qc",
    "dl",  # dL/g, the unit of rPET's intrinsic viscosity
}
RAW_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:[_.][a-z0-9]+)+\b")
NOT_KEYS = {"e.g", "i.e", "meguri.example"}
NEEDLESS_DECIMAL = re.compile(r"(?<![\d.])\d[\d,]*\.\d*0(?![\d.])")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# Chrome is what the app writes, not what users typed: headings of tables and fields,
# labels, buttons and the navigation. What is marked as another language (the language
# switch) or as a name (translate="no": an organisation's name) is not chrome.
CHROME = "th, label, dt, legend, button, summary, caption, .main-nav > a, .badge, .status"
CHROME_TEXT = """els => els
    .filter(e => !e.closest('[translate=no], body [lang]'))
    .map(e => e.innerText)"""
SKIP_PATHS = ("/static/", "/vendor/", "/photos/")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory, sqlite_template):
    tmp = tmp_path_factory.mktemp("crawl")
    db = tmp / "meguri.db"
    shutil.copy(sqlite_template, db)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "INSTANCE_DIR": str(tmp / "instance"),
            "SECRET_KEY": "crawl",
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
        load_demo(session, target=120)
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["meguri.db"].dispose()


@pytest.fixture(scope="module")
def browser():
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def shape(url: str, *, query: bool = True) -> str:
    """/listings/12?kind=x&page=2 → /listings/#?kind (or /listings/# without the query)."""
    parts = urlsplit(url)
    path = re.sub(r"\d+", "#", parts.path)
    keys = sorted({k for k, _ in parse_qsl(parts.query) if k != "page"})
    return path + ("?" + "&".join(keys) if keys and query else "")


def latin_words(text: str) -> set[str]:
    text = re.sub(r"\S+@\S+|https?://\S+", " ", text)  # addresses and links are data
    words = set()
    for word in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", text):
        # One letter is a class or rank (第2b種, A: like new); a few capitals an abbreviation.
        if (
            len(word) > 1
            and word.lower() not in LATIN_IN_JAPANESE
            and not (word.isupper() and len(word) <= 5)
        ):
            words.add(word)
    return words


def check_page(page, lang: str) -> list[str]:
    found = []
    # What a tap would unfold (a dashboard's table) is checked as well.
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *:not(.leaflet-container *)')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                        && ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
                .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))"""
        )
        found.append(f"{width} px wide ({', '.join(wide)})")
    # Quoted data (a factor's source as its editor wrote it) is marked translate="no"; a
    # map's attribution names sources and licences as they are written (Apache-2.0); what is
    # set as <code> is an identifier meant literally (an API field name, a check-in code).
    text = page.evaluate(
        """() => [...document.querySelectorAll('[translate=no], .leaflet-control-attribution, code')].reduce(
            (text, e) => text.replace(e.innerText, ' '), document.body.innerText)"""
    )
    values = page.eval_on_selector_all(
        "input:not([type=hidden]):not([type=password]), textarea", "els => els.map(e => e.value)"
    )
    keys = set(RAW_KEY.findall(text)) - NOT_KEYS
    keys = {k for k in keys if not re.fullmatch(r"[\w.-]+\.(?:jpg|png|csv|pdf|json|example)", k)}
    if keys:
        found.append(f"raw keys {sorted(keys)[:6]}")
    decimals = set(NEEDLESS_DECIMAL.findall(text + "\n" + "\n".join(values)))
    if decimals:
        found.append(f"needless decimals {sorted(decimals)[:6]}")
    chrome = "\n".join(page.eval_on_selector_all(CHROME, CHROME_TEXT))
    if lang == "ja":
        words = latin_words(chrome + "\n" + page.title())
        if words:
            found.append(f"English in Japanese chrome {sorted(words)[:8]}")
    else:
        japanese = sorted({line for line in chrome.splitlines() if JAPANESE.search(line)})
        if japanese:
            found.append(f"Japanese in English chrome {japanese[:5]}")
    return found


def sign_in(page, base: str, email: str | None, lang: str) -> None:
    page.goto(f"{base}/")
    if email:
        page.goto(f"{base}/login")
        page.fill("#email", email)
        page.fill("#password", "meguri-demo-2026")
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
    current = page.locator("html").get_attribute("lang")
    if current != lang:
        page.click("#lang-switch")
        page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == lang


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_fits_a_phone_and_speaks_one_language(demo_server, browser, role, lang):
    base = demo_server
    context = browser.new_context(viewport=PHONE, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, base, ROLES[role], lang)
        problems: dict[str, list[str]] = {}
        opened: dict[str, int] = defaultdict(int)
        checked: dict[str, int] = defaultdict(int)
        queue = [f"{base}/"]
        seen = {f"{base}/"}
        pages = 0
        while queue and pages < MAX_PAGES:
            url = queue.pop(0)
            key = shape(url, query=False)
            if opened[key] >= PAGES_PER_SHAPE:
                continue
            opened[key] += 1
            response = page.goto(url)
            pages += 1
            if response is None or "text/html" not in response.headers.get("content-type", ""):
                continue
            if response.status >= 400:
                problems[url] = [f"answers {response.status}"]
                continue
            # Printable documents (適格請求書, 返還インボイス) are Japanese whatever the UI's
            # language, and say so; every other page speaks the language chosen.
            document = page.locator("header.top").count() == 0
            page_lang = page.locator("html").get_attribute("lang")
            found = check_page(page, page_lang if document else lang)
            if not document and page_lang != lang:
                found.append(f"in {page_lang}, not {lang}")
            if found:
                problems[url.removeprefix(base)] = found
            links = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
            for link in links:
                link = link.split("#")[0]
                if not link.startswith(base) or link in seen:
                    continue
                if any(urlsplit(link).path.startswith(p) for p in SKIP_PATHS):
                    continue
                seen.add(link)
                link_shape = shape(link)
                if checked[link_shape] >= STATUS_CHECKS_PER_SHAPE:
                    continue
                checked[link_shape] += 1
                answer = context.request.get(link, max_redirects=0)
                if answer.status == 403 or answer.status >= 500:
                    problems.setdefault(link.removeprefix(base), []).append(
                        f"offered on {urlsplit(url).path} but answers {answer.status}"
                    )
                elif answer.ok and "text/html" in answer.headers.get("content-type", ""):
                    queue.append(link)
        assert pages > 3, "the crawl found almost nothing to open"
        assert not problems, f"{pages} pages opened:\n" + "\n".join(
            f"{url}: {'; '.join(p)}" for url, p in problems.items()
        )
    finally:
        context.close()
