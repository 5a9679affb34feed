"""The trust list: validity windows, revocations, JSON round trips and every refusal."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
import rfc8785

from certs import keys
from certs.trust import FORMAT, Revocation, StationKey, TrustList, TrustListError

NUMBER = "S000144030001265000123"
REVOKED_AT = dt.datetime(2027, 3, 1, 2, 0, tzinfo=dt.UTC)


def station_key(private, *, valid_from, valid_until=None, station="ST440301") -> StationKey:
    public = private.public_key()
    return StationKey(
        kid=keys.key_id(public, "st-"),
        station_code=station,
        public_key=public,
        valid_from=valid_from,
        valid_until=valid_until,
    )


@pytest.fixture(scope="module")
def rotated(old_key, new_key) -> TrustList:
    return TrustList(
        [
            station_key(new_key, valid_from=dt.date(2026, 7, 1)),
            station_key(old_key, valid_from=dt.date(2025, 1, 1), valid_until=dt.date(2026, 7, 1)),
        ],
        {NUMBER: Revocation(REVOKED_AT, "以欺骗手段取得证书")},
        issued_at=dt.datetime(2027, 3, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )


def test_validity_window_is_inclusive(old_key):
    key = station_key(old_key, valid_from=dt.date(2025, 1, 1), valid_until=dt.date(2026, 7, 1))
    assert not key.valid_on(dt.date(2024, 12, 31))
    assert key.valid_on(dt.date(2025, 1, 1))
    assert key.valid_on(dt.date(2026, 7, 1))
    assert not key.valid_on(dt.date(2026, 7, 2))
    open_ended = station_key(old_key, valid_from=dt.date(2025, 1, 1))
    assert open_ended.valid_on(dt.date(2099, 1, 1))


def test_lookups(rotated, old_key, new_key):
    old_kid = keys.key_id(old_key.public_key(), "st-")
    new_kid = keys.key_id(new_key.public_key(), "st-")
    assert rotated.get(old_kid).valid_until == dt.date(2026, 7, 1)
    assert rotated.get("st-nosuchkey") is None
    assert set(rotated.public_keys()) == {old_kid, new_kid}
    assert [k.kid for k in rotated.keys_of("ST440301")] == [old_kid, new_kid]  # oldest first
    assert rotated.keys_of("ST000000") == []
    assert rotated.revocation(NUMBER).reason == "以欺骗手段取得证书"
    assert rotated.revocation("S000144030001265000124") is None
    assert rotated.issued_at == dt.datetime(2027, 3, 2, 0, 0, tzinfo=dt.UTC)  # stored in UTC


def test_json_round_trip(rotated):
    text = rotated.dumps()
    assert "以欺骗手段取得证书" in text  # readable, not \\u-escaped
    again = TrustList.loads(text)
    assert again == rotated
    assert again.dumps() == text
    data = json.loads(text)
    assert data["format"] == FORMAT == 1
    assert data["issued_at"] == "2027-03-02T00:00:00Z"
    assert [k["kid"] for k in data["keys"]] == sorted(k["kid"] for k in data["keys"])
    assert data["revocations"] == [
        {"number": NUMBER, "revoked_at": "2027-03-01T02:00:00Z", "reason": "以欺骗手段取得证书"}
    ]
    assert len(data["keys"][0]["public_key"]) == 43  # 32 bytes, base64url, no padding


def test_canonical_bytes_are_jcs_and_order_independent(rotated):
    shuffled = TrustList(
        list(reversed(list(rotated.keys.values()))),
        dict(rotated.revocations),
        issued_at=rotated.issued_at,
    )
    assert shuffled.canonical_bytes() == rotated.canonical_bytes()
    assert rotated.canonical_bytes() == rfc8785.dumps(json.loads(rotated.dumps()))


def test_unknown_fields_are_ignored_and_revocations_optional(rotated):
    data = rotated.to_dict()
    data["signature_hint"] = "later"
    data["keys"][0]["comment"] = "主机房"
    del data["revocations"]
    loaded = TrustList.from_dict(data)
    assert loaded.keys == rotated.keys
    assert loaded.revocations == {}


def test_with_key_and_with_revocation(rotated, new_key):
    new_kid = keys.key_id(new_key.public_key(), "st-")
    closed = rotated.with_key(
        station_key(new_key, valid_from=dt.date(2026, 7, 1), valid_until=dt.date(2027, 1, 1))
    )
    assert closed.get(new_kid).valid_until == dt.date(2027, 1, 1)
    assert rotated.get(new_kid).valid_until is None  # the original is unchanged
    more = rotated.with_revocation("s000144030001265000124", Revocation(REVOKED_AT, "证书信息有误"))
    assert more.revocation("S000144030001265000124").reason == "证书信息有误"
    assert len(more.revocations) == 2 and len(rotated.revocations) == 1


def test_duplicate_kid_is_refused(old_key):
    key = station_key(old_key, valid_from=dt.date(2025, 1, 1))
    with pytest.raises(TrustListError, match="keys\\[1\\].kid: 密钥编号 .* 重复"):
        TrustList([key, key])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kid": ""}, "密钥编号"),
        ({"kid": "has space"}, "密钥编号"),
        ({"kid": "k" * 33}, "密钥编号"),
        ({"station_code": ""}, "station_code"),
        ({"station_code": "ST\n1"}, "控制字符"),
        ({"public_key": "not a key"}, "Ed25519 公钥"),
        ({"valid_from": dt.datetime(2026, 1, 1)}, "valid_from: 应为日期"),
        ({"valid_until": dt.date(2024, 1, 1)}, "早于"),
    ],
)
def test_station_key_refusals(changes, message, old_key):
    fields = {
        "kid": "st-abc",
        "station_code": "ST440301",
        "public_key": old_key.public_key(),
        "valid_from": dt.date(2025, 1, 1),
        "valid_until": None,
    }
    fields.update(changes)
    with pytest.raises(TrustListError, match=message):
        StationKey(**fields)


def test_revocation_refusals():
    with pytest.raises(TrustListError, match="带时区"):
        Revocation(dt.datetime(2027, 3, 1), "原因")
    with pytest.raises(TrustListError, match="reason"):
        Revocation(REVOKED_AT, "")
    with pytest.raises(TrustListError, match="第 16 位等级代码"):
        TrustList([], {"S000144030001269000123": Revocation(REVOKED_AT, "原因")})


def _broken(rotated, path, value):
    data = copy.deepcopy(rotated.to_dict())
    target = data
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("format",), 2, "格式版本 2 不受支持"),
        (("format",), "1", "format: 缺少或无效"),
        (("format",), KeyError, "format: 缺少或无效"),
        (("keys",), {}, "keys: 应为数组"),
        (("keys", 0), "x", "keys\\[0\\]: 应为对象"),
        (("keys", 0, "kid"), 7, "keys\\[0\\].kid"),
        (("keys", 1, "public_key"), "AAAA", "keys\\[1\\].public_key: Ed25519 公钥应为 32 字节"),
        (("keys", 1, "public_key"), "@@@", "keys\\[1\\].public_key: 不是有效的 base64url"),
        (("keys", 0, "valid_from"), "2026-02-30", "keys\\[0\\].valid_from: 日期 2026-02-30 不存在"),
        (("keys", 0, "valid_from"), "20260101", "keys\\[0\\].valid_from: 应为 YYYY-MM-DD"),
        (("keys", 0, "station_code"), KeyError, "keys\\[0\\].station_code"),
        (("revocations",), "none", "revocations: 应为数组"),
        (("revocations", 0, "number"), "S123", "revocations\\[0\\].number: 证书编号应为 22 位"),
        (("revocations", 0, "revoked_at"), "2027-03-01T02:00:00", "缺少时区"),
        (("revocations", 0, "revoked_at"), "yesterday", "无效的时间"),
        (("revocations", 0, "reason"), "", "revocations\\[0\\].reason"),
        (("issued_at",), 12, "issued_at: 应为 ISO 8601"),
    ],
)
def test_json_refusals_name_the_field(rotated, path, value, message):
    with pytest.raises(TrustListError, match=message):
        TrustList.from_dict(_broken(rotated, path, value))


def test_duplicate_revocation_in_json_is_refused(rotated):
    data = rotated.to_dict()
    data["revocations"] = data["revocations"] * 2
    with pytest.raises(TrustListError, match="revocations\\[1\\].number: 证书编号 .* 重复"):
        TrustList.from_dict(data)


@pytest.mark.parametrize("text", ["", "{", "[]", "null", b"\xff\xfe"])
def test_not_a_trust_list(text):
    with pytest.raises(TrustListError):
        TrustList.loads(text)
