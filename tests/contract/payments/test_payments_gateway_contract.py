"""Behaviour every PaymentGateway backend shares, as the app relies on it."""

import dataclasses

import pytest

from payments import (
    BillableOrder,
    InvalidPaymentInput,
    InvalidTransition,
    NothingToPay,
    PaymentGateway,
    PaymentStatus,
)


def test_backend_implements_the_interface(backend):
    assert isinstance(backend.gateway, PaymentGateway)
    assert backend.gateway.name == backend.name


def test_payment_amount_is_computed_from_the_lines(backend, make_order):
    order = make_order(1000, 250)  # 10 m³ × ¥1,250 = ¥12,500 + 10 % = ¥13,750
    payment = backend.gateway.create_payment(order)
    assert payment.amount_yen == 13750
    assert payment.amount_yen == backend.gateway.quote(order).total_yen
    assert payment.status is PaymentStatus.AWAITING_PAYMENT
    assert (payment.payer_id, payment.payee_id) == ("org-buyer", "org-seller")
    assert payment.backend == backend.name
    assert payment.reference


def test_an_order_cannot_carry_a_client_amount(make_order):
    fields = {f.name: getattr(make_order(), f.name) for f in dataclasses.fields(BillableOrder)}
    with pytest.raises(TypeError):
        BillableOrder(**fields, amount_yen=1)


def test_negative_price_makes_the_seller_pay(backend, make_order):
    payment = backend.gateway.create_payment(make_order(-1000, 200))  # net -¥8,000
    assert (payment.payer_id, payment.payee_id) == ("org-seller", "org-buyer")
    assert payment.amount_yen == 8800


def test_zero_order_has_nothing_to_pay(backend, make_order):
    with pytest.raises(NothingToPay):
        backend.gateway.create_payment(make_order(500, -500))


def test_settled_payment_is_paid(backend, make_order):
    paid = backend.settle(backend.gateway.create_payment(make_order()))
    assert paid.status is PaymentStatus.PAID


def test_cancel_an_unpaid_payment(backend, make_order):
    gateway = backend.gateway
    canceled = gateway.cancel(gateway.create_payment(make_order()))
    assert canceled.status is PaymentStatus.CANCELED
    assert gateway.cancel(canceled) == canceled  # again: no error, no change


def test_a_paid_payment_cannot_be_canceled(backend, make_order):
    paid = backend.settle(backend.gateway.create_payment(make_order()))
    with pytest.raises(InvalidTransition):
        backend.gateway.cancel(paid)


def test_partial_then_full_refund(backend, make_order):
    gateway = backend.gateway
    paid = backend.settle(gateway.create_payment(make_order()))  # ¥11,000
    part = gateway.refund(paid, 3000)
    assert (part.status, part.refunded_yen) == (PaymentStatus.PARTIALLY_REFUNDED, 3000)
    rest = gateway.refund(part)
    assert (rest.status, rest.refunded_yen) == (PaymentStatus.REFUNDED, 11000)


def test_refund_beyond_what_was_paid_is_refused(backend, make_order):
    gateway = backend.gateway
    paid = backend.settle(gateway.create_payment(make_order()))
    with pytest.raises(InvalidPaymentInput) as info:
        gateway.refund(paid, 11001)
    assert info.value.field == "amount_yen"


def test_an_unpaid_payment_cannot_be_refunded(backend, make_order):
    with pytest.raises(InvalidTransition):
        backend.gateway.refund(backend.gateway.create_payment(make_order()))
