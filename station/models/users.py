"""Staff accounts and their roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from station.models.common import utcnow


class Role(StrEnum):
    ADMIN = "admin"  # 站点管理员
    EXAMINER = "examiner"  # 考评员 / 监考
    CHIEF_EXAMINER = "chief_examiner"  # 考评组长
    SUPERVISOR = "supervisor"  # 督导员


class StaffUserBase(SQLModel):
    username: str = Field(index=True, unique=True, max_length=64)
    display_name: str = Field(max_length=100)
    organisation: str = Field(default="", max_length=200)
    roles: str = Field(default="", max_length=200)  # comma-separated Role values


class StaffUser(StaffUserBase, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def role_set(self) -> set[Role]:
        return {Role(r) for r in self.roles.split(",") if r}

    def has_role(self, *roles: Role) -> bool:
        return bool(self.role_set & set(roles))

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)
