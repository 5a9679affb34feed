"""The sync protocol's records, signed trust list, enrollment, key endorsement and message shapes.

Signed requests (RFC 9421) are in test_protocol_http.py.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import uuid

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from certs import keys
from certs.identity import IdType
from certs.record import CertificateRecord
from certs.record import sign_record as sign_certificate
from certs.trust import Revocation, StationKey, TrustList
from sync.protocol import (
    MAX_RECORD_BYTES,
    RECORD_CONTEXT,
    RECORD_KINDS,
    BadSignatureError,
    ProtocolError,
    UnknownKeyError,
    b64url_encode,
    estimate_offset,
    reason_for,
    sign_record,
    verify_record,
)
from sync.protocol_keys import (
    EnrollRequest,
    EnrollResponse,
    endorse_key,
    parse_enroll_request,
    parse_enroll_response,
    root_kid,
    sign_trust_list,
    verify_enrollment_proof,
    verify_key_endorsement,
    verify_signed_trust_list,
)
from sync.protocol_messages import (
    ErrorResponse,
    FeedEvent,
    FeedResponse,
    PushRequest,
    PushResponse,
    PushResult,
    parse_error_response,
    parse_feed_query,
    parse_feed_response,
    parse_push_request,
    parse_push_response,
)

T0 = dt.datetime(2026, 12, 5, 8, 30, tzinfo=dt.UTC)
STATION = "440301"


def kid_of(private, prefix: str = "st-") -> str:
    return keys.key_id(private.public_key(), prefix)


@pytest.fixture(scope="module")
def station_key():
    return keys.generate()


@pytest.fixture(scope="module")
def other_key():
    return keys.generate()


@pytest.fixture(scope="module")
def root_key():
    return keys.generate()


@pytest.fixture(scope="module")
def trust(station_key, other_key) -> TrustList:
    return TrustList(
        [
            StationKey(kid_of(station_key), STATION, station_key.public_key(), dt.date(2026, 1, 1)),
            StationKey(kid_of(other_key), "440302", other_key.public_key(), dt.date(2026, 1, 1)),
        ],
        issued_at=T0,
    )


def lookup(trust: TrustList):
    return lambda kid: trust.get(kid).public_key if trust.get(kid) else None


def certificate_payload(station_key) -> dict:
    record = CertificateRecord(
        holder_name="欧阳娜",
        id_type=IdType.resident_id,
        id_number="11010519900307101X",
        occupation="工业机器人系统操作员",
        occupation_code="6-31-01-10",
        direction="",
        level="四级/中级工",
        issuer="广东省机械行业职业技能鉴定中心",
        issue_date=dt.date(2026, 12, 5),
        number="S000144030001264000123",
        photo_sha256=hashlib.sha256(b"photo").hexdigest(),
        programme_code="IRAP",
        programme_name="工业机器人应用编程",
        session_code="S20261205-03",
        theory_score=87.5,
        practical_score=90,
        review_score=None,
        station_code=STATION,
        kid=kid_of(station_key),
    )
    signed = sign_certificate(record, station_key)
    return {"signed_record": signed.to_dict(), "token": "SC1.abcdefghijklmnop"}


def payloads(station_key, other_key) -> dict[str, dict]:
    return {
        "certificate": certificate_payload(station_key),
        "result_summary": {
            "session": "S20261205-03",
            "programme": "IRAP",
            "level": "四级/中级工",
            "signed_off_at": "2026-12-05T10:00:00+08:00",
            "candidates": 30,
            "passed": 27,
            "by_outcome": {"pass": 27, "fail": 2, "absent": 1},
            "city": "深圳市",
        },
        "revocation_request": {
            "number": "S000144030001264000123",
            "reason": "以欺骗手段取得",
            "requested_at": "2027-03-01T02:00:00Z",
        },
        "session_report": {
            "session": "S20261205-03",
            "attendance": {"present": 29, "absent": 1},
            "irregularities": 0,
            "timeline_digest": hashlib.sha256(b"timeline").hexdigest(),
        },
        "station_key": endorse_key(
            other_key.public_key(),
            new_kid=kid_of(other_key),
            valid_from=dt.date(2027, 1, 1),
            old_private_key=station_key,
            old_kid=kid_of(station_key),
        ),
    }


# --------------------------------------------------------------------------- records


@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_every_kind_round_trips_through_json_and_verifies(kind, station_key, other_key, trust):
    payload = payloads(station_key, other_key)[kind]
    record = sign_record(kind, payload, private_key=station_key, kid=kid_of(station_key))
    wire = json.loads(json.dumps(record.to_dict(), ensure_ascii=False))
    assert wire["format"] == 1 and wire["kind"] == kind and len(wire["signature"]) == 86
    back = verify_record(wire, lookup(trust))
    assert back == record
    assert back.payload == payload


def test_signature_is_over_context_and_jcs_including_format_and_kid(station_key):
    record = sign_record(
        "revocation_request",
        {
            "number": "S000144030001264000123",
            "reason": "错误发放",
            "requested_at": "2027-01-01T00:00:00Z",
        },
        private_key=station_key,
        kid=kid_of(station_key),
        record_id="0b6f3c1e-2f4a-4d8e-9a7b-1c2d3e4f5a6b",
        created_at=T0.replace(microsecond=123456),
    )
    signed = dict(record.to_dict())
    signature = signed.pop("signature")
    assert signed["created_at"] == "2026-12-05T08:30:00Z"  # whole seconds
    message = RECORD_CONTEXT + rfc8785.dumps(signed)
    station_key.public_key().verify(record.signature, message)
    assert b64url_encode(record.signature) == signature
    with pytest.raises(Exception):  # noqa: B017 - without the context it must not verify
        station_key.public_key().verify(record.signature, rfc8785.dumps(signed))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(id=str(uuid.uuid4())),
        lambda d: d.update(created_at="2026-12-05T08:30:01Z"),
        lambda d: d["payload"].update(reason="另一个原因"),
        lambda d: d["payload"].update(extra="an added field is covered too"),
    ],
    ids=["id", "created_at", "payload", "added-field"],
)
def test_any_change_breaks_the_signature(change, station_key, other_key, trust):
    payload = payloads(station_key, other_key)["revocation_request"]
    wire = sign_record(
        "revocation_request", payload, private_key=station_key, kid=kid_of(station_key)
    ).to_dict()
    change(wire)
    with pytest.raises(BadSignatureError) as caught:
        verify_record(wire, lookup(trust))
    assert caught.value.code == "bad_signature"
    assert reason_for(caught.value).startswith("bad_signature: signature: ")


def test_kid_swapped_to_another_known_key_is_a_bad_signature(station_key, other_key, trust):
    payload = payloads(station_key, other_key)["session_report"]
    wire = sign_record("session_report", payload, private_key=station_key, kid=kid_of(station_key))
    forged = {**wire.to_dict(), "kid": kid_of(other_key)}
    with pytest.raises(BadSignatureError):
        verify_record(forged, lookup(trust))


def test_unknown_key(station_key, other_key):
    stranger = keys.generate()
    payload = payloads(station_key, other_key)["session_report"]
    record = sign_record("session_report", payload, private_key=stranger, kid=kid_of(stranger))
    with pytest.raises(UnknownKeyError) as caught:
        verify_record(record, lambda kid: None)
    assert caught.value.code == "unknown_key" and caught.value.field == "kid"


@pytest.fixture
def wire(station_key, other_key):
    payload = payloads(station_key, other_key)["result_summary"]
    record = sign_record(
        "result_summary", payload, private_key=station_key, kid=kid_of(station_key)
    )
    return record.to_dict()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d.pop("kid"), "record", "缺少字段 kid"),
        (lambda d: d.update(extra=1), "record", "未知字段 extra"),
        (lambda d: d.update(format=2), "record.format", "unsupported"),
        (lambda d: d.update(id="not-a-uuid"), "record.id", "uuid"),
        (lambda d: d.update(id=d["id"].upper()), "record.id", "uuid"),
        (lambda d: d.update(kind="grades"), "record.kind", "unknown kind"),
        (lambda d: d.update(created_at="2026-12-05T08:30:00.5Z"), "record.created_at", "whole"),
        (lambda d: d.update(created_at="2026-12-05T16:30:00+08:00"), "record.created_at", "UTC"),
        (lambda d: d.update(signature="AAAA"), "record.signature", "wrong length"),
        (lambda d: d.update(signature=d["signature"] + "="), "record.signature", "base64url"),
        (lambda d: d.update(kid="has space"), "record.kid", "invalid key id"),
        (lambda d: d.update(payload=[1]), "record.payload", "object"),
        (lambda d: d["payload"].pop("city"), "record.payload.city", "missing"),
        (lambda d: d["payload"].update(passed=31), "record.payload.passed", "out of range"),
        (lambda d: d["payload"].update(candidates=True), "record.payload.candidates", "count"),
        (
            lambda d: d["payload"].update(signed_off_at="2026-12-05 10:00"),
            "record.payload.signed_off_at",
            "time zone",
        ),
        (
            lambda d: d["payload"]["by_outcome"].update(pass_=-1),
            "record.payload.by_outcome.pass_",
            "count",
        ),
        (lambda d: d["payload"].update(session=" S1"), "record.payload.session", "padded"),
        (lambda d: d["payload"].update(attendance=float("nan")), "record.payload", ""),
    ],
)
def test_malformed_records_name_the_field(wire, trust, change, field, words):
    change(wire)
    with pytest.raises(ProtocolError) as caught:
        verify_record(wire, lookup(trust))
    assert caught.value.code == "malformed"
    assert caught.value.field == field
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("certificate", lambda p: p["signed_record"].update(kid="x y"), "payload.signed_record"),
        ("certificate", lambda p: p.update(token="令牌"), "payload.token"),
        (
            "revocation_request",
            lambda p: p.update(number="S0001 4403 0001 2640 00123"),
            "payload.number",
        ),
        (
            "revocation_request",
            lambda p: p.update(number="S00014403000126400012"),
            "payload.number",
        ),
        ("session_report", lambda p: p.update(timeline_digest="ABC"), "payload.timeline_digest"),
        ("station_key", lambda p: p.update(public_key="AAAA"), "payload.public_key"),
        ("station_key", lambda p: p.update(valid_from="2027-02-30"), "payload.valid_from"),
    ],
)
def test_payload_rules_per_kind(kind, change, field, station_key, other_key):
    payload = copy.deepcopy(payloads(station_key, other_key)[kind])
    change(payload)
    with pytest.raises(ProtocolError) as caught:
        sign_record(kind, payload, private_key=station_key, kid=kid_of(station_key))
    assert caught.value.field == field


def test_record_size_limit(station_key):
    big = {
        "session": "S1",
        "attendance": {"rows": ["x" * 1000] * (MAX_RECORD_BYTES // 1000 + 1)},
        "irregularities": 0,
        "timeline_digest": "0" * 64,
    }
    with pytest.raises(ProtocolError, match="record too large"):
        sign_record("session_report", big, private_key=station_key, kid=kid_of(station_key))
    big["attendance"] = {"rows": ["x" * 1000] * (MAX_RECORD_BYTES // 1000 - 2)}
    sign_record("session_report", big, private_key=station_key, kid=kid_of(station_key))


def test_record_payload_is_a_private_copy(station_key, other_key):
    payload = copy.deepcopy(payloads(station_key, other_key)["session_report"])
    record = sign_record(
        "session_report", payload, private_key=station_key, kid=kid_of(station_key)
    )
    payload["attendance"]["present"] = 0
    verify_record(record, lambda kid: station_key.public_key())


# --------------------------------------------------------------------------- trust list


def test_signed_trust_list_round_trip(trust, root_key):
    revoked = trust.with_revocation("S000144030001264000123", Revocation(T0, "以欺骗手段取得"))
    doc = sign_trust_list(revoked, root_key, root_kid(root_key.public_key()))
    wire = json.loads(json.dumps(doc))
    assert set(wire) == {"format", "kid", "trust_list", "signature"}
    assert wire["kid"].startswith("rg-")
    assert verify_signed_trust_list(wire, root_key.public_key()) == revoked


def test_signed_trust_list_refusals(trust, root_key):
    doc = sign_trust_list(trust, root_key, root_kid(root_key.public_key()))
    tampered = copy.deepcopy(doc)
    tampered["trust_list"]["keys"][0]["valid_until"] = "2026-06-30"
    with pytest.raises(BadSignatureError):
        verify_signed_trust_list(tampered, root_key.public_key())
    impostor = keys.generate()
    with pytest.raises(UnknownKeyError):
        verify_signed_trust_list(doc, impostor.public_key())
    forged = sign_trust_list(trust, impostor, root_kid(root_key.public_key()))
    with pytest.raises(BadSignatureError):
        verify_signed_trust_list(forged, root_key.public_key())
    with pytest.raises(ProtocolError, match="wrong fields"):
        verify_signed_trust_list({**doc, "note": "x"}, root_key.public_key())
    with pytest.raises(ValueError, match="issued_at"):
        sign_trust_list(TrustList(trust.keys.values()), root_key, "rg-x")


def test_trust_list_fields_unknown_to_this_version_are_signed_and_ignored(trust, root_key):
    kid = root_kid(root_key.public_key())
    doc = sign_trust_list(trust, root_key, kid)
    body = {**doc["trust_list"], "note": "from a newer registry"}
    from sync.protocol_keys import TRUST_LIST_CONTEXT

    message = TRUST_LIST_CONTEXT + rfc8785.dumps({"format": 1, "kid": kid, "trust_list": body})
    newer = {**doc, "trust_list": body, "signature": b64url_encode(root_key.sign(message))}
    assert verify_signed_trust_list(newer, root_key.public_key()) == trust
    with pytest.raises(BadSignatureError):
        verify_signed_trust_list({**doc, "trust_list": body}, root_key.public_key())


# --------------------------------------------------------------------------- enrollment


TOKEN = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPJQWEY3EMVTG"  # 32 bytes, base32


def test_enrollment_request_round_trip_and_proof(station_key, other_key):
    old = StationKey(kid_of(other_key), STATION, other_key.public_key(), dt.date(2025, 1, 1))
    active = StationKey(kid_of(station_key), STATION, station_key.public_key(), dt.date(2026, 1, 1))
    request = EnrollRequest.build(
        token=TOKEN,
        station_code=STATION,
        station_name="深圳市机械技工学校考核站",
        keys=[old, active],
        active_private_key=station_key,
    )
    wire = json.loads(json.dumps(request.to_dict()))
    assert wire["keys"][1]["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    parsed = parse_enroll_request(wire)
    assert parsed.keys == (old, active)
    proven = verify_enrollment_proof(
        parsed.proof, parsed.keys, token=parsed.token, station_code=parsed.station_code
    )
    assert proven == active
    with pytest.raises(BadSignatureError):
        verify_enrollment_proof(parsed.proof, parsed.keys, token=TOKEN, station_code="440302")
    with pytest.raises(BadSignatureError):
        verify_enrollment_proof(parsed.proof, parsed.keys, token=TOKEN[::-1], station_code=STATION)
    with pytest.raises(BadSignatureError):
        verify_enrollment_proof(parsed.proof, [old], token=TOKEN, station_code=STATION)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(token="short"), "token"),
        (lambda d: d.update(station_code=""), "station_code"),
        (lambda d: d["keys"][0].update(public_key="not pem"), "keys[0].public_key"),
        (lambda d: d["keys"][0].update(kid="two words"), "keys[0].kid"),
        (lambda d: d["keys"][0].update(valid_from="2026-13-01"), "keys[0]"),
        (lambda d: d.update(keys=[]), "keys"),
        (lambda d: d.update(keys=d["keys"] * 2), "keys"),
        (lambda d: d.update(proof="abc"), "proof"),
    ],
)
def test_enrollment_request_errors(station_key, change, field):
    active = StationKey(kid_of(station_key), STATION, station_key.public_key(), dt.date(2026, 1, 1))
    wire = EnrollRequest.build(
        token=TOKEN,
        station_code=STATION,
        station_name="站",
        keys=[active],
        active_private_key=station_key,
    ).to_dict()
    change(wire)
    with pytest.raises(ProtocolError) as caught:
        parse_enroll_request(wire)
    assert caught.value.field == field


def test_enrollment_response(trust, root_key):
    kid = root_kid(root_key.public_key())
    response = EnrollResponse(T0, kid, root_key.public_key(), sign_trust_list(trust, root_key, kid))
    parsed = parse_enroll_response(json.loads(json.dumps(response.to_dict())))
    assert parsed.root_kid == kid and parsed.trust_list() == trust
    with pytest.raises(ProtocolError, match="root_kid"):
        parse_enroll_response({**response.to_dict(), "root_kid": "rg-other"})
    other = keys.generate()
    wrong = {**response.to_dict(), "trust_list": sign_trust_list(trust, other, kid)}
    with pytest.raises(BadSignatureError):
        parse_enroll_response(wrong)


# --------------------------------------------------------------------------- key endorsement


def test_key_endorsement(station_key, other_key):
    current = StationKey(
        kid_of(station_key), STATION, station_key.public_key(), dt.date(2026, 1, 1)
    )
    payload = payloads(station_key, other_key)["station_key"]
    new = verify_key_endorsement(payload, current)
    assert new.kid == kid_of(other_key) and new.station_code == STATION
    assert new.valid_from == dt.date(2027, 1, 1) and new.valid_until is None
    with pytest.raises(BadSignatureError):
        verify_key_endorsement({**payload, "valid_from": "2027-01-02"}, current)
    stranger = StationKey(kid_of(other_key), STATION, other_key.public_key(), dt.date(2026, 1, 1))
    with pytest.raises(UnknownKeyError):
        verify_key_endorsement(payload, stranger)
    early = endorse_key(
        other_key.public_key(),
        new_kid=kid_of(other_key),
        valid_from=dt.date(2025, 1, 1),
        old_private_key=station_key,
        old_kid=kid_of(station_key),
    )
    with pytest.raises(ProtocolError, match="valid_from"):
        verify_key_endorsement(early, current)
    weak = endorse_key(  # the identity point: forged signatures would verify for any message
        Ed25519PublicKey.from_public_bytes(bytes([1]) + bytes(31)),
        new_kid="st-weak",
        valid_from=dt.date(2027, 1, 1),
        old_private_key=station_key,
        old_kid=kid_of(station_key),
    )
    with pytest.raises(ProtocolError, match="payload.public_key: .*small-order"):
        verify_key_endorsement(weak, current)


# --------------------------------------------------------------------------- clock


def test_estimate_offset():
    sent = T0
    received = T0 + dt.timedelta(seconds=2)
    server = T0 + dt.timedelta(seconds=31)  # stamped half-way: registry is 30 s ahead
    assert estimate_offset(sent, received, server) == dt.timedelta(seconds=30)
    behind = T0 - dt.timedelta(minutes=5)
    assert estimate_offset(sent, received, behind) == dt.timedelta(minutes=-5, seconds=-1)
    with pytest.raises(ValueError, match="received"):
        estimate_offset(received, sent, server)
    with pytest.raises(ValueError, match="aware"):
        estimate_offset(sent.replace(tzinfo=None), received, server)


# --------------------------------------------------------------------------- push


def test_push_exchange_with_per_record_results(station_key, other_key, trust):
    """A registry-side pass over one batch: each record judged alone, results in order."""
    samples = payloads(station_key, other_key)
    good = sign_record(
        "certificate", samples["certificate"], private_key=station_key, kid=kid_of(station_key)
    )
    tampered = sign_record(
        "session_report",
        samples["session_report"],
        private_key=station_key,
        kid=kid_of(station_key),
    ).to_dict()
    tampered["payload"]["irregularities"] = 3
    stranger = keys.generate()
    unknown = sign_record(
        "session_report", samples["session_report"], private_key=stranger, kid=kid_of(stranger)
    )
    broken = {"id": str(uuid.uuid4()), "kind": "certificate"}
    request = PushRequest(
        str(uuid.uuid4()), (good.to_dict(), tampered, unknown.to_dict(), broken, {"x": 1})
    )
    parsed = parse_push_request(json.loads(json.dumps(request.to_dict())))

    results = []
    for raw in parsed.records:
        rid = raw.get("id") if isinstance(raw.get("id"), str) else None
        try:
            verify_record(raw, lookup(trust))
        except ProtocolError as exc:
            results.append(PushResult(rid, "rejected", reason=reason_for(exc)))
        else:
            results.append(PushResult(rid, "accepted", receipt={"leaf_index": 0}))
    response = PushResponse(T0, tuple(results), tree_head={"tree_size": 1})
    back = parse_push_response(json.loads(json.dumps(response.to_dict())), sent=parsed)
    assert [r.status for r in back.results] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert [r.reason_code for r in back.results] == [
        None,
        "bad_signature",
        "unknown_key",
        "malformed",
        "malformed",
    ]
    assert back.results[3].reason.startswith("malformed: record.format: ")
    assert back.results[4].id is None
    assert back.tree_head == {"tree_size": 1}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"batch": "B1", "records": [{}]}, "batch"),
        ({"batch": str(uuid.uuid4()), "records": []}, "records"),
        ({"batch": str(uuid.uuid4()), "records": [{}] * 201}, "records"),
        ({"batch": str(uuid.uuid4()), "records": [{}, "x"]}, "records[1]"),
    ],
)
def test_push_request_errors(body, field):
    with pytest.raises(ProtocolError) as caught:
        parse_push_request(body)
    assert caught.value.field == field


def test_push_response_errors():
    ids = [str(uuid.uuid4()) for _ in range(3)]
    sent = PushRequest(str(uuid.uuid4()), tuple({"id": i} for i in ids))
    good = PushResponse(
        T0,
        (
            PushResult(ids[0], "accepted", receipt={}),
            PushResult(ids[1], "duplicate", receipt={"leaf_index": 4}),
            PushResult(ids[2], "rejected", reason="conflict: number already recorded"),
        ),
    ).to_dict()
    assert parse_push_response(good, sent=sent).results[1].receipt == {"leaf_index": 4}

    def broken(change):
        body = copy.deepcopy(good)
        change(body)
        with pytest.raises(ProtocolError) as caught:
            parse_push_response(body, sent=sent)
        return caught.value.field

    assert broken(lambda b: b["results"].reverse()) == "results[0].id"
    assert broken(lambda b: b["results"].pop()) == "results"
    assert broken(lambda b: b["results"][2].pop("reason")) == "results[2].reason"
    assert broken(lambda b: b["results"][2].update(reason="Bad Reason")) == "results[2].reason"
    assert broken(lambda b: b["results"][0].pop("receipt")) == "results[0].receipt"
    assert broken(lambda b: b["results"][0].update(status="ok")) == "results[0].status"
    assert broken(lambda b: b.update(server_time="yesterday")) == "server_time"


# --------------------------------------------------------------------------- feed


def feed_events(trust, root_key) -> list[dict]:
    return [
        {"seq": 17, "kind": "revocation", "at": "2027-03-01T02:00:00Z",
         "payload": {"number": "S000144030001264000123", "revoked_at": "2027-03-01T02:00:00Z",
                     "reason": "以欺骗手段取得", "origin": "province"}},
        {"seq": 18, "kind": "trust_list", "payload": sign_trust_list(trust, root_key, root_kid(root_key.public_key()))},
        {"seq": 19, "kind": "message", "payload": {"title": "通知", "body": "第一行\n第二行"}},
        {"seq": 20, "kind": "bank_release",
         "payload": {"bank": "IRAP-4", "version": "2026.2", "package_url": "https://registry.example/banks/IRAP-4-2026.2.skb",
                     "sha256": "a" * 64, "release_code": "S20261205-03:k1"}},
    ]  # fmt: skip


def test_feed_round_trip(trust, root_key):
    body = {"server_time": "2027-03-01T02:00:05Z", "next": "20", "more": False,
            "events": feed_events(trust, root_key)}  # fmt: skip
    feed = parse_feed_response(json.loads(json.dumps(body)))
    assert [e.seq for e in feed.events] == [17, 18, 19, 20]
    assert feed.events[0].at == dt.datetime(2027, 3, 1, 2, tzinfo=dt.UTC)
    assert verify_signed_trust_list(feed.events[1].payload, root_key.public_key()) == trust
    again = FeedResponse(feed.server_time, feed.next, feed.more, feed.events).to_dict()
    assert parse_feed_response(again) == feed


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda e: e[1].update(seq=17), "events[1].seq", "out of order"),
        (lambda e: e[0].update(seq=0), "events[0].seq", "positive"),
        (lambda e: e[2].update(kind="exam_paper"), "events[2].kind", "请升级"),
        (lambda e: e[0]["payload"].update(number="X"), "events[0].payload.number", ""),
        (lambda e: e[1]["payload"].pop("signature"), "events[1].payload.signature", "missing"),
        (lambda e: e[2]["payload"].update(title="a\nb"), "events[2].payload.title", "control"),
        (lambda e: e[3]["payload"].update(sha256="xyz"), "events[3].payload.sha256", "SHA-256"),
        (lambda e: e[3].update(at="soon"), "events[3].at", "ISO 8601"),
    ],
)
def test_feed_errors(trust, root_key, change, field, words):
    events = feed_events(trust, root_key)
    change(events)
    body = {"server_time": "2027-03-01T02:00:05Z", "next": "20", "more": True, "events": events}
    with pytest.raises(ProtocolError) as caught:
        parse_feed_response(body)
    assert caught.value.field == field and words in str(caught.value)


def test_feed_query():
    assert parse_feed_query({}).limit == 100 and parse_feed_query({}).after is None
    assert parse_feed_query({"after": "17", "limit": "500"}).limit == 500
    for args, field in [({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"),
                        ({"limit": "-1"}, "limit"), ({"after": "a b"}, "after")]:  # fmt: skip
        with pytest.raises(ProtocolError) as caught:
            parse_feed_query(args)
        assert caught.value.field == field


def test_feed_event_requires_known_kind():
    with pytest.raises(ProtocolError, match="unknown event kind"):
        FeedEvent(1, "exam_paper", {})


def test_error_response_round_trip():
    body = ErrorResponse("stale", "created is -400 s", T0).to_dict()
    assert body == {
        "error": "stale",
        "message": "created is -400 s",
        "server_time": "2026-12-05T08:30:00Z",
    }
    assert parse_error_response(body).server_time == T0
    with pytest.raises(ProtocolError):
        parse_error_response({"error": "Not A Code"})


def test_a_bank_release_may_come_without_a_release_code(trust, root_key):
    events = feed_events(trust, root_key)
    events[3]["payload"]["release_code"] = None  # a plain bank, or a code not yet released
    body = {"server_time": "2027-03-01T02:00:05Z", "next": "20", "more": False, "events": events}
    assert parse_feed_response(body).events[3].payload["release_code"] is None
    events[3]["payload"]["release_code"] = 42
    with pytest.raises(ProtocolError, match="release_code"):
        parse_feed_response(body)
