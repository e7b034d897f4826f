"""Fixtures for the payments unit tests: two organisations and order builders."""

from datetime import date

import pytest

from payments import BankAccount, BillableOrder, Party


@pytest.fixture
def seller():
    return Party(
        id="org-seller",
        name="株式会社めぐり建設",
        registration_number="T1234567890123",
        address="東京都千代田区丸の内1-1",
        bank_account=BankAccount("みずほ銀行", "本店", "普通", "1234567", "メグリケンセツ（カ"),
    )


@pytest.fixture
def buyer():
    return Party(
        id="org-buyer",
        name="山田造園株式会社",
        registration_number="T9876543210987",
        address="埼玉県さいたま市1-2",
    )


@pytest.fixture
def make_order(buyer, seller):
    def make(*lines, attempt=1, order_id="ORD-1"):
        return BillableOrder(
            order_id=order_id,
            buyer=buyer,
            seller=seller,
            lines=lines,
            transaction_date=date(2025, 11, 3),
            attempt=attempt,
        )

    return make
