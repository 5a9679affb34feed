"""The end-to-end rig: a real station instance and a real registry server, with the proxy between.

Built once per run and copied per test: a station instance whose outbox holds a result summary,
a session report and ``TEMPLATE_CERTIFICATES`` certificates (two push batches), made the way a
site makes them — every candidate sat the theory exam through the attempt service, the session
was graded, signed off by its supervisor, published and certified (``issue_session``) — and,
with SQLite, a registry instance after ``registry init`` and ``registry stations add``. With
``REGISTRY_TEST_DATABASE_URL`` set, each test's registry gets a PostgreSQL schema of its own,
initialised through the same CLI, dropped afterwards.

Each test gets a :class:`Rig`: the registry serving on its port (``registry run``), the proxy,
the station instance enrolled with the registry (through the proxy) using the token that
``registry stations add`` printed, the station's app for arranging and inspecting, and
:meth:`Rig.check` — the invariants every fault test ends with.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from station import create_app, db
from station.cli import init_instance
from station.demo.site import open_exam
from station.models import Certificate, OutboxRecord, OutboxStatus, Revocation
from station.models.common import utcnow
from station.services import (
    assignments,
    attempts,
    banks,
    certificates,
    exam_forms,
    keys,
    lifecycle,
    results,
    roster,
    sessions,
    site,
    sync_state,
    users,
)
from sync import client, protocol
from sync.client_http import RegistryClient
from sync.client_station import KeyRing
from sync.registry.db import make_engine
from tests.e2e.fault_proxy import PUSH_PATH, FaultProxy
from tests.e2e.harness import RegistryServer, StationCli

STATION_CODE = "110101"
TEMPLATE_CERTIFICATES = 210  # with the summary and the report: 212 records, two batches
PG_ENV = "REGISTRY_TEST_DATABASE_URL"
SEATS = 30
PASSWORD = "e2e-pass-2026"


# --------------------------------------------------------------------------- station data


def prepare_site(app, *, rooms: int) -> str:
    """``station init``, the demo IRAP-M bank (signed package, trusted issuer), the programme,
    theory rooms with two invigilators each and a supervisor. Returns the bank code."""
    from question_bank import package, signing
    from station.demo.seed import load_content

    init_instance(app, station_code=STATION_CODE, station_name="故障测试站点")
    issuer = signing.IssuerKey.generate("iss-e2e")
    content = load_content()
    meta = dict(content.meta, created_at="2026-09-01T00:00:00Z")
    data, _ = package.build_package(content, manifest_meta=meta, key=issuer)
    with db.transaction() as s:
        banks.add_trusted_issuer(s, actor="e2e", public_pem=issuer.public_pem(), kid=issuer.kid)
        bank = banks.import_bank(s, actor="e2e", filename="irap.zip", data=data).bank
        site.add_programme(s, actor="e2e", code="IRAP", name="工业机器人应用编程",
                           levels=["初级", "中级", "高级"], occupation_code="6-31-01-10")  # fmt: skip
        for r in range(1, rooms + 1):
            site.add_room(s, actor="e2e", code=f"T{r:02d}", name=f"理论考场 {r}", kind="theory",
                          seats=SEATS)  # fmt: skip
        for n in range(1, 2 * rooms + 1):
            users.add_user(s, actor="e2e", username=f"inv{n:03d}", display_name=f"监考{n}",
                           password=PASSWORD, roles=["examiner"], organisation="考核站")  # fmt: skip
        users.add_user(s, actor="e2e", username="sup", display_name="督导", password=PASSWORD,
                       roles=["supervisor"])  # fmt: skip
    return bank


def roster_csv(count: int, first: int) -> bytes:
    from benchmarks.exam_setup import resident_id

    lines = ["姓名,性别,证件类型,证件号码,工作单位,手机号"]
    for i in range(first, first + count):
        male = i % 2 == 0
        lines.append(f"考生{i},{'男' if male else '女'},居民身份证,{resident_id(i, male=male)},"
                     f"示例职业学校,139{i:08d}")  # fmt: skip
    return ("\n".join(lines) + "\n").encode("utf-8")


def certify_session(app, *, code: str, candidates: int, start: datetime, first_id: int,
                    bank: str = "IRAP-M") -> list[str]:  # fmt: skip
    """A theory-only session whose candidates all answer every item correctly, through to
    certificates (the outbox gets the summary, the report and one record per certificate)."""
    from question_bank.assembly import Form
    from station.models import Answer, BankVersion

    rooms = [f"T{r:02d}" for r in range(1, math.ceil(candidates / SEATS) + 1)]
    plan = sessions.SessionPlan(code=code, title=f"故障测试 {code}", programme="IRAP",
                                level="中级", bank=bank, theory_start=start, theory_rooms=rooms)  # fmt: skip
    before = start - timedelta(hours=1)
    with app.app_context(), db.transaction() as s:
        sessions.create_session(s, actor="e2e", plan=plan, now=start - timedelta(days=3))
        people = roster.import_roster(s, actor="e2e", session_code=code, filename=f"{code}.csv",
                                      data=roster_csv(candidates, first_id))  # fmt: skip
        for r, room in enumerate(rooms):
            for n in (2 * r + 1, 2 * r + 2):
                assignments.assign(s, actor="e2e", session_code=code, username=f"inv{n:03d}",
                                   role="invigilator", room=room)  # fmt: skip
        assignments.assign(s, actor="e2e", session_code=code, username="sup", role="supervisor",
                           room=None)  # fmt: skip
        open_exam(s, actor="e2e", code=code, people=people, checked_in_at=before, start=start)
        session = sessions.get_session(s, code)
        key = {i.uid: i for i in banks.load_items(s, s.get(BankVersion, session.bank_version_id))}
        moment = start + timedelta(minutes=2)
        for n, person in enumerate(people):
            attempt = attempts.login(s, admission_number=person.admission_number,
                                     id_last6=person.id_number[-6:], terminal=f"{code}-{n}",
                                     now=moment).attempt  # fmt: skip
            attempts.start(s, attempt, now=moment)
            form = Form.from_dict(exam_forms.attempt_form(s, attempt))
            for seq, entry in enumerate(form.entries, 1):
                s.add(Answer(attempt_id=attempt.id, item_uid=entry.uid, seq=seq, saved_at=moment,
                             response="".join(key[entry.uid].answer)))  # fmt: skip
            attempt.last_seq = attempt.answered = len(form.entries)
            attempts.submit(s, attempt, now=moment + timedelta(minutes=30), seq=len(form.entries))
        end = start + timedelta(minutes=session.theory_minutes + 1)
        lifecycle.transition(s, actor="e2e", session_code=code, to="grading", now=end)
        assert results.grade_session(s, actor="e2e", session_code=code) == []
        lifecycle.transition(s, actor="e2e", session_code=code, to="review")
        results.sign_off(s, actor="sup", session_code=code, note="核对无误")
        lifecycle.transition(s, actor="sup", session_code=code, to="published")
        issued = certificates.issue_session(
            s, actor="e2e", session_code=code, passphrase=app.config["KEY_PASSPHRASE"],
            settings=certificates.Settings.from_config(app.config))  # fmt: skip
    assert len(issued) == candidates
    return [c.number for c in issued]


# --------------------------------------------------------------------------- the rig


class Rig:
    """One station and one registry for one test (see the module docstring)."""

    def __init__(self, app, station: StationCli, registry: RegistryServer, proxy: FaultProxy):
        self.app, self.station, self.registry, self.proxy = app, station, registry, proxy
        self.operator_revoked: set[str] = set()
        self._sessions = 0

    @property
    def ctx(self) -> client.StationContext:
        return client.StationContext.from_app(self.app, actor="e2e")

    def issue(self, candidates: int) -> list[str]:
        """Another session certified at the station (its records join the outbox)."""
        self._sessions += 1
        start = (utcnow() - timedelta(days=3 + self._sessions)).replace(microsecond=0)
        return certify_session(self.app, code=f"R{self._sessions:03d}", candidates=candidates,
                               start=start, first_id=1000 * self._sessions)  # fmt: skip

    def revoke(self, number: str, reason: str = "以欺骗手段取得证书") -> None:
        with self.app.app_context(), db.transaction() as s:
            certificates.revoke(s, actor="e2e", number=number, reason=reason)

    def operator_revoke(self, number: str) -> None:
        """A provincial operator revokes it at the registry (``registry revoke``)."""
        self.registry.cli("revoke", number, "--reason", "省级平台核查撤销", "--by", "ops")
        self.operator_revoked.add(number)

    def outbox(self) -> list[OutboxRecord]:
        with self.app.app_context(), db.transaction(write=False) as s:
            return list(s.exec(select(OutboxRecord).order_by(col(OutboxRecord.seq))))

    def station_numbers(self) -> tuple[set[str], set[str]]:
        """(certificate numbers issued, numbers the station asked to revoke)."""
        with self.app.app_context(), db.transaction(write=False) as s:
            return ({c.number for c in s.exec(select(Certificate))},
                    {r.number for r in s.exec(select(Revocation))})  # fmt: skip

    def set_payload(self, record_id: str, payload: dict) -> None:
        with self.app.app_context(), db.transaction() as s:
            s.exec(text("UPDATE sync_outbox SET payload = :p WHERE id = :i"),
                   params={"p": json.dumps(payload, ensure_ascii=False), "i": record_id})  # fmt: skip

    def push_direct(self, rows: list[OutboxRecord]) -> list[dict]:
        """Send ``rows`` to the registry as the station would (records signed with the key of
        their day, the request signed now with a fresh nonce), not through the proxy and not
        recording anything at the station; the registry's per-record results."""
        ctx = self.ctx
        with self.app.app_context(), db.transaction(write=False) as s:
            ring = KeyRing(keys.all_keys(s), ctx.passphrase)
            state = sync_state.peek(s)
        records = []
        for row in rows:
            key = ring.for_record(row.created_at)
            records.append(protocol.sign_record(
                row.kind, row.payload, private_key=ring.private(key.kid), kid=key.kid,
                record_id=row.id, created_at=row.created_at).to_dict())  # fmt: skip
        signer = ring.for_requests(state)
        link = RegistryClient(self.registry.url, station_code=ctx.station_code, kid=signer.kid,
                              private_key=ring.private(signer.kid))  # fmt: skip
        reply = link.call("POST", PUSH_PATH, body={"batch": str(uuid.uuid4()), "records": records})
        return reply.body["results"]

    def registry_rows(self) -> dict:
        """What the registry's database holds (read with plain SQL)."""
        with self.registry.engine.connect() as conn:

            def rows(sql: str) -> list:
                return list(conn.execute(text(sql)))

            return {
                "certificates": [r[0] for r in rows("SELECT number FROM certificate")],
                "records": {r[0]: r[1] for r in rows("SELECT id, kind FROM sync_record")},
                "revocations": {r[0]: r[1] for r in rows("SELECT number, origin FROM revocation")},
                "leaves": {r[0]: (r[1], r[2], bytes(r[3]))
                           for r in rows("SELECT leaf_index, kind, number, data FROM log_leaf")},
                "tree_size": rows("SELECT tree_size FROM log_state")[0][0],
                "heads": rows("SELECT count(*) FROM tree_head")[0][0],
                "nonces": rows("SELECT count(*) FROM request_nonce")[0][0],
            }  # fmt: skip

    def check(self, *, parked: set[str] | frozenset[str] = frozenset(),
              status_cli: bool = False) -> dict:  # fmt: skip
        """The invariants after any fault, once the station has drained its outbox.

        Station: nothing pending; exactly the ``parked`` records rejected, each with a reason
        (with ``status_cli``: also as ``station sync status --json`` shows them). Registry:
        every certificate the station issued (less parked ones) recorded exactly once — one
        row, one log leaf — and nothing else; every record the station got an answer for is stored once (a revocation
        the operator had already made is answered from the operator's leaf instead); the
        station's and the operator's revocations, each once. Log: leaves 0…n−1 with no gap,
        ``registry log verify`` passes with the same counts, and every receipt the station
        keeps verifies — its inclusion proof names the leaf the log holds and, through a
        consistency proof from the registry, leads to the newest signed tree head.
        """
        outbox = self.outbox()
        assert [r.id for r in outbox if r.status == OutboxStatus.PENDING] == []
        rejected = {r.id: r for r in outbox if r.status == OutboxStatus.REJECTED}
        assert set(rejected) == set(parked), {i: r.reason for i, r in rejected.items()}
        assert all(r.reason for r in rejected.values())
        answered = [r for r in outbox if r.status != OutboxStatus.REJECTED]
        issued, requested = self.station_numbers()
        parked_numbers = {r.subject.split(":", 1)[1] for r in rejected.values()}
        reg = self.registry_rows()
        certs = reg["certificates"]
        assert len(certs) == len(set(certs)), "a certificate is recorded twice"
        assert set(certs) == issued - parked_numbers
        leaves = reg["leaves"]
        assert sorted(leaves) == list(range(reg["tree_size"])), "log leaves have a gap"
        cert_leaves = [n for kind, n, _ in leaves.values() if kind == "certificate"]
        assert sorted(cert_leaves) == sorted(certs), "certificate leaves ≠ certificates"
        rev_leaves = [n for kind, n, _ in leaves.values() if kind == "revocation"]
        assert sorted(rev_leaves) == sorted(reg["revocations"]), "revocation leaves"
        assert set(reg["revocations"]) == requested | self.operator_revoked
        assert all(reg["revocations"][n] == "operator" for n in self.operator_revoked)
        stored = set(reg["records"])
        assert stored <= {r.id for r in outbox}, "the registry holds a record nobody sent"
        for row in answered:
            if row.id not in stored:  # only a request for what the operator had revoked
                assert row.kind == protocol.KIND_REVOCATION_REQUEST, row.id
                assert row.payload["number"] in self.operator_revoked, row.id
        assert not stored & set(rejected), "a parked record is stored"
        receipts = _verify_receipts(self.registry, answered, leaves)
        assert self.registry.problems() == []
        assert self.registry.log_verify() == (len(certs), len(reg["revocations"]))
        if status_cli:
            status = self.station.status()
            assert status["backlog"] == 0, status
            assert {p["id"]: p["reason"] for p in status["parked"]} == {
                i: r.reason for i, r in rejected.items()}  # fmt: skip
        return {"records": len(outbox), "certificates": len(certs), "receipts": receipts,
                "revocations": len(reg["revocations"]), "tree_size": reg["tree_size"]}  # fmt: skip


def _verify_receipts(registry: RegistryServer, rows: list[OutboxRecord], leaves: dict) -> int:
    """Every certificate and revocation receipt against the newest tree head; how many."""
    import base64

    from certs import keys as key_tools
    from sync import tree_heads

    root = key_tools.load_public_pem(registry.get("/api/v1/keys/root")["public_key"])
    latest = tree_heads.SignedTreeHead.from_dict(registry.get("/api/v1/log/sth")["tree_head"])
    size = latest.head.tree_size
    proofs: dict[int, list[bytes]] = {}
    count = 0
    for row in rows:
        if row.kind not in (protocol.KIND_CERTIFICATE, protocol.KIND_REVOCATION_REQUEST):
            continue
        receipt = row.receipt or {}
        assert receipt.get("station_check") == "ok", (row.id, row.kind, receipt)
        proof = tree_heads.InclusionReceipt.from_dict(receipt)
        leaf = receipt["leaf"].encode("utf-8")
        assert leaves[proof.leaf_index][2] == leaf, f"{row.id}: not the leaf the log holds"
        consistency = None
        if proof.tree_size != size:
            if proof.tree_size not in proofs:
                answer = registry.get("/api/v1/log/consistency", first=proof.tree_size,
                                      second=size)  # fmt: skip
                proofs[proof.tree_size] = [base64.b64decode(h)
                                           for h in answer["consistency_proof"]]  # fmt: skip
            consistency = proofs[proof.tree_size]
        tree_heads.verify_certificate_inclusion(leaf, proof, latest, root, consistency=consistency)
        count += 1
    return count


@pytest.fixture(scope="session")
def station_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("e2e-station") / "instance"
    app = create_app({"TESTING": True, "SCHEDULER_ENABLED": False}, instance_path=str(path))
    method, users.PASSWORD_METHOD = users.PASSWORD_METHOD, "pbkdf2:sha256:1000"  # cheap hashes
    try:
        with app.app_context():
            bank = prepare_site(app, rooms=math.ceil(TEMPLATE_CERTIFICATES / SEATS))
        start = (utcnow() - timedelta(days=2)).replace(microsecond=0)
        certify_session(app, code="E2E1", candidates=TEMPLATE_CERTIFICATES, start=start,
                        first_id=0, bank=bank)  # fmt: skip
    finally:
        users.PASSWORD_METHOD = method
        app.extensions["station_engine"].dispose()
    return path


@pytest.fixture(scope="session")
def sqlite_registry_template(tmp_path_factory) -> tuple[Path, str] | None:
    """SQLite only: a registry instance after init and ``stations add`` (copied per test)."""
    if os.environ.get(PG_ENV):
        return None
    work = tmp_path_factory.mktemp("e2e-registry")
    instance = work / "instance"
    server = RegistryServer(instance, None, make_engine(f"sqlite:///{instance / 'registry.db'}"),
                            work)  # fmt: skip
    token = server.setup(STATION_CODE)
    server.close()
    return instance, token


@pytest.fixture
def registry(tmp_path, sqlite_registry_template):
    """A registry server for this test (not yet started) and its enrollment token."""
    work = tmp_path / "registry"
    work.mkdir()
    base = os.environ.get(PG_ENV)
    if not base:
        instance = Path(shutil.copytree(sqlite_registry_template[0], work / "instance"))
        engine = make_engine(f"sqlite:///{instance / 'registry.db'}")
        server = RegistryServer(instance, None, engine, work)
        yield server, sqlite_registry_template[1]
        server.close()
        return
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    server = RegistryServer(work / "instance", url, make_engine(url), work)
    try:
        yield server, server.setup(STATION_CODE)
    finally:
        server.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def rig(tmp_path, station_template, registry) -> Rig:
    server, token = registry
    instance = Path(shutil.copytree(station_template, tmp_path / "station"))
    server.start()
    proxy = FaultProxy(server.port)
    app = create_app({"TESTING": True, "SCHEDULER_ENABLED": False}, instance_path=str(instance))
    rig = Rig(app, StationCli(instance, tmp_path), server, proxy)
    # What `station enroll URL TOKEN` does (the CLI's own test is tests/station/test_sync_cycle).
    client.enroll(rig.ctx, proxy.url, token)
    yield rig
    rig.station.close()
    proxy.close()
    app.extensions["station_engine"].dispose()
