"""Item banks as the station holds them: banks, their versions, and each version's content."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import JSON, Column, Field, SQLModel

from station.models.common import utcnow


class TrustedIssuer(SQLModel, table=True):
    """An issuing organisation's public key that bank packages may be signed with."""

    __tablename__ = "trusted_issuer"

    kid: str = Field(primary_key=True, max_length=64)
    issuer_code: str = Field(default="", max_length=64)
    issuer_name: str = Field(default="", max_length=200)
    public_pem: str
    added_at: datetime = Field(default_factory=utcnow)


class Bank(SQLModel, table=True):
    __tablename__ = "bank"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=100)
    name: str = Field(max_length=200)
    programme_code: str = Field(default="", max_length=64)
    programme_name: str = Field(default="", max_length=200)
    level: str = Field(default="", max_length=20)
    issuer_name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class BankVersion(SQLModel, table=True):
    __tablename__ = "bank_version"
    __table_args__ = (UniqueConstraint("bank_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="bank.id", index=True)
    version: str = Field(max_length=40)
    source_format: str = Field(max_length=20)  # package, xlsx, gift, moodle_xml, qti
    source_name: str = Field(default="", max_length=255)
    content_hash: str = Field(max_length=64)  # of the package bytes, or of the imported content
    manifest: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    encrypted: bool = False
    # An encrypted package stays here as it arrived until its release code is entered.
    package: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    unlocked_at: datetime | None = None
    imported_at: datetime = Field(default_factory=utcnow)
    imported_by: str = Field(default="", max_length=64)

    @property
    def locked(self) -> bool:
        return self.encrypted and self.unlocked_at is None


class BankItem(SQLModel, table=True):
    __tablename__ = "bank_item"
    __table_args__ = (UniqueConstraint("bank_version_id", "uid"),)

    id: int | None = Field(default=None, primary_key=True)
    bank_version_id: int = Field(foreign_key="bank_version.id", index=True)
    uid: str = Field(max_length=100)
    version: int = 1
    type: str = Field(max_length=20, index=True)
    knowledge_point: str | None = Field(default=None, max_length=64, index=True)
    importance: str | None = Field(default=None, max_length=1)
    difficulty: float | None = None
    status: str = Field(default="active", max_length=10)
    search_text: str = ""  # stem and options as plain text, for the item browser
    data: dict = Field(sa_column=Column(JSON, nullable=False))  # question_bank.items.Item.to_dict()


class BankTask(SQLModel, table=True):
    __tablename__ = "bank_task"
    __table_args__ = (UniqueConstraint("bank_version_id", "uid"),)

    id: int | None = Field(default=None, primary_key=True)
    bank_version_id: int = Field(foreign_key="bank_version.id", index=True)
    uid: str = Field(max_length=100)
    title: str = Field(max_length=200)
    data: dict = Field(sa_column=Column(JSON, nullable=False))  # Task.to_dict()


class BankBlueprint(SQLModel, table=True):
    __tablename__ = "bank_blueprint"
    __table_args__ = (UniqueConstraint("bank_version_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    bank_version_id: int = Field(foreign_key="bank_version.id", index=True)
    name: str = Field(max_length=100)
    data: dict = Field(sa_column=Column(JSON, nullable=False))  # Blueprint.to_dict()


class BankMedia(SQLModel, table=True):
    __tablename__ = "bank_media"
    __table_args__ = (UniqueConstraint("bank_version_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    bank_version_id: int = Field(foreign_key="bank_version.id", index=True)
    name: str = Field(max_length=255)  # "media/robot.png"
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
