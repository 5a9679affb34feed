"""Helpers for the registry tests: an initialised registry and a simulated station.

:class:`StationSim` is a station as the protocol sees it: its own Ed25519 key, real certificate
records and QR tokens (``certs``), sync records signed with ``sync.protocol.sign_record``, and
requests signed with the station-side RFC 9421 signer (``sync.protocol_http.sign_request``),
replayed into the Flask test client byte for byte.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import requests
from flask import Flask
from flask.testing import FlaskClient

from certs import cert_token
from certs import keys as key_tools
from certs.identity import IdType, check_character
from certs.record import CertificateRecord, SignedRecord, sign_record
from sync import protocol, protocol_keys
from sync.protocol_http import sign_request
from sync.registry import db
from sync.registry.services import stations

ISSUE_DATE = dt.date(2026, 12, 5)


def init_registry(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output


def add_station(app: Flask, code: str, *, name: str = "示例考核站", city: str = "深圳市") -> str:
    """Record a station through the service; return its enrollment token."""
    with app.app_context(), db.transaction() as session:
        _, token = stations.add_station(session, code=code, name=name, city=city, actor="test")
    return token


def id_number(seq: int) -> str:
    """A valid resident ID number (its check character computed), different for each ``seq``."""
    first17 = f"440305199003{1 + seq // 1000 % 28:02d}{seq % 1000:03d}"
    return first17 + check_character(first17)


class StationSim:
    """A station with one active key, enrolled against the app under test."""

    def __init__(self, app: Flask, code: str, *, valid_from: dt.date = dt.date(2026, 1, 1)):
        self.app = app
        self.code = code
        self.client: FlaskClient = app.test_client()
        self.private_key = key_tools.generate()
        self.kid = key_tools.key_id(self.private_key.public_key(), "st-")
        self.valid_from = valid_from
        self.serial = 0

    # ---- enrollment

    def enroll_body(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "station_code": self.code,
            "station_name": "示例考核站",
            "keys": [
                {
                    "kid": self.kid,
                    "public_key": key_tools.public_pem(self.private_key.public_key()),
                    "valid_from": self.valid_from.isoformat(),
                    "valid_until": None,
                }
            ],
            "proof": protocol_keys.make_enrollment_proof(
                self.private_key, token=token, station_code=self.code
            ),
        }

    def enroll(self, token: str | None = None):
        token = token or add_station(self.app, self.code)
        response = self.client.post("/api/v1/enroll", json=self.enroll_body(token))
        assert response.status_code == 200, response.get_json()
        return response

    # ---- signed requests

    def signed(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        created: dt.datetime | None = None,
        nonce: str | None = None,
        kid: str | None = None,
        private_key=None,
    ):
        prepared = self.prepare(
            method,
            path,
            body=body,
            raw=raw,
            created=created,
            nonce=nonce,
            kid=kid,
            private_key=private_key,
        )
        return self.send(prepared)

    def prepare(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        created: dt.datetime | None = None,
        nonce: str | None = None,
        kid: str | None = None,
        private_key=None,
    ) -> requests.PreparedRequest:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"} if data is not None else {}
        prepared = requests.Request(
            method, f"http://localhost{path}", data=data, headers=headers
        ).prepare()
        return sign_request(
            prepared,
            station_code=self.code,
            kid=kid or self.kid,
            private_key=private_key or self.private_key,
            created=created,
            nonce=nonce,
        )

    def send(self, prepared: requests.PreparedRequest, *, body: bytes | None = None):
        return self.client.open(
            prepared.path_url,
            method=prepared.method,
            headers=dict(prepared.headers),
            data=body if body is not None else (prepared.body or b""),
        )

    def push(self, records: list[dict], *, batch: str | None = None):
        return self.signed(
            "POST",
            "/api/v1/sync/push",
            body={"batch": batch or str(uuid.uuid4()), "records": records},
        )

    def feed(self, after: str | None = None, limit: int | None = None):
        query = "&".join(f"{k}={v}" for k, v in (("after", after), ("limit", limit)) if v)
        return self.signed("GET", "/api/v1/sync/feed" + (f"?{query}" if query else ""))

    # ---- records

    def number(self, serial: int, *, level: int = 4, year: int = 2026) -> str:
        return f"S000144{self.code}{year % 100:02d}{level}{serial:06d}"

    def certificate_record(
        self,
        serial: int | None = None,
        *,
        holder: str = "欧阳娜",
        id_seq: int = 1,
        issue_date: dt.date = ISSUE_DATE,
        theory: float = 87.5,
        kid: str | None = None,
        private_key=None,
    ) -> tuple[SignedRecord, str]:
        """A signed certificate record and its QR token."""
        if serial is None:
            self.serial += 1
            serial = self.serial
        record = CertificateRecord(
            holder_name=holder,
            id_type=IdType.resident_id,
            id_number=id_number(id_seq),
            occupation="工业机器人系统操作员",
            occupation_code="6-31-01-10",
            direction="",
            level="四级/中级工",
            issuer="广东省机械行业职业技能鉴定中心",
            issue_date=issue_date,
            number=self.number(serial, year=issue_date.year),
            photo_sha256=hashlib.sha256(b"photo").hexdigest(),
            programme_code="IRAP",
            programme_name="工业机器人应用编程",
            session_code="S20261205-03",
            theory_score=theory,
            practical_score=90,
            review_score=None,
            station_code=self.code,
            kid=kid or self.kid,
        )
        key = private_key or self.private_key
        signed = sign_record(record, key)
        token = cert_token.sign_token(
            cert_token.claims_from_record(record), private_key=key, kid=record.kid
        )
        return signed, token

    def record(
        self,
        kind: str,
        payload: dict,
        *,
        record_id: str | None = None,
        kid: str | None = None,
        private_key=None,
        created_at: dt.datetime | None = None,
    ) -> dict:
        return protocol.sign_record(
            kind,
            payload,
            private_key=private_key or self.private_key,
            kid=kid or self.kid,
            record_id=record_id,
            created_at=created_at,
        ).to_dict()

    def certificate(self, serial: int | None = None, **options) -> dict:
        """A ``certificate`` sync record (signed record + token)."""
        record_id = options.pop("record_id", None)
        signed, token = self.certificate_record(serial, **options)
        return self.record(
            "certificate", {"signed_record": signed.to_dict(), "token": token}, record_id=record_id
        )

    def revocation_request(self, number: str, reason: str = "以欺骗手段取得证书") -> dict:
        return self.record(
            "revocation_request",
            {"number": number, "reason": reason, "requested_at": "2027-01-05T02:00:00Z"},
        )


def results(response) -> list[dict]:
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]
