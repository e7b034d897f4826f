"""Imports every model module so that ``Base.metadata`` is complete (Alembic, tests)."""

from market.accounts.models import ApiToken, Invitation, Organisation, OrgKind, Role, User
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
from market.core.models import Job
from market.db import Base

__all__ = [
    "ApiToken", "Base", "Grade", "GradeProperty", "Invitation", "Job", "Listing", "ListingKind",
    "ListingPhoto", "ListingStatus", "Material", "MaterialCategory", "OrgKind", "Organisation",
    "Prefecture", "ReuseCategory", "Role", "SoilClass", "SoilClassUse", "SoilUse", "User",
]
