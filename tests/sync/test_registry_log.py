"""The transparency log's API (tree heads, inclusion and consistency proofs) and its audit."""

from __future__ import annotations

import base64

from sqlalchemy import update

from certs import keys as key_tools
from sync import merkle, tree_heads
from sync.registry import db
from sync.registry.models import Certificate, LogLeaf, LogNode, TreeHeadRow
from tests.sync.registry_helpers import results


def root_key(app):
    body = app.test_client().get("/api/v1/keys/root").get_json()
    return key_tools.load_public_pem(body["public_key"])


def sth(app) -> tree_heads.SignedTreeHead:
    response = app.test_client().get("/api/v1/log/sth")
    assert response.status_code == 200
    head = tree_heads.SignedTreeHead.from_dict(response.get_json()["tree_head"])
    tree_heads.verify_tree_head(head, root_key(app))
    return head


def unb64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_the_empty_log_has_a_signed_head(app):
    head = sth(app)
    assert head.head.tree_size == 0 and head.head.root_hash == merkle.EMPTY_ROOT


def test_inclusion_and_consistency_proofs_verify_offline(app, station):
    results(station.push([station.certificate() for _ in range(3)]))
    small = sth(app)
    results(station.push([station.certificate() for _ in range(4)]))
    big = sth(app)
    assert (small.head.tree_size, big.head.tree_size) == (3, 7)
    client = app.test_client()
    number = station.number(2)
    proof = client.get(f"/api/v1/log/proof?number={number}").get_json()
    assert proof["receipt"]["leaf_index"] == 1 and proof["tree_head"]["tree_size"] == 7
    tree_heads.verify_certificate_inclusion(
        proof["leaf"].encode(),
        tree_heads.InclusionReceipt.from_dict(proof["receipt"]),
        tree_heads.SignedTreeHead.from_dict(proof["tree_head"]),
        root_key(app),
    )
    old = client.get(f"/api/v1/log/proof?number={number}&tree_size=3").get_json()
    assert old["receipt"]["tree_size"] == 3
    consistency = client.get("/api/v1/log/consistency?first=3&second=7").get_json()
    merkle.verify_consistency(
        3, 7, small.head.root_hash, big.head.root_hash, unb64(consistency["consistency_proof"])
    )
    # An old receipt plus a consistency proof checks against the newest head.
    tree_heads.verify_certificate_inclusion(
        old["leaf"].encode(),
        tree_heads.InclusionReceipt.from_dict(old["receipt"]),
        big,
        root_key(app),
        consistency=unb64(consistency["consistency_proof"]),
    )


def test_log_api_errors_name_the_parameter(app, station):
    results(station.push([station.certificate()]))
    client = app.test_client()
    assert client.get(f"/api/v1/log/proof?number={station.number(9)}").status_code == 404
    bad = client.get("/api/v1/log/proof?number=S12")
    assert bad.status_code == 400 and bad.get_json()["message"].startswith("number")
    kind = client.get(f"/api/v1/log/proof?number={station.number(1)}&kind=x")
    assert kind.status_code == 400 and kind.get_json()["message"].startswith("kind")
    size = client.get(f"/api/v1/log/proof?number={station.number(1)}&tree_size=5")
    assert size.status_code == 404 and size.get_json()["message"].startswith("tree_size")
    beyond = client.get("/api/v1/log/consistency?first=0&second=9")
    assert beyond.status_code == 400 and beyond.get_json()["message"].startswith("second")
    missing = client.get("/api/v1/log/consistency?first=1")
    assert missing.status_code == 400 and missing.get_json()["message"].startswith("second")


def test_revocation_leaves_have_proofs_too(app, station):
    results(station.push([station.certificate(1)]))
    app.test_cli_runner().invoke(args=["revoke", station.number(1), "--reason", "信息有误"])
    proof = (
        app.test_client()
        .get(f"/api/v1/log/proof?number={station.number(1)}&kind=revocation")
        .get_json()
    )
    assert proof["receipt"]["leaf_index"] == 1
    assert '"kind":"revocation"' in proof["leaf"]


def verify(app):
    return app.test_cli_runner().invoke(args=["log", "verify"])


def test_log_verify_recomputes_everything_and_finds_tampering(app, station):
    for _ in range(3):
        results(station.push([station.certificate() for _ in range(5)]))
    app.test_cli_runner().invoke(args=["revoke", station.number(4), "--reason", "信息有误"])
    ok = verify(app)
    assert ok.exit_code == 0, ok.output
    assert "tree size 16" in ok.output and "15 certificates, 1 revocations" in ok.output
    assert "5 tree heads" in ok.output  # the empty log's, three pushes', the revocation's

    def tamper(statement):
        with app.app_context(), db.transaction() as session:
            session.execute(statement)

    tamper(update(LogNode).where(LogNode.level == 1, LogNode.idx == 2).values(hash=b"\0" * 32))
    broken = verify(app)
    assert broken.exit_code == 1 and "log node (1, 2) is wrong" in broken.output
    tamper(
        update(LogNode)
        .where(LogNode.level == 1, LogNode.idx == 2)
        .values(hash=merkle.node_hash(*_leaf_hashes(app, 4, 6)))
    )
    assert verify(app).exit_code == 0
    tamper(
        update(Certificate)
        .where(Certificate.number == station.number(2))
        .values(record_sha256="0" * 64)
    )
    broken = verify(app)
    assert f"certificate {station.number(2)}: leaf 1 holds other data" in broken.output


def test_log_verify_finds_a_forged_tree_head(app, station):
    results(station.push([station.certificate()]))
    with app.app_context(), db.transaction() as session:
        session.execute(
            update(TreeHeadRow)
            .where(TreeHeadRow.tree_size == 1)
            .values(timestamp_ms=TreeHeadRow.timestamp_ms + 1)
        )
    broken = verify(app)
    assert broken.exit_code == 1 and "tree head 1: signature" in broken.output


def _leaf_hashes(app, start: int, end: int) -> list[bytes]:
    with app.app_context(), db.transaction() as session:
        return [merkle.leaf_hash(bytes(session.get(LogLeaf, i).data)) for i in range(start, end)]
