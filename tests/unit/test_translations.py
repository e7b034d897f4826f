"""The message catalogs: complete Japanese, consistent placeholders, compiled .mo files
up to date, and the app rendering Japanese first and English after switching.

When a test here fails after you added or changed a string, follow the update
procedure at the top of babel.cfg (extract, update, translate, compile).
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "market" / "translations"
LOCALES = ("ja", "en")
HOWTO = "see the update procedure at the top of babel.cfg"

# A printf-style conversion as Python's % operator reads it (%(name)s, %s, %d, %%, ...).
CONVERSION = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<type>[diouxXeEfFgGcrsa%])"
)


def _po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def _read_po(locale: str):
    with _po_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale)


def _texts(value) -> tuple[str, ...]:
    """msgid/msgstr as a tuple (plural messages already are one)."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


@pytest.fixture(scope="module")
def fresh_template(tmp_path_factory):
    """The messages in the source tree right now, extracted with babel.cfg (with locations)."""
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from babel.messages.frontend import main; main()",
            "--quiet",
            "extract",
            "-F",
            "babel.cfg",
            "--ignore-dirs",
            ".* __pycache__",
            "-o",
            str(out),
            "--sort-output",
            "--no-wrap",
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"pybabel extract failed:\n{result.stdout}\n{result.stderr}"
    with out.open("rb") as fh:
        return read_po(fh)


def test_extraction_finds_strings_from_python_templates_and_enum_markers(fresh_template):
    ids = {m.id for m in fresh_template if m.id}
    assert "Sign in" in ids  # templates
    assert "%(n)s listings" in ids  # templates, _() with keyword arguments
    assert "Price per unit (yen)" in ids  # Python, lazy_gettext as _l
    assert "Please sign in to continue." in ids  # Python, lazy_gettext
    assert {"draft", "open", "reserved", "closed", "admin", "member"} <= ids  # market/i18n_terms.py


def test_extraction_sees_every_module_and_template(fresh_template):
    """Each file babel.cfg maps, extracted on its own, adds nothing the project-wide
    extraction missed (pybabel skips directories such as templates/_partials unless told)."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
    from babel.messages.frontend import parse_mapping_cfg
    from babel.util import pathmatch

    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    extracted = {m.id[0] if isinstance(m.id, tuple) else m.id for m in fresh_template if m.id}
    missed = []
    for path in sorted([*(ROOT / "market").rglob("*.py"), *(ROOT / "templates").rglob("*.html")]):
        relative = path.relative_to(ROOT).as_posix()
        for pattern, method in method_map:
            if not pathmatch(pattern, relative):
                continue
            options = dict(options_map.get(pattern, {}))
            keywords = {**DEFAULT_KEYWORDS, **options.pop("keywords", {})}
            for lineno, message, _comments, _context in extract_from_file(
                method, path, keywords, options=options
            ):
                msgid = message[0] if isinstance(message, (tuple, list)) else message
                if msgid and msgid not in extracted:
                    missed.append(f"{relative}:{lineno}  {msgid!r}")
            break
    assert not missed, "the extraction command misses these strings:\n" + "\n".join(missed)


def test_every_message_has_a_japanese_translation(fresh_template):
    ja = _read_po("ja")
    problems = []
    for message in fresh_template:
        if not message.id:
            continue
        where = ", ".join(f"{path}:{line}" for path, line in message.locations[:3])
        translated = ja.get(message.id, message.context)
        if translated is None:
            problems.append(f"missing     {message.id!r}  ({where})")
        elif translated.fuzzy:
            problems.append(f"fuzzy       {message.id!r}  ({where})")
        elif not all(_texts(translated.string)) or len(_texts(translated.string)) < 1:
            problems.append(f"untranslated {message.id!r}  ({where})")
    assert not problems, (
        f"{len(problems)} message(s) lack a Japanese translation in "
        f"market/translations/ja/LC_MESSAGES/messages.po ({HOWTO}):\n" + "\n".join(problems)
    )


def _conversions(text: str) -> Counter:
    return Counter(
        m.group(0) if m.group("name") is None else f"%({m.group('name')}){m.group('type')}"
        for m in CONVERSION.finditer(text)
    )


def _stray(text: str) -> int:
    """Percent signs that are not part of a conversion (fine only where the msgid has them too)."""
    return text.count("%") - sum(
        len(m.group(0)) - len(m.group(0).lstrip("%")) for m in CONVERSION.finditer(text)
    )


def _formats(text: str, names: set[str]) -> bool:
    try:
        text % {name: "1" for name in names}
    except (KeyError, ValueError, TypeError):
        return False
    return True


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_the_placeholders(locale):
    """Same %(name)s placeholders as the msgid, and no stray % (templates always %-format)."""
    problems = []
    for message in _read_po(locale):
        if not message.id or message.fuzzy or not any(_texts(message.string)):
            continue
        source = _texts(message.id)
        wanted = _conversions(source[0])
        names = {
            m.group("name") for text in source for m in CONVERSION.finditer(text) if m.group("name")
        }
        for text in _texts(message.string):
            if not text:
                continue
            got = _conversions(text)
            # ngettext: the singular may leave out the count, never add a placeholder.
            if got != wanted and not (
                len(source) > 1 and set(got) <= set(_conversions(source[-1]))
            ):
                problems.append(
                    f"{message.id!r} → {text!r}: placeholders {dict(got)} ≠ {dict(wanted)}"
                )
            elif _stray(text) != _stray(source[0]):
                problems.append(f"{message.id!r} → {text!r}: stray % (write %% for a percent sign)")
            elif _formats(source[0], names) and not _formats(text, names):
                problems.append(f"{message.id!r} → {text!r}: does not %-format")
    assert not problems, f"placeholder problems in {locale}/LC_MESSAGES/messages.po:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalog_is_up_to_date(locale):
    """messages.mo holds what `pybabel compile` makes of messages.po now."""
    mo_path = _po_path(locale).with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path.relative_to(ROOT)} is missing ({HOWTO})"
    fresh = io.BytesIO()
    write_mo(fresh, _read_po(locale), use_fuzzy=False)
    fresh.seek(0)
    with mo_path.open("rb") as fh:
        committed = read_mo(fh)

    def entries(catalog) -> dict:
        return {(m.id, m.context): m.string for m in catalog if m.id}

    expected, actual = entries(read_mo(fresh)), entries(committed)
    stale = sorted(str(key[0]) for key in expected.keys() ^ actual.keys())
    stale += sorted(
        str(key[0]) for key in expected.keys() & actual.keys() if expected[key] != actual[key]
    )
    assert not stale, (
        f"{mo_path.relative_to(ROOT)} is out of date with messages.po; run "
        f"`.venv/bin/pybabel compile -d market/translations`. Differs for: {stale[:20]}"
    )


def test_enum_values_shown_through_gettext_are_marked():
    from market.i18n_terms import ENUMS, TERMS

    values = {member.value for enum in ENUMS for member in enum}
    assert values <= TERMS.keys(), f"add to market/i18n_terms.py: {sorted(values - TERMS.keys())}"
    assert all(str(TERMS[key]) == key for key in TERMS)  # outside a request: the msgid itself


def test_pages_are_japanese_by_default_and_english_after_switching(client):
    page = client.get("/login").get_data(as_text=True)
    assert "ログイン" in page
    assert "メールアドレス" in page

    response = client.post("/lang/en", data={"next": "/login"})
    assert response.status_code == 302

    page = client.get("/login").get_data(as_text=True)
    assert "Sign in" in page
    assert "E-mail address" in page
    assert "ログイン" not in page

    client.post("/lang/ja", data={"next": "/login"})
    assert "ログイン" in client.get("/login").get_data(as_text=True)


def _dotted(node) -> str | None:
    from jinja2 import nodes

    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _dotted(node.node)
        return base and f"{base}.{node.attr}"
    return None


def test_dynamic_gettext_calls_in_templates_are_covered():
    """``_(some.value)`` in a template translates a stored word the extractor cannot see;
    each such call must be listed in market/i18n_terms.py with its words marked there."""
    import jinja2
    from jinja2 import nodes

    from market.i18n_terms import DYNAMIC_CALLS

    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    unlisted = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        tree = env.parse(path.read_text(encoding="utf-8"))
        for call in tree.find_all(nodes.Call):
            if not (
                isinstance(call.node, nodes.Name) and call.node.name in {"_", "gettext", "ngettext"}
            ):
                continue
            if call.args and not isinstance(call.args[0], nodes.Const):
                expr = _dotted(call.args[0])
                if expr not in DYNAMIC_CALLS:
                    unlisted.append(
                        f"{path.relative_to(ROOT)}:{call.lineno}  _({expr or '<expression>'})"
                    )
    assert not unlisted, (
        "templates translate values the extractor cannot see; mark their words in TERMS and list "
        "the calls in DYNAMIC_CALLS in market/i18n_terms.py:\n" + "\n".join(unlisted)
    )
