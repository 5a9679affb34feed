"""All station tables, imported here so that Alembic and tests see the whole schema."""

from station.models.audit import AuditEntry, AuditHead
from station.models.banks import (
    Bank,
    BankBlueprint,
    BankItem,
    BankMedia,
    BankTask,
    BankVersion,
    TrustedIssuer,
)
from station.models.keys import StationKey
from station.models.users import Role, StaffUser

__all__ = [
    "AuditEntry",
    "AuditHead",
    "Bank",
    "BankBlueprint",
    "BankItem",
    "BankMedia",
    "BankTask",
    "BankVersion",
    "Role",
    "StaffUser",
    "StationKey",
    "TrustedIssuer",
]
