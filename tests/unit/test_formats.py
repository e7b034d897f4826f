"""Quantities and chart axes as people read them: no needless decimals, round ticks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from market import formats
from market.reports import charts


@pytest.fixture
def babel_app():
    from pathlib import Path

    app = Flask(__name__)
    Babel(app, default_translation_directories=str(Path(formats.__file__).parent / "translations"))
    with app.test_request_context():
        yield app


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (Decimal("3000.000"), "m3", "3,000"),
        (Decimal("298.000"), "m3", "298"),
        (Decimal("12.250"), "m3", "12.3"),  # a tenth of a cubic metre is all soil needs
        (Decimal("1.000"), "item", "1"),
        (Decimal("20000.000"), "t", "20,000"),
        (Decimal("2.5"), "t", "2.5"),
        (Decimal("0.0125"), "t", "0.013"),
        (None, "t", "—"),
    ],
)
def test_quantities_have_only_the_decimals_their_unit_needs(value, unit, shown):
    assert formats.quantity(value, unit) == shown


def test_input_values_drop_needless_decimals_inside_mappings_too():
    assert formats.plain(Decimal("1000.000")) == "1000"
    assert formats.plain(50.0) == "50"
    assert formats.plain({"absorption": 3.50, "fines": {"max": 7.0}}) == {
        "absorption": "3.5",
        "fines": {"max": "7"},
    }
    assert formats.plain("text") == "text"


def test_units_read_as_words_in_each_language(babel_app):
    with force_locale("ja"):
        assert formats.quantity_with_unit(Decimal("3"), "item") == "3 点"
        assert formats.quantity_with_unit(Decimal("298.000"), "m3") == "298 m³"
    with force_locale("en"):
        assert formats.quantity_with_unit(Decimal("3"), "item") == "3 items"


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (-1679, 3321, [-2000, 0, 2000, 4000]),
        (0, 7, [0, 2, 4, 6, 8]),
        (0, 11694, [0, 5000, 10000, 15000]),
        (0, 0, [0, 1]),
        (0, 0.3, [0, 0.1, 0.2, 0.3]),
    ],
)
def test_chart_axes_tick_at_round_numbers_through_zero(low, high, ticks):
    assert charts.axis(low, high) == ticks


def test_the_unit_label_sits_above_the_top_tick():
    svg = str(charts.render("line", ["2026-01", "2026-02"], [("CO2", [-1679, 3321])], "CO2", "kg"))
    assert ">4,000</text>" in svg and ">-2,000</text>" in svg and ">3,321<" not in svg
    unit_y = float(svg.split('font-size="16">kg</text>')[0].rsplit('y="', 1)[1].split('"')[0])
    top_tick_y = float(svg.split(">4,000</text>")[0].rsplit('y="', 1)[1].split('"')[0])
    assert unit_y < top_tick_y - 16  # a line of text apart


def test_month_labels_and_legend_never_overlap():
    import re

    months = [f"2026-{m:02d}" for m in range(1, 13)]
    names = ("運搬前のCO2削減量（kg）", "CO2削減量（正味、kg）")
    svg = str(charts.render("line", months, [(names[0], [1] * 12), (names[1], [2] * 12)], "CO2"))
    shown = [
        (float(x), label)
        for x, label in re.findall(
            r'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle"[^>]*>([^<]+)<', svg
        )
    ]
    assert 3 <= len(shown) < 12
    for (x0, a), (x1, _b) in zip(shown, shown[1:], strict=False):
        assert x1 - x0 > charts.text_width(a)  # room for the label and a gap
    legend = {
        label: (float(x), float(y))
        for x, y, label in re.findall(
            r'<text x="([\d.]+)" y="([\d.]+)" font-size="\d+">([^<]+)<', svg
        )
        if label in names
    }
    (x0, y0), (x1, y1) = legend[names[0]], legend[names[1]]
    assert y1 > y0 or x1 > x0 + charts.text_width(names[0])


def test_large_value_labels_fit_inside_the_chart():
    import re

    svg = str(charts.render("bar", ["2026-01", "2026-02"], [("¥", [1_200_000, 300_000])], "¥"))
    for x, label in re.findall(
        r'<text x="([\d.]+)" y="[\d.]+" text-anchor="end"[^>]*>([^<]+)<', svg
    ):
        assert float(x) - charts.text_width(label) >= 0, label
