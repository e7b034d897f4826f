"""Order money: per-rate tax rounded once per invoice, payer swap on negative prices, fee."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments import Direction, InvalidPaymentInput, InvoiceLine, compute_totals, format_yen


def line(unit_price, quantity="1", tax_rate=10, description="第二種建設発生土"):
    return InvoiceLine(description, Decimal(quantity), "m³", Decimal(unit_price), tax_rate)


def test_tax_is_rounded_once_per_rate_not_per_line():
    # Per line: 10.5 -> 10 three times = 30. Per invoice: 31.5 -> 31.
    totals = compute_totals([line(105), line(105), line(105)])
    assert totals.subtotal_yen == 315
    assert totals.tax_yen == 31
    assert totals.total_yen == 346


def test_each_tax_rate_has_its_own_total_and_tax():
    totals = compute_totals([line(1005), line(999, tax_rate=8), line(1, tax_rate=8)])
    by_rate = {b.rate_percent: b for b in totals.per_rate}
    assert (by_rate[10].taxable_yen, by_rate[10].tax_yen) == (1005, 100)
    assert (by_rate[8].taxable_yen, by_rate[8].tax_yen) == (1000, 80)
    assert [b.rate_percent for b in totals.per_rate] == [10, 8]
    assert totals.total_yen == 1005 + 100 + 1000 + 80


def test_fractional_quantity_is_truncated_to_whole_yen():
    totals = compute_totals([line(333, quantity="12.5")])  # 4162.5
    assert totals.lines[0].amount_yen == 4162


def test_negative_price_soil_makes_the_seller_pay_the_buyer():
    # Supplier pays ¥1,000/m³ to have 100 m³ taken, and ¥30,000 of transport is charged to
    # the receiver: net -¥70,000, so the supplier pays the receiver ¥77,000.
    totals = compute_totals([line(-1000, quantity="100"), line(30000, description="運搬")])
    assert totals.direction is Direction.SELLER_PAYS
    assert totals.subtotal_yen == 70000
    assert totals.tax_yen == 7000
    assert totals.total_yen == 77000
    # Shown from the payee's side: the soil line is what it earns, transport a deduction.
    assert [p.amount_yen for p in totals.lines] == [100000, -30000]


def test_zero_net_means_nothing_due():
    totals = compute_totals([line(500), line(-500)])
    assert totals.direction is Direction.NOTHING_DUE
    assert totals.total_yen == 0
    assert totals.platform_fee_yen == 0


def test_platform_fee_is_a_share_of_trade_value_plus_its_own_tax():
    totals = compute_totals([line(-1000, quantity="100")], platform_fee_rate="0.05")
    assert totals.platform_fee_yen == 5000
    assert totals.platform_fee_tax_yen == 500
    assert totals.payee_receives_yen == 110000 - 5500


def test_platform_fee_never_exceeds_the_payment():
    totals = compute_totals([line(1000), line(-999)], platform_fee_rate="0.5")
    assert totals.total_yen == 1  # ¥1 + tax floor(0.1) = ¥1
    assert totals.platform_fee_total_yen <= totals.total_yen


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"quantity": Decimal(0)}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"unit_price_yen": Decimal("NaN")}, "unit_price_yen"),
        ({"tax_rate": 5}, "tax_rate"),
        ({"description": "  "}, "description"),
    ],
)
def test_bad_line_input_names_the_field(kwargs, field):
    values = {
        "description": "土",
        "quantity": Decimal(1),
        "unit": "m³",
        "unit_price_yen": Decimal(100),
    } | kwargs
    with pytest.raises(InvalidPaymentInput) as info:
        InvoiceLine(**values)
    assert info.value.field == field


@pytest.mark.parametrize("rate", ["1", "-0.01", "five"])
def test_bad_fee_rate_is_refused(rate):
    with pytest.raises(InvalidPaymentInput) as info:
        compute_totals([line(100)], platform_fee_rate=rate)
    assert info.value.field == "platform_fee_rate"


def test_no_lines_is_refused():
    with pytest.raises(InvalidPaymentInput):
        compute_totals([])


def test_format_yen():
    assert format_yen(1234567) == "¥1,234,567"
    assert format_yen(-800) == "-¥800"


lines_strategy = st.lists(
    st.builds(
        line,
        unit_price=st.integers(-200_000, 200_000),
        quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3),
        tax_rate=st.sampled_from([10, 8, 0]),
    ),
    min_size=1,
    max_size=8,
)


@settings(deadline=None)  # the machine is shared; speed is not what this tests
@given(lines_strategy, st.decimals(min_value=0, max_value=Decimal("0.3"), places=3))
def test_totals_invariants(lines, fee_rate):
    totals = compute_totals(lines, fee_rate)
    assert totals.total_yen >= 0
    assert totals.total_yen == totals.subtotal_yen + totals.tax_yen
    assert totals.subtotal_yen == sum(p.amount_yen for p in totals.lines)
    for b in totals.per_rate:
        # One truncation per rate: within ¥1 of the exact tax, toward zero.
        exact = Decimal(b.taxable_yen) * b.rate_percent / 100
        assert abs(exact) - 1 < abs(b.tax_yen) <= abs(exact)
    assert 0 <= totals.platform_fee_total_yen <= totals.total_yen
    assert totals.payee_receives_yen == totals.total_yen - totals.platform_fee_total_yen


@settings(deadline=None)
@given(lines_strategy)
def test_negating_every_price_swaps_payer_and_keeps_the_amounts(lines):
    negated = [line(-li.unit_price_yen, li.quantity, li.tax_rate) for li in lines]
    a, b = compute_totals(lines), compute_totals(negated)
    assert (a.total_yen, a.tax_yen, a.subtotal_yen) == (b.total_yen, b.tax_yen, b.subtotal_yen)
    swapped = {
        Direction.BUYER_PAYS: Direction.SELLER_PAYS,
        Direction.SELLER_PAYS: Direction.BUYER_PAYS,
        Direction.NOTHING_DUE: Direction.NOTHING_DUE,
    }
    assert b.direction is swapped[a.direction]
