"""W3C Verifiable Credentials 2.0 secured with an ``eddsa-jcs-2022`` Data Integrity proof.

A certificate can be exported as a Verifiable Credential that any standard verifier (wallets,
the W3C test suites, other registries) can check without knowing SkillCert's own token formats.
The proof follows "Data Integrity EdDSA Cryptosuites v1.0", suite ``eddsa-jcs-2022``:

1. **proof configuration** — the proof options (``type``, ``cryptosuite``, ``created``,
   ``verificationMethod``, ``proofPurpose`` and the document's ``@context``) in RFC 8785 JSON
   canonical form (JCS);
2. **transformation** — the document without ``proof``, in JCS form;
3. **hashing** — ``SHA-256(canonical proof config) || SHA-256(canonical document)``, 64 bytes;
4. **signing** — Ed25519 over those 64 bytes; ``proofValue`` is the signature in base58btc
   multibase (``z…``).

Keys are named with ``did:key`` (an Ed25519 Multikey, ``did:key:z6Mk…``), which needs no
network to resolve. Other verification methods (an ``https:`` key URL, a station key id) work
through the ``resolve`` callable of :func:`verify_proof`.

:func:`verify_proof` returns ``True`` or raises a :class:`ProofVerificationError` subclass that
says what failed (tampered document or wrong key, unsupported suite, context mismatch, …).
The credential layout (built by :mod:`certs.vc_credential`) is in
docs/verifiable-credentials.md. A pure library module.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs import jcs
from certs.keys import verify as verify_signature
from certs.multibase import (
    DID_KEY_PREFIX,
    DidKeyError,
    MultibaseError,
    did_key_from_public,
    multibase_decode,
    multibase_encode,
    public_from_did_key,
    verification_method_for,
)

__all__ = [
    "CREDENTIALS_V2",
    "CREDENTIAL_TYPES",
    "CRYPTOSUITE",
    "PROOF_PURPOSES",
    "PROOF_TYPE",
    "BadSignatureError",
    "CredentialClaimsError",
    "ContextMismatchError",
    "DidKeyError",
    "MalformedProofError",
    "ProofExpiredError",
    "ProofGenerationError",
    "ProofPurposeError",
    "ProofVerificationError",
    "UnsupportedCryptosuiteError",
    "VCError",
    "VerificationMethodError",
    "add_proof",
    "canonical_document",
    "canonical_proof_config",
    "did_key_from_public",
    "hash_data",
    "public_from_did_key",
    "verification_method_for",
    "verify_proof",
]

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
CREDENTIAL_TYPES = ("VerifiableCredential", "SkillCertificateCredential")
PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
#: Verification relationships of the Controlled Identifiers spec that a signature can serve.
PROOF_PURPOSES = frozenset(
    {"assertionMethod", "authentication", "capabilityInvocation", "capabilityDelegation"}
)
SIGNATURE_SIZE = 64

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
# XML Schema 1.1 dateTimeStamp: a date-time with a mandatory time zone.
_DATE_TIME_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")

Resolver = Callable[[str], Ed25519PublicKey]


# --------------------------------------------------------------------------- errors


class VCError(ValueError):
    """A credential, key or proof was refused. ``code`` is stable for programs."""

    code = "vc_error"


class ProofGenerationError(VCError):
    """The inputs of :func:`add_proof` cannot make a proof (the spec's PROOF_GENERATION_ERROR)."""

    code = "proof_generation"


class ProofVerificationError(VCError):
    """A secured document failed verification (the spec's PROOF_VERIFICATION_ERROR)."""

    code = "proof_verification"


class MalformedProofError(ProofVerificationError):
    code = "malformed_proof"


class UnsupportedCryptosuiteError(ProofVerificationError):
    code = "unsupported_cryptosuite"


class ContextMismatchError(ProofVerificationError):
    code = "context_mismatch"


class ProofPurposeError(ProofVerificationError):
    code = "proof_purpose_mismatch"


class ProofExpiredError(ProofVerificationError):
    code = "proof_expired"


class VerificationMethodError(ProofVerificationError):
    code = "unknown_verification_method"


class BadSignatureError(ProofVerificationError):
    code = "bad_signature"


class CredentialClaimsError(VCError):
    """Claims that cannot go into a certificate credential; the message names the field."""

    code = "invalid_claims"


# --------------------------------------------------------------------------- the algorithms


def _jcs(value: object, field: str, error: type[VCError]) -> bytes:
    try:
        return jcs.canonical(value)
    except (jcs.CanonicalizationError, TypeError, ValueError) as exc:
        raise error(f"{field}: 不是可规范化的 JSON 数据 (not canonicalisable JSON: {exc})") from exc


def canonical_document(document: Mapping[str, Any]) -> bytes:
    """Transformation: the JCS bytes of ``document`` (which must not contain ``proof``)."""
    if "proof" in document:
        raise ProofGenerationError("document.proof: 待签名文档不应含 proof (remove proof first)")
    return _jcs(dict(document), "document", ProofGenerationError)


def _proof_config(options: Mapping[str, Any], error: type[VCError]) -> bytes:
    if options.get("type") != PROOF_TYPE:
        raise error(f"proof.type: 应为 {PROOF_TYPE}，实际为 {options.get('type')!r} (wrong type)")
    if options.get("cryptosuite") != CRYPTOSUITE:
        raise error(
            f"proof.cryptosuite: 应为 {CRYPTOSUITE}，实际为 {options.get('cryptosuite')!r} "
            "(unsupported cryptosuite)"
        )
    for field in ("created", "expires"):
        if field in options:
            _parse_timestamp(f"proof.{field}", options[field], error)
    return _jcs(dict(options), "proof", error)


def canonical_proof_config(proof_options: Mapping[str, Any]) -> bytes:
    """Proof configuration: the JCS bytes of the proof options, after checking type and suite."""
    return _proof_config(proof_options, ProofGenerationError)


def hash_data(canonical_config: bytes, canonical_doc: bytes) -> bytes:
    """Hashing: ``SHA-256(proof config) || SHA-256(document)`` — the 64 bytes that are signed."""
    return hashlib.sha256(canonical_config).digest() + hashlib.sha256(canonical_doc).digest()


def _parse_timestamp(field: str, value: object, error: type[VCError]) -> dt.datetime:
    if not isinstance(value, str) or not _DATE_TIME_STAMP.fullmatch(value):
        raise error(
            f"{field}: 应为带时区的 XML Schema 时间，如 2026-12-05T08:00:00Z，实际为 {value!r} "
            "(expected a dateTimeStamp)"
        )
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise error(f"{field}: 时间 {value!r} 不存在 (impossible date or time)") from None


def _timestamp(
    field: str, value: dt.datetime | str, error: type[VCError] = ProofGenerationError
) -> str:
    """A proof or credential time as text: an aware datetime becomes UTC to the second."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise error(f"{field}: 时间缺少时区 (naive datetime; give an aware time)")
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _parse_timestamp(field, value, error)
    return value


def add_proof(
    document: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    *,
    verification_method: str,
    created: dt.datetime | str,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """A copy of ``document`` with an ``eddsa-jcs-2022`` proof added (the input is untouched).

    ``verification_method`` is the URL a verifier resolves to the public key; for a did:key URL
    it must name ``private_key``'s own public key. ``created`` is an aware datetime (written in
    UTC to the second) or a dateTimeStamp string, kept as given.
    """
    if not isinstance(document, Mapping):
        raise ProofGenerationError(f"document: 应为 JSON 对象 (got {type(document).__name__})")
    if "proof" in document:
        raise ProofGenerationError(
            "document.proof: 文档已有证明，不支持多重证明 (already secured; proof sets unsupported)"
        )
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ProofGenerationError(
            f"private_key: 应为 Ed25519 私钥 (got {type(private_key).__name__})"
        )
    if not isinstance(verification_method, str) or not _URL.fullmatch(verification_method):
        raise ProofGenerationError(
            f"verificationMethod: 应为 URL，实际为 {verification_method!r} (expected a URL)"
        )
    if verification_method.startswith(DID_KEY_PREFIX):
        try:
            named = public_from_did_key(verification_method)
        except DidKeyError as exc:
            raise ProofGenerationError(f"verificationMethod: {exc}") from exc
        if named.public_bytes_raw() != private_key.public_key().public_bytes_raw():
            raise ProofGenerationError(
                "verificationMethod: 指向的公钥与签名私钥不匹配 (names a different key)"
            )
    if proof_purpose not in PROOF_PURPOSES:
        raise ProofGenerationError(
            f"proofPurpose: 不支持 {proof_purpose!r}，应为 {sorted(PROOF_PURPOSES)} (unknown)"
        )
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": _timestamp("created", created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in document:
        proof["@context"] = copy.deepcopy(document["@context"])
    signature = private_key.sign(
        hash_data(canonical_proof_config(proof), canonical_document(document))
    )
    proof["proofValue"] = multibase_encode(signature)
    secured = copy.deepcopy(dict(document))
    secured["proof"] = proof
    return secured


def _as_list(context: object) -> list[Any]:
    return list(context) if isinstance(context, list) else [context]


def verify_proof(
    secured_document: Mapping[str, Any],
    *,
    resolve: Resolver = public_from_did_key,
    expected_proof_purpose: str = "assertionMethod",
    expected_controller: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Check the ``eddsa-jcs-2022`` proof of ``secured_document``; ``True`` or raise.

    ``resolve`` maps the proof's ``verificationMethod`` to an Ed25519 public key (default: the
    did:key method, no network). ``expected_controller``, when given, must be the DID (the part
    before ``#``) of the verification method — pass the credential's issuer to tie the key to
    it. A proof with ``expires`` is refused after that time (``now`` defaults to the clock).
    """
    if not isinstance(secured_document, Mapping):
        raise MalformedProofError(
            f"document: 应为 JSON 对象 (got {type(secured_document).__name__})"
        )
    proof = secured_document.get("proof")
    if proof is None:
        raise MalformedProofError("proof: 文档没有证明 (no proof)")
    if isinstance(proof, list):
        raise MalformedProofError("proof: 不支持多重证明 (proof sets are not supported)")
    if not isinstance(proof, Mapping):
        raise MalformedProofError(f"proof: 应为 JSON 对象 (got {type(proof).__name__})")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise UnsupportedCryptosuiteError(
            f"proof: 证明类型 {proof.get('type')!r}/{proof.get('cryptosuite')!r} 不受支持，"
            f"只支持 {PROOF_TYPE}/{CRYPTOSUITE} (unsupported proof type or cryptosuite)"
        )
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    proof_value = proof.get("proofValue")
    try:
        signature = multibase_decode(proof_value)  # type: ignore[arg-type]
    except MultibaseError as exc:
        raise MalformedProofError(f"proof.proofValue: {exc}") from exc
    if len(signature) != SIGNATURE_SIZE:
        raise MalformedProofError(
            f"proof.proofValue: Ed25519 签名应为 {SIGNATURE_SIZE} 字节，实际为 {len(signature)} "
            "(wrong signature length)"
        )
    method = options.get("verificationMethod")
    if not isinstance(method, str) or not _URL.fullmatch(method):
        raise MalformedProofError(f"proof.verificationMethod: 应为 URL，实际为 {method!r}")
    if options.get("proofPurpose") != expected_proof_purpose:
        raise ProofPurposeError(
            f"proof.proofPurpose: 应为 {expected_proof_purpose!r}，实际为 "
            f"{options.get('proofPurpose')!r} (proof made for another purpose)"
        )
    if "expires" in options:
        expires = _parse_timestamp("proof.expires", options["expires"], MalformedProofError)
        if now is not None and now.utcoffset() is None:
            raise ValueError("now: 应为带时区的时间 (naive datetime)")
        if (now or dt.datetime.now(dt.UTC)) > expires:
            raise ProofExpiredError(f"proof.expires: 证明已于 {options['expires']} 过期 (expired)")
    unsecured = {key: value for key, value in secured_document.items() if key != "proof"}
    if "@context" in options:
        wanted = _as_list(options["@context"])
        have = _as_list(secured_document.get("@context", []))
        if have[: len(wanted)] != wanted:
            raise ContextMismatchError(
                f"proof.@context: 文档的 @context {have} 不以证明的 @context {wanted} 开头 "
                "(document context does not start with the proof context)"
            )
        unsecured["@context"] = options["@context"]
    if expected_controller is not None and method.partition("#")[0] != expected_controller:
        raise VerificationMethodError(
            f"proof.verificationMethod: {method} 不属于 {expected_controller} "
            "(key not controlled by the expected controller)"
        )
    try:
        public_key = resolve(method)
    except ProofVerificationError:
        raise
    except (VCError, LookupError, ValueError) as exc:
        raise VerificationMethodError(
            f"proof.verificationMethod: 无法解析 {method} ({exc})"
        ) from exc
    if not isinstance(public_key, Ed25519PublicKey):
        raise VerificationMethodError(
            f"proof.verificationMethod: {method} 不是 Ed25519 公钥 (resolved to a non-Ed25519 key)"
        )
    config = _proof_config(options, MalformedProofError)
    document_bytes = _jcs(unsecured, "document", MalformedProofError)
    try:
        verify_signature(public_key, signature, hash_data(config, document_bytes))
    except InvalidSignature:
        raise BadSignatureError(
            "proof.proofValue: 签名与文档及证明选项不符——文档被改动，或由另一把密钥签名 "
            "(signature does not match: document altered or signed with another key)"
        ) from None
    return True
