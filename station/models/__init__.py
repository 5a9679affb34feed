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
from station.models.exam import (
    Answer,
    Attempt,
    AttemptEvent,
    AttemptForm,
    AttemptStatus,
    EventKind,
    StationClock,
)
from station.models.keys import StationKey
from station.models.scheduling import (
    Assignment,
    AssignmentRole,
    Candidate,
    CandidateStatus,
    ExaminerQualification,
    ExamSession,
    Programme,
    Recusal,
    Room,
    RoomKind,
    SessionRoom,
    SessionState,
)
from station.models.users import Role, StaffUser

__all__ = [
    "Answer",
    "Attempt",
    "AttemptEvent",
    "AttemptForm",
    "AttemptStatus",
    "EventKind",
    "StationClock",
    "Assignment",
    "AssignmentRole",
    "Candidate",
    "CandidateStatus",
    "ExaminerQualification",
    "ExamSession",
    "Programme",
    "Recusal",
    "Room",
    "RoomKind",
    "SessionRoom",
    "SessionState",
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
