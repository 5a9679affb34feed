"""Verifiable Credentials with eddsa-jcs-2022: the W3C test vectors byte for byte, then sign and
verify round trips, every refusal of :func:`certs.vc.verify_proof`, did:key, base58btc and the
certificate credential builder."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certs.identity import mask_id
from certs.multibase import (
    DidKeyError,
    MultibaseError,
    b58decode,
    b58encode,
    decode_multikey,
    encode_multikey,
    multibase_decode,
    multibase_encode,
    private_key_from_multibase,
    private_key_multibase,
    public_key_from_multibase,
    public_key_multibase,
    varint_decode,
    varint_encode,
)
from certs.vc import (
    CREDENTIALS_V2,
    BadSignatureError,
    ContextMismatchError,
    CredentialClaimsError,
    MalformedProofError,
    ProofExpiredError,
    ProofGenerationError,
    ProofPurposeError,
    ProofVerificationError,
    UnsupportedCryptosuiteError,
    VerificationMethodError,
    add_proof,
    canonical_document,
    canonical_proof_config,
    did_key_from_public,
    hash_data,
    public_from_did_key,
    verification_method_for,
    verify_proof,
)
from certs.vc_credential import certificate_credential

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "vc-di-eddsa"
needs_vectors = pytest.mark.skipif(
    not (VECTORS / "signedJCS.json").is_file(),
    reason=f"the W3C eddsa-jcs-2022 test vectors are not checked out at {VECTORS}",
)
CREATED = "2026-12-05T08:00:00Z"


def _json(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _text(name: str) -> str:
    """A .txt vector exactly as stored (the W3C files end without a newline)."""
    return (VECTORS / name).read_bytes().decode("ascii")


@pytest.fixture(scope="module")
def vector_key() -> Ed25519PrivateKey:
    return private_key_from_multibase(_json("keyPair.json")["privateKeyMultibase"])


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


CLAIMS: dict[str, Any] = {
    "certificate_number": "S000144030001265000123",
    "holder_name": "欧阳娜娜",
    "id_type": "居民身份证",
    "masked_id": mask_id("11010519491231002X"),
    "occupation": "电工",
    "occupation_code": "6-31-01-03",
    "level": "五级",
    "issue_date": "2026-12-05",
    "issuing_body": "广东省职业技能鉴定指导中心",
}


def _credential(key: Ed25519PrivateKey, **changes: Any) -> dict[str, Any]:
    return certificate_credential(
        {**CLAIMS, **changes},
        issuer_did=did_key_from_public(key.public_key()),
        credential_id="urn:uuid:0d4b8f2e-7c1a-4b8e-9f3d-2a6c5e8b1f40",
        valid_from=dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.UTC),
    )


def _signed(key: Ed25519PrivateKey, document: dict[str, Any] | None = None) -> dict[str, Any]:
    return add_proof(
        document if document is not None else _credential(key),
        key,
        verification_method=verification_method_for(key.public_key()),
        created=CREATED,
    )


# --------------------------------------------------------------------------- W3C vectors


@needs_vectors
def test_key_pair_vector(vector_key: Ed25519PrivateKey) -> None:
    pair = _json("keyPair.json")
    assert public_key_multibase(vector_key.public_key()) == pair["publicKeyMultibase"]
    assert private_key_multibase(vector_key) == pair["privateKeyMultibase"]
    assert did_key_from_public(vector_key.public_key()) == "did:key:" + pair["publicKeyMultibase"]


@needs_vectors
def test_every_intermediate_value_of_the_jcs_vector(vector_key: Ed25519PrivateKey) -> None:
    unsigned = _json("unsigned.json")
    before = copy.deepcopy(unsigned)
    secured = add_proof(
        unsigned,
        vector_key,
        verification_method=_json("proofConfigJCS.json")["verificationMethod"],
        created="2023-02-24T23:36:38Z",
    )
    assert unsigned == before  # the input is not modified

    options = {k: v for k, v in secured["proof"].items() if k != "proofValue"}
    expected_options = _json("proofConfigJCS.json")
    assert options == expected_options
    assert list(options) == list(expected_options)

    canon_doc = canonical_document(unsigned)
    canon_config = canonical_proof_config(options)
    assert canon_doc == (VECTORS / "canonDocJCS.txt").read_bytes()
    assert canon_config == (VECTORS / "proofCanonJCS.txt").read_bytes()
    assert hashlib.sha256(canon_doc).hexdigest() == _text("docHashJCS.txt")
    assert hashlib.sha256(canon_config).hexdigest() == _text("proofHashJCS.txt")
    combined = hash_data(canon_config, canon_doc)
    assert combined.hex() == _text("combinedHashJCS.txt")
    signature = vector_key.sign(combined)
    assert signature.hex() == _text("sigHexJCS.txt")
    assert multibase_encode(signature) == _text("sigBTC58JCS.txt")
    assert multibase_decode(_text("sigBTC58JCS.txt")) == bytes.fromhex(_text("sigHexJCS.txt"))
    assert secured["proof"]["proofValue"] == _text("sigBTC58JCS.txt")

    assert secured == _json("signedJCS.json")
    written = json.dumps(secured, indent=2, ensure_ascii=False).encode("utf-8")
    assert written == (VECTORS / "signedJCS.json").read_bytes()


@needs_vectors
def test_signed_vector_verifies_and_its_tampered_copy_does_not() -> None:
    signed = _json("signedJCS.json")
    assert verify_proof(signed) is True
    signed["credentialSubject"]["alumniOf"] = "The School of Counterfeits"
    with pytest.raises(BadSignatureError, match="signature does not match"):
        verify_proof(signed)


# --------------------------------------------------------------------------- round trips


def test_round_trip_certificate_credential(key: Ed25519PrivateKey) -> None:
    credential = _credential(key)
    signed = _signed(key, credential)
    assert "proof" not in credential
    assert signed["proof"]["@context"] == [CREDENTIALS_V2]
    assert verify_proof(signed, expected_controller=signed["issuer"]) is True
    # JCS keeps the Chinese text as UTF-8, not \u escapes.
    assert "欧阳娜娜".encode() in canonical_document(credential)


def test_created_datetime_is_written_in_utc(key: Ed25519PrivateKey) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    signed = add_proof(
        _credential(key),
        key,
        verification_method=verification_method_for(key.public_key()),
        created=dt.datetime(2026, 12, 5, 16, 30, 15, 999, tzinfo=shanghai),
    )
    assert signed["proof"]["created"] == "2026-12-05T08:30:15Z"
    assert verify_proof(signed)


def test_other_verification_methods_use_the_resolver(key: Ed25519PrivateKey) -> None:
    method = "https://registry.example/keys/st-abcdefghij"
    signed = add_proof(_credential(key), key, verification_method=method, created=CREATED)
    assert verify_proof(signed, resolve={method: key.public_key()}.__getitem__)
    with pytest.raises(VerificationMethodError, match="无法解析"):
        verify_proof(signed)  # the default resolver only knows did:key
    with pytest.raises(VerificationMethodError):
        verify_proof(signed, resolve={}.__getitem__)  # KeyError -> unknown method


def test_authentication_purpose(key: Ed25519PrivateKey) -> None:
    signed = add_proof(
        {"challenge": "abc"},  # no @context: the proof has none either
        key,
        verification_method=verification_method_for(key.public_key()),
        created=CREATED,
        proof_purpose="authentication",
    )
    assert "@context" not in signed["proof"]
    assert verify_proof(signed, expected_proof_purpose="authentication")
    with pytest.raises(ProofPurposeError, match="assertionMethod"):
        verify_proof(signed)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("credentialSubject", "name"), "欧阳娜"),
        (("credentialSubject", "levelCode"), 4),
        (("validFrom",), "2025-12-05T08:00:00Z"),
        (("proof", "created"), "2026-12-06T08:00:00Z"),
    ],
)
def test_tampering_is_detected(key: Ed25519PrivateKey, path: tuple[str, ...], value: Any) -> None:
    signed = _signed(key)
    target = signed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(BadSignatureError):
        verify_proof(signed)


def test_added_field_is_detected(key: Ed25519PrivateKey) -> None:
    signed = _signed(key)
    signed["validUntil"] = "2030-01-01T00:00:00Z"
    with pytest.raises(BadSignatureError):
        verify_proof(signed)


def test_wrong_key_is_refused(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    signed = _signed(key)
    signed["proof"]["verificationMethod"] = verification_method_for(other.public_key())
    with pytest.raises(BadSignatureError, match="another key"):
        verify_proof(signed)
    signed = _signed(key)
    with pytest.raises(BadSignatureError):
        verify_proof(signed, resolve=lambda _method: other.public_key())


def test_signing_with_a_key_the_method_does_not_name(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(ProofGenerationError, match="names a different key"):
        add_proof(
            _credential(key),
            key,
            verification_method=verification_method_for(other.public_key()),
            created=CREATED,
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cryptosuite", "eddsa-rdfc-2022"),
        ("cryptosuite", "ecdsa-jcs-2019"),
        ("type", "Ed25519Signature2020"),
    ],
)
def test_unsupported_cryptosuite(key: Ed25519PrivateKey, field: str, value: str) -> None:
    signed = _signed(key)
    signed["proof"][field] = value
    with pytest.raises(UnsupportedCryptosuiteError, match=value):
        verify_proof(signed)


def test_proof_context_must_prefix_the_document_context(key: Ed25519PrivateKey) -> None:
    signed = _signed(key)
    signed["proof"]["@context"] = ["https://www.w3.org/2018/credentials/v1"]
    with pytest.raises(ContextMismatchError, match="does not start with"):
        verify_proof(signed)

    signed = _signed(key)
    signed["@context"] = ["https://example.org/first", CREDENTIALS_V2]
    with pytest.raises(ContextMismatchError):
        verify_proof(signed)

    # Appending a context after signing is allowed: the proof's own context is what is hashed.
    signed = _signed(key)
    signed["@context"] = [CREDENTIALS_V2, "https://example.org/later"]
    assert verify_proof(signed)


def test_controller_must_match_when_asked(key: Ed25519PrivateKey) -> None:
    signed = _signed(key)
    assert verify_proof(signed, expected_controller=did_key_from_public(key.public_key()))
    other = did_key_from_public(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(VerificationMethodError, match="expected controller"):
        verify_proof(signed, expected_controller=other)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("proof"), "no proof"),
        (lambda d: d.update(proof=[d["proof"]]), "proof sets"),
        (lambda d: d.update(proof="z123"), "expected an object|应为 JSON 对象"),
        (lambda d: d["proof"].pop("proofValue"), "proofValue"),
        (lambda d: d["proof"].update(proofValue="u" + d["proof"]["proofValue"][1:]), "prefix"),
        (lambda d: d["proof"].update(proofValue=d["proof"]["proofValue"] + "0"), "position"),
        (lambda d: d["proof"].update(proofValue="z" + b58encode(b"\1" * 63)), "63"),
        (lambda d: d["proof"].update(verificationMethod="not a url"), "verificationMethod"),
        (lambda d: d["proof"].update(created="yesterday"), "dateTimeStamp"),
        (lambda d: d["proof"].update(created="2026-02-30T00:00:00Z"), "impossible"),
    ],
)
def test_malformed_proofs(key: Ed25519PrivateKey, mutate: Any, message: str) -> None:
    signed = _signed(key)
    mutate(signed)
    with pytest.raises(MalformedProofError, match=message):
        verify_proof(signed)


def test_errors_share_one_base_and_a_code(key: Ed25519PrivateKey) -> None:
    signed = _signed(key)
    signed["proof"]["cryptosuite"] = "x"
    with pytest.raises(ProofVerificationError) as info:
        verify_proof(signed)
    assert info.value.code == "unsupported_cryptosuite"


def test_expired_proof(key: Ed25519PrivateKey) -> None:
    document = _credential(key)
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": CREATED,
        "expires": "2027-01-01T00:00:00Z",
        "verificationMethod": verification_method_for(key.public_key()),
        "proofPurpose": "assertionMethod",
        "@context": document["@context"],
    }
    signature = key.sign(hash_data(canonical_proof_config(options), canonical_document(document)))
    signed = {**document, "proof": {**options, "proofValue": multibase_encode(signature)}}
    before = dt.datetime(2026, 12, 31, tzinfo=dt.UTC)
    assert verify_proof(signed, now=before)
    with pytest.raises(ProofExpiredError, match="2027-01-01"):
        verify_proof(signed, now=dt.datetime(2027, 1, 1, 0, 0, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("document", "kwargs", "message"),
    [
        ({"proof": {}}, {}, "already secured"),
        ({"x": float("nan")}, {}, "canonicalisable"),
        ({"x": 2**60}, {}, "canonicalisable"),
        ({"x": 1}, {"created": dt.datetime(2026, 12, 5)}, "naive"),
        ({"x": 1}, {"created": "2026-12-05 08:00"}, "dateTimeStamp"),
        ({"x": 1}, {"proof_purpose": "keyAgreement"}, "proofPurpose"),
        ({"x": 1}, {"verification_method": "key-1"}, "expected a URL"),
        ({"x": 1}, {"verification_method": "did:key:zQ3s#zQ3s"}, "verificationMethod"),
    ],
)
def test_add_proof_refusals(
    key: Ed25519PrivateKey, document: dict[str, Any], kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {
        "verification_method": verification_method_for(key.public_key()),
        "created": CREATED,
        **kwargs,
    }
    with pytest.raises(ProofGenerationError, match=message):
        add_proof(document, key, **arguments)


# --------------------------------------------------------------------------- did:key


def test_did_key_round_trip(key: Ed25519PrivateKey) -> None:
    did = did_key_from_public(key.public_key())
    assert did.startswith("did:key:z6Mk") and len(did) == len("did:key:") + 48
    assert public_from_did_key(did).public_bytes_raw() == key.public_key().public_bytes_raw()
    method = verification_method_for(key.public_key())
    assert method == f"{did}#{did[len('did:key:') :]}"
    assert public_from_did_key(method).public_bytes_raw() == key.public_key().public_bytes_raw()


@pytest.mark.parametrize(
    ("did", "message"),
    [
        ("did:web:example.com", "does not start with 'did:key:'"),
        ("did:key:", "no key"),
        ("did:key:f01ed" + "00" * 32, "prefix 'f'"),
        ("did:key:z6Mk0OIl", "not in the alphabet"),
        ("did:key:" + encode_multikey(0x1200, b"\2" * 33), "p256-pub"),
        ("did:key:" + encode_multikey(0x1300, b"\2" * 32), "PRIVATE"),
        ("did:key:" + encode_multikey(0xED, b"\2" * 31), "31"),
        (12, "expected text"),
    ],
)
def test_did_key_refusals(did: Any, message: str) -> None:
    with pytest.raises(DidKeyError, match=message):
        public_from_did_key(did)


def test_did_key_fragment_must_repeat_the_key(key: Ed25519PrivateKey) -> None:
    did = did_key_from_public(key.public_key())
    other = public_key_multibase(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(DidKeyError, match="fragment"):
        public_from_did_key(f"{did}#{other}")
    with pytest.raises(DidKeyError, match="fragment"):
        public_from_did_key(f"{did}#")


def test_did_key_from_public_refuses_other_objects(key: Ed25519PrivateKey) -> None:
    with pytest.raises(DidKeyError, match="Ed25519PublicKey"):
        did_key_from_public(key)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- base58btc, varint


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", ""),
        (b"\0", "1"),
        (b"\0\0\0", "111"),
        (b"\0\0\1", "112"),
        (b"\x39", "z"),
        (b"\x3a", "21"),
        (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
        (bytes.fromhex("0000287fb4cd"), "11233QC4"),
        (b"\xff" * 4, "7YXq9G"),
    ],
)
def test_base58btc_known_values(data: bytes, text: str) -> None:
    assert b58encode(data) == text
    assert b58decode(text) == data


def test_base58btc_round_trip_keeps_leading_zero_bytes() -> None:
    for zeros in range(5):
        for size in (0, 1, 2, 31, 32, 64):
            data = b"\0" * zeros + os.urandom(size)
            assert b58decode(b58encode(data)) == data
            assert multibase_decode(multibase_encode(data)) == data


@pytest.mark.parametrize(("text", "position"), [("0", 0), ("1O", 1), ("abI", 2), ("zzl", 2)])
def test_base58btc_refuses_characters_outside_the_alphabet(text: str, position: int) -> None:
    with pytest.raises(MultibaseError, match=f"at position {position}"):
        b58decode(text)


def test_multibase_refusals() -> None:
    for text in ("", "f00", "m" + "A" * 4):
        with pytest.raises(MultibaseError, match="'z'"):
            multibase_decode(text)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (0xED, "ed01"), (0x1300, "8026")],
)
def test_varint(value: int, encoded: str) -> None:
    assert varint_encode(value).hex() == encoded
    assert varint_decode(bytes.fromhex(encoded) + b"\xff") == (value, len(encoded) // 2)


@pytest.mark.parametrize(
    ("data", "message"),
    [("8000", "minimally"), ("80", "ends inside"), ("", "ends inside"), ("ff" * 9, "longer")],
)
def test_varint_refusals(data: str, message: str) -> None:
    with pytest.raises(MultibaseError, match=message):
        varint_decode(bytes.fromhex(data))


def test_multikey_round_trips(key: Ed25519PrivateKey) -> None:
    public = public_key_multibase(key.public_key())
    assert public.startswith("z6Mk")
    assert decode_multikey(public) == (0xED, key.public_key().public_bytes_raw())
    assert (
        public_key_from_multibase(public).public_bytes_raw() == key.public_key().public_bytes_raw()
    )
    secret = private_key_multibase(key)
    assert secret.startswith("z3u2")
    assert private_key_from_multibase(secret).private_bytes_raw() == key.private_bytes_raw()
    with pytest.raises(MultibaseError, match="ed25519-priv"):
        private_key_from_multibase(public)


# --------------------------------------------------------------------------- the credential


def test_certificate_credential_shape(key: Ed25519PrivateKey) -> None:
    credential = certificate_credential(
        {**CLAIMS, "holder_id": "did:example:holder", "level": "1+X 初级", "direction": "配电"},
        issuer_did="did:web:registry.example",
        issuer_name="广东省考核站点 ST440301",
        credential_id="https://registry.example/credentials/S000144030001265000123",
        valid_from="2026-12-05T08:00:00Z",
        valid_until=dt.datetime(2030, 12, 5, tzinfo=dt.UTC),
        description="职业技能等级认定",
    )
    assert credential == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "https://registry.example/credentials/S000144030001265000123",
        "type": ["VerifiableCredential", "SkillCertificateCredential"],
        "name": "职业技能等级证书",
        "description": "职业技能等级认定",
        "issuer": {"id": "did:web:registry.example", "name": "广东省考核站点 ST440301"},
        "validFrom": "2026-12-05T08:00:00Z",
        "validUntil": "2030-12-05T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:holder",
            "name": "欧阳娜娜",
            "idType": "resident_id",
            "maskedIdNumber": "110***********002X",
            "certificateNumber": "S000144030001265000123",
            "occupation": "电工",
            "occupationCode": "6-31-01-03",
            "direction": "配电",
            "level": "初级",
            "levelCode": 5,
            "issueDate": "2026-12-05",
            "issuingBody": "广东省职业技能鉴定指导中心",
        },
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grade": "A"}, r"未知字段 \['grade'\]"),
        ({"holder_name": None}, r"缺少必填字段 \['holder_name'\]"),
        ({"masked_id": "11010519491231002X"}, "must be masked"),
        ({"certificate_number": "S000144030001265000000"}, "certificate_number"),
        ({"id_type": "驾驶证"}, "id_type"),
        ({"level": "四级"}, "does not match the certificate number"),
        ({"level": "特级技师"}, "level"),
        ({"issue_date": "2027-01-02"}, "issue year"),
        ({"issue_date": "2026-02-30"}, "impossible"),
        ({"issue_date": dt.datetime(2026, 12, 5, tzinfo=dt.UTC)}, "expected a date"),
        ({"holder_name": " 欧阳娜娜"}, "holder_name"),
        ({"occupation": "电\x00工"}, "control character"),
        ({"holder_id": "holder 1"}, "holder_id"),
    ],
)
def test_certificate_credential_refusals(
    key: Ed25519PrivateKey, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(CredentialClaimsError, match=message):
        _credential(key, **changes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"issuer_did": "station 7"}, "issuer_did"),
        ({"credential_id": ""}, "credential_id"),
        ({"valid_from": dt.datetime(2026, 12, 5)}, "naive"),
        ({"valid_until": "2026-12-05T07:00:00Z"}, "not after validFrom"),
        ({"name": ""}, "name"),
    ],
)
def test_certificate_credential_argument_refusals(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "issuer_did": "did:web:registry.example",
        "credential_id": "urn:uuid:0d4b8f2e-7c1a-4b8e-9f3d-2a6c5e8b1f40",
        "valid_from": "2026-12-05T08:00:00Z",
        **kwargs,
    }
    with pytest.raises(CredentialClaimsError, match=message):
        certificate_credential(CLAIMS, **arguments)
