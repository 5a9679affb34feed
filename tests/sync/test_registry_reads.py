"""The public verification's read path: the bare read cursor, the idle-connection ping, the
trust-list cache and the compiled record query (on PostgreSQL in CI, SQLite otherwise)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from sync.registry import db, public_api
from sync.registry import keys as root_keys
from sync.registry.services import revocations
from sync.registry.services.verification import TrustCache, recorded_certificates
from tests.sync.registry_helpers import StationSim


def test_read_cursor_leaves_pooled_connections_transactional(app):
    with app.app_context():
        eng = db.engine()
        with db.read_cursor(eng) as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchall()[0][0] == 1
        with pytest.raises(eng.dialect.loaded_dbapi.Error), db.read_cursor(eng) as cursor:
            cursor.execute("SELECT no_such_column FROM station")
        # Whatever happened in the read cursor, a session still gets a real transaction:
        # a rolled-back write is gone.
        with eng.begin() as conn:
            conn.execute(text("CREATE TABLE scratch_rollback (x int)"))
        for _ in range(3):
            with eng.connect() as conn:
                if eng.dialect.name == "postgresql":
                    assert conn.connection.driver_connection.autocommit is False
                conn.execute(text("INSERT INTO scratch_rollback VALUES (1)"))
                conn.rollback()
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM scratch_rollback")).scalar() == 0


def test_an_idle_connection_cut_by_the_server_is_replaced_unseen(app, monkeypatch):
    with app.app_context():
        eng = db.engine()
        if eng.dialect.name != "postgresql":
            pytest.skip("needs a database server that can cut a connection")
        with eng.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        other = db.make_engine(app.config["DATABASE_URL"])  # a pool of its own cuts it
        with other.begin() as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        other.dispose()
        monkeypatch.setattr(db.time, "monotonic", lambda: 10**9)  # "idle for ages"
        with eng.connect() as conn:  # the pool's ping finds the dead one and opens another
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        with db.read_cursor(eng) as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchall()[0][0] == 1


def test_the_trust_list_is_kept_for_max_age_but_a_new_key_is_seen_at_once(app, station):
    record, token = station.certificate_record(1)
    with app.test_request_context():
        cache = TrustCache(max_age=3600)
        assert public_api.verify_inputs([token], cache=cache)[0].status == "unrecorded"
        first = cache.snapshot
        assert public_api.verify_inputs([token], cache=cache)[0].status == "unrecorded"
        assert cache.snapshot is first  # not even re-checked
        other = StationSim(app, "440302")
        other.enroll()
        _, fresh = other.certificate_record(1)
        verdict = public_api.verify_inputs([fresh], cache=cache)[0]
        assert (verdict.status, verdict.station.code) == ("unrecorded", "440302")
        assert cache.snapshot is not first and "440302" in cache.snapshot.stations
        forged = public_api.verify_inputs([token[:-8] + "AAAAAAAA"], cache=cache)[0]
        assert forged.status == "invalid"


def test_a_revocation_shows_at_once_whatever_is_cached(app, station):
    results = station.push([station.certificate(1)])
    assert results.status_code == 200
    number = station.number(1)
    with app.test_request_context():
        cache = TrustCache(max_age=3600)
        assert public_api.verify_inputs([number], cache=cache)[0].status == "valid"
        with db.transaction() as session:
            signer = root_keys.load_signer(
                session, passphrase=root_keys.passphrase_from(app.config)
            )
            revocations.revoke(session, number=number, reason="证书信息有误", actor="op1",
                               signer=signer)  # fmt: skip
        verdict = public_api.verify_inputs([number], cache=cache)[0]
        assert verdict.status == "revoked"
        revoked_at = verdict.recorded.revocation.revoked_at
        assert revoked_at.tzinfo is not None  # aware UTC on SQLite as on PostgreSQL
        assert abs(dt.datetime.now(dt.UTC) - revoked_at) < dt.timedelta(minutes=5)


def test_recorded_certificates_reads_every_field_as_the_orm_does(app, station):
    station.push([station.certificate(i) for i in (1, 2, 3)])
    numbers = [station.number(i) for i in (1, 2, 3, 9)]
    with app.app_context():
        eng = db.engine()
        with db.read_cursor(eng) as cursor:
            fast = recorded_certificates(cursor, eng.dialect, numbers)
        with db.transaction() as session:
            from sync.registry.services.records import recorded_by_number

            slow = recorded_by_number(session, set(numbers))
            assert set(fast) == set(slow) == set(numbers[:3])
            for number, rc in slow.items():
                assert fast[number].to_dict() == rc.to_dict()
                assert fast[number].certificate.id_hash == rc.certificate.id_hash
