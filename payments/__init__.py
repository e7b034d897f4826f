"""Payments for Meguri: money calculations, the PaymentGateway interface, and its backends
(invoice by default, Stripe by config). No Flask, no market models: see docs/payments.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from payments.credit_note import (
    CreditNote,
    CreditNoteItem,
    build_credit_note,
    credit_note_context,
    render_credit_note_pdf,
    split_refund,
)
from payments.domain import (
    BankAccount,
    BillableOrder,
    OnboardingLink,
    Party,
    Payment,
    PaymentStatus,
)
from payments.errors import (
    ConfigurationError,
    GatewayError,
    InvalidPaymentInput,
    InvalidTransition,
    InvoiceFontMissing,
    NothingToPay,
    PaymentError,
    WebhookError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from payments.events import (
    AccountUpdate,
    Dispute,
    InMemoryProcessedEvents,
    PaymentEvent,
    ProcessedEvents,
    WebhookOutcome,
    WebhookResponse,
    apply_event,
    apply_once,
    process_webhook,
)
from payments.gateway import (
    ConfirmsTestPayments,
    OnboardsPayees,
    ParsesWebhooks,
    PaymentGateway,
    RetrievesPayments,
)
from payments.invoice import (
    QualifiedInvoice,
    invoice_context,
    render_invoice_html,
    render_invoice_pdf,
)
from payments.invoice_gateway import InvoiceGateway
from payments.money import Direction, InvoiceLine, TaxBreakdown, Totals, compute_totals, format_yen

__all__ = [
    "AccountUpdate",
    "BankAccount",
    "BillableOrder",
    "ConfigurationError",
    "CreditNote",
    "CreditNoteItem",
    "Direction",
    "GatewayError",
    "InMemoryProcessedEvents",
    "InvalidPaymentInput",
    "InvalidTransition",
    "InvoiceFontMissing",
    "InvoiceGateway",
    "InvoiceLine",
    "NothingToPay",
    "Party",
    "Payment",
    "PaymentError",
    "Dispute",
    "PaymentEvent",
    "PaymentGateway",
    "ConfirmsTestPayments",
    "OnboardsPayees",
    "ParsesWebhooks",
    "RetrievesPayments",
    "OnboardingLink",
    "PaymentStatus",
    "ProcessedEvents",
    "QualifiedInvoice",
    "TaxBreakdown",
    "Totals",
    "WebhookError",
    "WebhookOutcome",
    "WebhookPayloadError",
    "WebhookResponse",
    "WebhookSignatureError",
    "apply_event",
    "apply_once",
    "build_credit_note",
    "compute_totals",
    "credit_note_context",
    "format_yen",
    "gateway_from_config",
    "invoice_context",
    "make_gateway",
    "process_webhook",
    "render_invoice_html",
    "render_credit_note_pdf",
    "render_invoice_pdf",
    "split_refund",
]

BACKENDS = ("invoice", "stripe")


def make_gateway(name: str | None = "invoice", **settings) -> PaymentGateway:
    """The gateway for `name` ("invoice" when empty). Fails fast on missing settings.

    invoice: platform_fee_rate, payment_terms_days, font_path, today, invoice_number
    stripe:  api_key, webhook_secret (both required), platform_fee_rate, api_base,
             http_client, max_network_retries, webhook_tolerance, settle_on_behalf_of
    """
    name = (name or "invoice").strip().lower()
    if name == "invoice":
        return InvoiceGateway(**settings)
    if name == "stripe":
        missing = [key for key in ("api_key", "webhook_secret") if not settings.get(key)]
        if missing:
            raise ConfigurationError(
                "Stripe payments need "
                + " and ".join(missing)
                + " (MEGURI_STRIPE_SECRET_KEY / MEGURI_STRIPE_WEBHOOK_SECRET)."
            )
        # Imported here: the stripe library loads only on a site that takes card payments.
        from payments.stripe_gateway import StripeGateway

        return StripeGateway(**settings)
    raise ConfigurationError(
        f"Unknown payments backend {name!r}; choose one of {', '.join(BACKENDS)}."
    )


def gateway_from_config(config: Mapping[str, object]) -> PaymentGateway:
    """make_gateway from MEGURI_* keys (a Flask config or os.environ)."""
    name = str(config.get("MEGURI_PAYMENTS") or "invoice")
    settings: dict[str, object] = {}
    if config.get("MEGURI_PLATFORM_FEE_RATE") not in (None, ""):
        settings["platform_fee_rate"] = config["MEGURI_PLATFORM_FEE_RATE"]
    if name.strip().lower() == "stripe":
        settings["api_key"] = config.get("MEGURI_STRIPE_SECRET_KEY")
        settings["webhook_secret"] = config.get("MEGURI_STRIPE_WEBHOOK_SECRET")
        if config.get("MEGURI_STRIPE_API_BASE"):
            settings["api_base"] = config["MEGURI_STRIPE_API_BASE"]
    elif config.get("MEGURI_INVOICE_FONT"):
        settings["font_path"] = config["MEGURI_INVOICE_FONT"]
    return make_gateway(name, **settings)
