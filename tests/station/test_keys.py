"""The station's signing keys: show, rotate (old keys keep their window), export."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import select

from certs import keys as keylib
from station import db
from station.models import AuditEntry
from station.services import keys


def test_rotate_retires_the_old_key_and_signs_with_the_new(app, runner):
    before = json.loads(runner.invoke(args=["keys", "show", "--json"]).output)
    assert len(before) == 1 and before[0]["active"] and before[0]["not_after"] is None
    out = runner.invoke(args=["keys", "rotate", "--reason", "年度轮换"])
    assert out.exit_code == 0, out.output
    after = json.loads(runner.invoke(args=["keys", "show", "--json"]).output)
    old, new = after
    assert old["kid"] == before[0]["kid"] and not old["active"] and old["not_after"]
    assert new["active"] and new["not_before"] == old["not_after"]
    with app.app_context(), db.transaction() as s:
        kid, private = keys.signer(s, passphrase=app.config["KEY_PASSPHRASE"])
        assert kid == new["kid"]
        public = keys.public_keys(s)
        assert set(public) == {old["kid"], new["kid"]}  # the old key still verifies
        assert isinstance(public[old["kid"]], Ed25519PublicKey)
        actions = [e.action for e in s.exec(select(AuditEntry).order_by(AuditEntry.seq))]
        assert actions[-2:] == ["key.rotate", "key.retire"]
    exported = json.loads(runner.invoke(args=["keys", "export-public"]).output)
    assert exported["kid"] == new["kid"]
    assert keylib.key_id(keylib.load_public_pem(exported["public_pem"]), prefix="st-") == new["kid"]
    assert len(json.loads(runner.invoke(args=["keys", "export-public", "--all"]).output)) == 2


def test_rotate_needs_the_passphrase(app, runner, monkeypatch):
    monkeypatch.setenv("STATION_KEY_PASSPHRASE", "wrong")
    out = runner.invoke(args=["keys", "rotate"])
    assert out.exit_code == 1 and "无法解锁" in out.output
    monkeypatch.delenv("STATION_KEY_PASSPHRASE")
    assert len(json.loads(runner.invoke(args=["keys", "show", "--json"]).output)) == 1
