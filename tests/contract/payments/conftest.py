"""One PaymentGateway contract, two backends: invoice always, Stripe against localstripe."""

import importlib.util
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from payments import BillableOrder, InvoiceGateway, InvoiceLine, Party, Payment, make_gateway
from payments.testing import TEST_API_KEY, TEST_WEBHOOK_SECRET, localstripe_server

FEE_RATE = "0.05"


@pytest.fixture(scope="session")
def localstripe_url():
    if importlib.util.find_spec("localstripe") is None:
        pytest.skip("localstripe is not installed (requirements-dev.txt)")
    with localstripe_server() as url:
        yield url


@dataclass
class Backend:
    """A gateway plus the one step that differs: how a payment gets paid."""

    name: str
    gateway: object

    def settle(self, payment: Payment) -> Payment:
        if isinstance(self.gateway, InvoiceGateway):
            return self.gateway.mark_paid(payment, paid_on=date(2025, 11, 20))
        return self.gateway.confirm(payment, "pm_card_visa")


@pytest.fixture(params=["invoice", pytest.param("stripe", marks=pytest.mark.localstripe)])
def backend(request):
    if request.param == "invoice":
        return Backend(
            "invoice",
            make_gateway("invoice", platform_fee_rate=FEE_RATE, today=lambda: date(2025, 11, 10)),
        )
    url = request.getfixturevalue("localstripe_url")
    return Backend(
        "stripe",
        make_gateway(
            "stripe",
            api_key=TEST_API_KEY,
            webhook_secret=TEST_WEBHOOK_SECRET,
            platform_fee_rate=FEE_RATE,
            api_base=url,
        ),
    )


@pytest.fixture
def seller():
    return Party(id="org-seller", name="株式会社めぐり建設", registration_number="T1234567890123")


@pytest.fixture
def buyer():
    return Party(id="org-buyer", name="山田造園株式会社", registration_number="T9876543210987")


@pytest.fixture
def make_order(buyer, seller, request):
    counter = iter(range(1, 1000))

    def make(*unit_prices, quantity="10", order_id=None):
        lines = tuple(
            InvoiceLine("第二種建設発生土", Decimal(quantity), "m³", Decimal(price))
            for price in (unit_prices or (1000,))
        )
        # Unique per test: localstripe keeps every object for the whole session.
        oid = order_id or f"ORD-{request.node.name}-{next(counter)}"
        return BillableOrder(
            order_id=oid,
            buyer=buyer,
            seller=seller,
            lines=lines,
            transaction_date=date(2025, 11, 3),
        )

    return make
