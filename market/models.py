"""Imports every model module so that ``Base.metadata`` is complete (Alembic, tests)."""

from market.accounts.models import (
    ApiToken,
    Invitation,
    Organisation,
    OrgKind,
    Partnership,
    Role,
    User,
)
from market.allocation.models import (
    DeclinedPair,
    MatchingParameter,
    MatchRun,
    Plant,
    PlantConversion,
    PlantLoad,
    Proposal,
)
from market.catalog.models import (
    Grade,
    GradeProperty,
    Listing,
    ListingKind,
    ListingPhoto,
    ListingStatus,
    Material,
    MaterialCategory,
    Prefecture,
    ReuseCategory,
    SoilClass,
    SoilClassUse,
    SoilUse,
)
from market.core.models import AuditEvent
from market.db import Base
from market.factors.models import BulkDensity, ImpactFactor, OrderHaul, TruckType
from market.finder.models import (
    Municipality,
    SavedSearch,
    SearchOutbox,
    SynonymGroup,
)
from market.notifications.models import Notification
from market.orders.models import (
    Delivery,
    ListingOrderTerms,
    Order,
    OrderPayment,
    OrderRefund,
    OrderTransition,
    ProcessedWebhookEvent,
)
from market.pickups.models import BookingStatus, PickupBooking, PickupSlot
from market.tasks import Job
from market.trace.models import Amendment, ConfirmationSheet, Receipt, ReceiptTicket, TransferTicket

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "Municipality",
    "Notification",
    "SynonymGroup",
    "SavedSearch",
    "SearchOutbox",
    "DeclinedPair",
    "MatchRun",
    "MatchingParameter",
    "Partnership",
    "Plant",
    "PlantConversion",
    "PlantLoad",
    "Proposal",
    "Grade",
    "GradeProperty",
    "Invitation",
    "Job",
    "Listing",
    "ListingKind",
    "ListingPhoto",
    "ListingStatus",
    "Material",
    "MaterialCategory",
    "OrgKind",
    "Organisation",
    "Prefecture",
    "ReuseCategory",
    "Role",
    "SoilClass",
    "SoilClassUse",
    "SoilUse",
    "User",
    "Delivery",
    "ListingOrderTerms",
    "Order",
    "OrderPayment",
    "OrderRefund",
    "OrderTransition",
    "ProcessedWebhookEvent",
    "Amendment",
    "ConfirmationSheet",
    "Receipt",
    "ReceiptTicket",
    "TransferTicket",
    "BookingStatus",
    "PickupBooking",
    "PickupSlot",
    "BulkDensity",
    "ImpactFactor",
    "OrderHaul",
    "TruckType",
]
