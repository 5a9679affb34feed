"""Benchmark: certificate QR tokens verified per second, in one process.

Signs N distinct certificate tokens (default 5,000) with keys of a trust list of realistic
size (default 200 stations with 2 keys each, 10,000 revoked certificates), then times, on the
same tokens, in the same process:

- ``raw Ed25519 verify`` (the baseline): ``certs.keys.verify(public_key, signature, context ||
  body)``, the signature check every verifier uses (libsodium), with the bytes already split out
  and the key already looked up;
- ``OpenSSL Ed25519 verify``, for reference: ``public_key.verify(…)`` of ``cryptography`` on the
  same bytes (what the verifiers used before);
- ``decode_token(token)``: the full check a verifier does: base32, parsing, key lookup,
  signature, field validation, key window, revocation;
- ``decode_token(url)``: the same, starting from the scanned ``…/V/<TOKEN>`` URL.

Printed: seconds, tokens/s, µs per token and the ratio to the baseline (time / baseline time;
1.00 = no overhead beyond the signature check).

    .venv/bin/python benchmarks/token_verify.py [--tokens 5000] [--stations 200] [--repeat 3]

Target: at least 5,000 tokens/s for ``decode_token``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    import certs  # noqa: F401 - installed with `pip install -e .`
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from certs import keys
from certs.cert_token import SIGNING_CONTEXT, TokenClaims, decode_token, sign_token, token_url
from certs.codec import Reader, b32decode
from certs.trust import Revocation, StationKey, TrustList

REGISTRY = "https://zscx.hrss.guangdong.gov.cn"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
TARGET = 5_000


def make_trust(stations: int, revoked: int) -> tuple[TrustList, list[tuple[str, object]]]:
    """A trust list of ``stations`` stations with an old and a current key each."""
    entries, signers = [], []
    for s in range(stations):
        code = f"ST44{s:04d}"
        old, new = keys.generate(), keys.generate()
        old_kid, new_kid = (
            keys.key_id(old.public_key(), "st-"),
            keys.key_id(new.public_key(), "st-"),
        )
        entries.append(
            StationKey(old_kid, code, old.public_key(), dt.date(2024, 1, 1), dt.date(2026, 6, 30))
        )
        entries.append(StationKey(new_kid, code, new.public_key(), dt.date(2026, 6, 30)))
        signers.append((new_kid, new))
    when = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    revocations = {
        f"S000144{900000 + i // 1000:06d}264{i % 1000 + 1:06d}": Revocation(when, "撤销")
        for i in range(revoked)
    }
    return TrustList(entries, revocations), signers


def make_tokens(n: int, signers: list[tuple[str, object]]) -> list[str]:
    tokens = []
    for i in range(n):
        kid, private = signers[i % len(signers)]
        claims = TokenClaims(
            number=f"S00014403{i % 10_000:04d}264{i + 1:06d}",
            occupation_code="6-31-01-10",
            issue_date=dt.date(2026, 12, 5),
            holder_name=SURNAMES[i % 20] + GIVEN[(i // 20) % 20] + GIVEN[(i // 400) % 20],
            masked_id="110***********101X",
        )
        tokens.append(sign_token(claims, private_key=private, kid=kid))  # type: ignore[arg-type]
    return tokens


def split(token: str, trust: TrustList) -> tuple[object, bytes, bytes]:
    """(public key, signed message, signature) for the baseline, computed outside the timing."""
    payload = b32decode(token)
    reader = Reader(payload)
    reader.u8()
    kid = reader.text()
    key = trust.get(kid)
    assert key is not None
    return key.public_key, SIGNING_CONTEXT + payload[:-64], payload[-64:]


def best_of(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=5_000)
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--revoked", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best counts")
    args = parser.parse_args(argv)

    trust, signers = make_trust(args.stations, args.revoked)
    tokens = make_tokens(args.tokens, signers)
    urls = [token_url(REGISTRY, t) for t in tokens]
    parts = [split(t, trust) for t in tokens]
    print(
        f"trust list: {len(trust.keys)} keys, {len(trust.revocations):,} revocations; "
        f"{len(tokens):,} tokens of {len(tokens[0])} characters, URL {len(urls[0])} characters"
    )

    for token in tokens[:50]:  # correctness before speed
        assert decode_token(token, trust).claims.issue_date == dt.date(2026, 12, 5)

    def raw() -> None:
        for public_key, message, signature in parts:
            keys.verify(public_key, signature, message)  # type: ignore[arg-type]

    def openssl() -> None:
        for public_key, message, signature in parts:
            public_key.verify(signature, message)  # type: ignore[attr-defined]

    def full() -> None:
        for token in tokens:
            decode_token(token, trust)

    def from_url() -> None:
        for url in urls:
            decode_token(url, trust)

    rows = [
        ("raw Ed25519 verify (baseline)", best_of(raw, args.repeat)),
        ("OpenSSL Ed25519 verify", best_of(openssl, args.repeat)),
        ("decode_token(token)", best_of(full, args.repeat)),
        ("decode_token(url)", best_of(from_url, args.repeat)),
    ]
    baseline = rows[0][1]
    n = len(tokens)
    print(f"\n{'operation':<32}{'seconds':>10}{'tokens/s':>12}{'µs/token':>10}{'× baseline':>12}")
    for name, seconds in rows:
        print(
            f"{name:<32}{seconds:>10.3f}{n / seconds:>12,.0f}{seconds / n * 1e6:>10.1f}"
            f"{seconds / baseline:>12.2f}"
        )
    rate = n / dict(rows)["decode_token(token)"]
    verdict = "OK" if rate >= TARGET else "SLOW"
    print(f"\ntarget: ≥ {TARGET:,} tokens/s for decode_token -> {rate:,.0f}/s ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
