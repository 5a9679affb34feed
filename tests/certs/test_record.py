"""Certificate records: validation, RFC 8785 canonical form, signing, tampering, key windows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import pytest
import rfc8785

from certs import keys
from certs.identity import IdType
from certs.record import (
    SIGNING_CONTEXT,
    BadRecordSignatureError,
    CertificateRecord,
    InvalidRecordError,
    RecordError,
    RecordKeyNotValidError,
    SignedRecord,
    UnknownRecordKeyError,
    UnknownRecordVersionError,
    canonical_bytes,
    sign_record,
    verify_record,
)
from certs.trust import StationKey, TrustList
from tests.certs.station_keys import kid_of

FULL_ID = "11010519900307101X"
PHOTO = hashlib.sha256(b"photo bytes").hexdigest()


@pytest.fixture(scope="module")
def trust(old_key, new_key) -> TrustList:
    return TrustList(
        [
            StationKey(
                kid_of(old_key),
                "ST440301",
                old_key.public_key(),
                dt.date(2025, 1, 1),
                dt.date(2026, 6, 30),
            ),
            StationKey(kid_of(new_key), "ST440301", new_key.public_key(), dt.date(2026, 6, 30)),
        ]
    )


def record(kid: str, /, **changes) -> CertificateRecord:
    fields = {
        "holder_name": "欧阳娜",
        "id_type": IdType.resident_id,
        "id_number": FULL_ID,
        "occupation": "工业机器人系统操作员",
        "occupation_code": "6-31-01-10",
        "direction": "",
        "level": "四级/中级工",
        "issuer": "广东省机械行业职业技能鉴定中心",
        "issue_date": dt.date(2026, 12, 5),
        "number": "S000144030001264000123",
        "photo_sha256": PHOTO,
        "programme_code": "IRAP",
        "programme_name": "工业机器人应用编程",
        "session_code": "S20261205-03",
        "theory_score": 87.5,
        "practical_score": 90,
        "review_score": None,
        "station_code": "ST440301",
        "kid": kid,
    }
    fields.update(changes)
    return CertificateRecord(**fields)


# --------------------------------------------------------------------------- signing


def test_sign_and_verify(new_key, trust):
    original = record(kid_of(new_key))
    signed = sign_record(original, new_key)
    assert signed.kid == original.kid and len(signed.signature) == 64
    assert verify_record(signed, trust) == original
    new_key.public_key().verify(signed.signature, SIGNING_CONTEXT + canonical_bytes(original))


def test_json_round_trip_keeps_the_signature_valid(new_key, trust):
    signed = sign_record(record(kid_of(new_key)), new_key)
    wire = json.dumps(signed.to_dict(), ensure_ascii=False)
    again = SignedRecord.from_dict(json.loads(wire))
    assert again == signed
    assert verify_record(again, trust) == signed.record
    # A re-serialisation with other key order and \u escapes is still the same record.
    scrambled = json.loads(json.dumps(dict(reversed(json.loads(wire).items()))))
    assert verify_record(SignedRecord.from_dict(scrambled), trust) == signed.record


def test_normalisation(new_key):
    r = record(
        kid_of(new_key),
        id_type="身份证",
        id_number="11010519900307101x",
        number="s000144030001264000123",
        practical_score=90,
    )
    assert r.id_type is IdType.resident_id
    assert r.id_number == FULL_ID
    assert r.number == "S000144030001264000123"
    assert r.practical_score == 90.0 and isinstance(r.practical_score, float)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("holder_name", "欧阳娜娜"),
        ("id_number", "110105199003071247"),  # another valid number
        ("occupation", "工业机器人系统运维员"),
        ("direction", "运维"),
        ("level", "中级"),
        ("issue_date", dt.date(2026, 12, 6)),
        ("number", "S000144030001264000124"),
        ("photo_sha256", hashlib.sha256(b"another photo").hexdigest()),
        ("photo_sha256", None),
        ("theory_score", 88.0),
        ("review_score", 60.0),
        ("station_code", "ST440302"),
        ("session_code", "S20261205-04"),
    ],
)
def test_every_changed_field_breaks_the_signature(field, value, new_key, trust):
    signed = sign_record(record(kid_of(new_key)), new_key)
    changed = dataclasses.replace(signed.record, **{field: value})
    tampered = SignedRecord(changed, signed.kid, signed.signature)
    with pytest.raises(BadRecordSignatureError, match="签名无效") as info:
        verify_record(tampered, trust)
    assert info.value.code == "bad_signature"


def test_tampered_json_is_refused(new_key, trust):
    data = sign_record(record(kid_of(new_key)), new_key).to_dict()
    data["record"]["theory_score"] = 97.5
    with pytest.raises(BadRecordSignatureError):
        verify_record(SignedRecord.from_dict(data), trust)


def test_every_flipped_signature_bit_is_refused(new_key, trust):
    signed = sign_record(record(kid_of(new_key)), new_key)
    for index in range(64):
        for bit in range(8):
            sig = bytearray(signed.signature)
            sig[index] ^= 1 << bit
            with pytest.raises(BadRecordSignatureError):
                verify_record(SignedRecord(signed.record, signed.kid, bytes(sig)), trust)


def test_unknown_key(trust):
    stranger = keys.generate()
    signed = sign_record(record(kid_of(stranger)), stranger)
    with pytest.raises(UnknownRecordKeyError, match="未知密钥") as info:
        verify_record(signed, trust)
    assert info.value.code == "unknown_key"


def test_kid_mismatch_and_impostor(old_key, new_key, trust):
    signed = sign_record(record(kid_of(new_key)), new_key)
    relabelled = SignedRecord(signed.record, kid_of(old_key), signed.signature)
    with pytest.raises(BadRecordSignatureError, match="密钥编号不一致"):
        verify_record(relabelled, trust)
    impostor = keys.generate()
    forged = sign_record(record(kid_of(new_key)), impostor)  # claims the station's kid
    with pytest.raises(BadRecordSignatureError):
        verify_record(forged, trust)


def test_signature_without_context_is_refused(new_key, trust):
    r = record(kid_of(new_key))
    bare = SignedRecord(r, r.kid, new_key.sign(canonical_bytes(r)))
    with pytest.raises(BadRecordSignatureError):
        verify_record(bare, trust)


def test_key_rotation(old_key, new_key, trust):
    old_record = record(
        kid_of(old_key), issue_date=dt.date(2026, 3, 1), number="S000144030001264000001"
    )
    assert verify_record(sign_record(old_record, old_key), trust) == old_record
    on_the_day = dataclasses.replace(old_record, issue_date=dt.date(2026, 6, 30))
    assert verify_record(sign_record(on_the_day, old_key), trust) == on_the_day
    late = dataclasses.replace(old_record, issue_date=dt.date(2026, 7, 1))
    with pytest.raises(RecordKeyNotValidError, match="有效期为 2025-01-01 至 2026-06-30") as info:
        verify_record(sign_record(late, old_key), trust)
    assert info.value.code == "key_not_valid"
    early = record(kid_of(new_key), issue_date=dt.date(2026, 6, 1), number="S000144030001264000002")
    with pytest.raises(RecordKeyNotValidError):
        verify_record(sign_record(early, new_key), trust)


# --------------------------------------------------------------------------- canonical form


def test_canonical_form_is_rfc8785(new_key):
    r = record(kid_of(new_key))
    data = canonical_bytes(r)
    text = data.decode("utf-8")
    assert data == rfc8785.dumps(json.loads(json.dumps(r.to_dict(), ensure_ascii=True)))
    assert data == rfc8785.dumps(dict(reversed(r.to_dict().items())))  # insertion order is moot
    keys_in_order = list(json.loads(text))
    assert keys_in_order == sorted(keys_in_order)  # members sorted by UTF-16 code units
    assert " " not in text and "\n" not in text  # no whitespace between tokens
    assert '"holder_name":"欧阳娜"' in text  # raw UTF-8, not \\u escapes
    assert '"practical_score":90,' in text  # 90.0 is written as 90
    assert '"theory_score":87.5' in text
    assert '"review_score":null' in text
    assert text.startswith('{"direction":"","format":1,"holder_name"')


def test_canonical_form_of_a_known_record_is_stable():
    """Pinned bytes: any change to the record's JSON shape must be a new format version."""
    r = record("st-testkid00")
    expected = (
        '{"direction":"","format":1,"holder_name":"欧阳娜","id_number":"11010519900307101X",'
        '"id_type":"resident_id","issue_date":"2026-12-05","issuer":"广东省机械行业职业技能鉴定中心",'
        '"kid":"st-testkid00","level":"四级/中级工","number":"S000144030001264000123",'
        '"occupation":"工业机器人系统操作员","occupation_code":"6-31-01-10",'
        f'"photo_sha256":"{PHOTO}","practical_score":90,"programme_code":"IRAP",'
        '"programme_name":"工业机器人应用编程","review_score":null,"session_code":"S20261205-03",'
        '"station_code":"ST440301","theory_score":87.5}'
    )
    assert canonical_bytes(r) == expected.encode("utf-8")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"holder_name": ""}, "holder_name: 不能为空"),
        ({"holder_name": " 张三"}, "holder_name: 不能为空，首尾不能有空格"),
        ({"holder_name": "张\t三"}, "holder_name: 含有控制字符"),
        ({"holder_name": "张" * 51}, "holder_name: 共 51 个字符"),
        ({"occupation": 7}, "occupation: 应为文本"),
        ({"issuer": ""}, "issuer"),
        ({"id_type": "驾驶证"}, "id_number: 无法识别的证件类型"),
        ({"id_number": "110105199003071234"}, "id_number: 校验位应为 9"),
        ({"id_number": None}, "id_number: 应为文本"),
        ({"issue_date": "2026-12-05"}, "issue_date: 应为日期"),
        ({"issue_date": dt.datetime(2026, 12, 5, 9)}, "issue_date: 应为日期"),
        ({"number": "S0001"}, "number/level: 证书编号应为 22 位"),
        ({"level": "特级技师"}, "number/level: 特级技师"),
        ({"issue_date": dt.date(2027, 1, 2)}, "年份 2026 与发证日期 2027-01-02 不符"),
        ({"level": "高级技师"}, "等级代码 4 与等级“高级技师”（1）不符"),
        ({"photo_sha256": "ABC"}, "photo_sha256"),
        ({"photo_sha256": PHOTO.upper()}, "photo_sha256"),
        ({"theory_score": -1}, "theory_score: 成绩 -1 不在 0–100"),
        ({"practical_score": 100.5}, "practical_score"),
        ({"review_score": float("nan")}, "review_score"),
        ({"theory_score": True}, "theory_score: 成绩应为数字"),
        ({"theory_score": "90"}, "theory_score: 成绩应为数字"),
        ({"kid": "bad kid"}, "密钥编号"),
    ],
)
def test_validation_names_the_field(changes, message):
    with pytest.raises(InvalidRecordError, match=message) as info:
        record("st-testkid00", **changes)
    assert info.value.code == "malformed"


def test_one_plus_x_level_and_empty_direction_are_fine():
    r = record("st-testkid00", level="中级", direction="")
    assert r.level == "中级"


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda d: d.update(format=2), UnknownRecordVersionError, "格式版本 2 不受支持"),
        (lambda d: d["record"].update(format=2), UnknownRecordVersionError, "record.format"),
        (lambda d: d.pop("format"), InvalidRecordError, "缺少或无效的格式版本"),
        (lambda d: d.update(kid=""), InvalidRecordError, "signed record.kid"),
        (lambda d: d.update(signature="AAAA"), InvalidRecordError, "86 个字符"),
        (lambda d: d.update(signature=d["signature"][:-1] + "B"), InvalidRecordError, "非规范"),
        (lambda d: d.update(record=[]), InvalidRecordError, "record: 应为对象"),
        (lambda d: d["record"].pop("station_code"), InvalidRecordError, "缺少字段 station_code"),
        (lambda d: d["record"].update(extra=1), InvalidRecordError, "未知字段 extra"),
        (lambda d: d["record"].update(issue_date="2026-02-30"), InvalidRecordError, "不存在"),
        (lambda d: d["record"].update(issue_date=20261205), InvalidRecordError, "YYYY-MM-DD"),
    ],
)
def test_signed_record_json_refusals(mutate, error, message, new_key):
    data = sign_record(record(kid_of(new_key)), new_key).to_dict()
    mutate(data)
    with pytest.raises(error, match=message):
        SignedRecord.from_dict(data)


def test_all_record_errors_share_a_base():
    for cls in (
        InvalidRecordError,
        UnknownRecordVersionError,
        UnknownRecordKeyError,
        RecordKeyNotValidError,
        BadRecordSignatureError,
    ):
        assert issubclass(cls, RecordError)
