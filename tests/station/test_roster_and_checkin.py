"""Roster import into a session, seats, admission tickets and check-in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from certs import ticket_token
from station import db
from station.config import key_passphrase
from station.models.scheduling import CandidateStatus
from station.services import checkin, keys, lifecycle, roster, sessions, tickets
from station.services.errors import DomainError
from tests.certs.qr_decode import decode_pdf
from tests.station.rosters import HEADER, resident_id, roster_csv
from tests.station.test_sessions import START, _staff_fully, call, create, plan


@pytest.fixture
def session_s1(app, exam_site):
    create(app, plan(rooms=("T1", "T2")))
    return "S1"


def _candidates(app, code="S1"):
    with app.app_context(), db.transaction() as s:
        return roster.candidates(s, sessions.get_session(s, code))


def test_roster_import_allocates_seats_and_admission_numbers(app, session_s1):
    added = call(
        app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(35)
    )
    assert len(added) == 35
    people = _candidates(app)
    assert [c.admission_number for c in people][:2] == ["S10001", "S10002"]
    by_room = {}
    for c in people:
        by_room.setdefault(c.room_id, []).append(c.seat)
    assert sorted(len(v) for v in by_room.values()) == [5, 30]  # T1 (30 seats) fills first
    assert people[0].birth_date.isoformat() == "1998-03-12"


def test_gbk_csv_imports(app, session_s1):
    call(app, roster.import_roster, session_code="S1", filename="r.csv",
         data=roster_csv(3, encoding="gbk"))  # fmt: skip
    assert _candidates(app)[0].organisation == "示例职业学校"


def test_bad_rows_are_all_reported_and_nothing_is_saved(app, session_s1):
    good = resident_id(1)
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    rows = [HEADER,
            ["张三", "男", "居民身份证", wrong_check, "甲", ""],
            ["李四", "女", "居民身份证", resident_id(2, male=False), "乙", "12345"],
            ["王五", "男", "居民身份证", resident_id(3), "丙", ""],
            ["王五", "男", "居民身份证", resident_id(3), "丙", ""]]  # fmt: skip
    data = "\n".join(",".join(r) for r in rows).encode()
    with pytest.raises(DomainError) as caught:
        call(app, roster.import_roster, session_code="S1", filename="花名册.csv", data=data)
    text = "\n".join(caught.value.details)
    assert "第2行" in text and "校验位" in text
    assert "第3行" in text and "手机" in text
    assert "第5行" in text and "重复" in text
    assert _candidates(app) == []


def test_duplicate_against_the_session_is_refused(app, session_s1):
    call(app, roster.import_roster, session_code="S1", filename="a.csv", data=roster_csv(3))
    with pytest.raises(DomainError) as caught:
        call(app, roster.import_roster, session_code="S1", filename="b.csv",
             data=roster_csv(2, start=3))  # fmt: skip
    assert any("第2行" in d and "与本场次已有考生" in d for d in caught.value.details)
    assert len(_candidates(app)) == 3


def test_capacity_is_enforced(app, exam_site):
    create(app, plan(rooms=("T2",)))
    with pytest.raises(DomainError) as caught:
        call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(21))
    assert any("20 个座位" in d for d in caught.value.details)


def test_seats_can_be_moved_but_not_doubled(app, session_s1):
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(2))
    first, second = _candidates(app)

    def move(candidate, seat, session_code="S1"):
        return call(app, roster.move_seat, session_code=session_code, room="T2", seat=seat,
                    admission_number=candidate.admission_number)  # fmt: skip

    move(first, 7)
    with pytest.raises(DomainError, match="已安排给"):
        move(second, 7)
    with pytest.raises(DomainError, match="1–20"):
        move(second, 21)
    with pytest.raises(DomainError, match="不属于场次 S9"):
        move(second, 8, session_code="S9")


def test_cli_roster_import_lists_every_bad_row(app, runner, session_s1, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("姓名,性别,证件类型,证件号码\n张三,男,居民身份证,110105199803120010\n,女,居民身份证,\n",
                    encoding="utf-8")  # fmt: skip
    result = runner.invoke(args=["roster", "import", "S1", str(path)])
    assert result.exit_code == 1
    assert "第2行" in result.output and "第3行" in result.output
    good = tmp_path / "good.csv"
    good.write_bytes(roster_csv(4))
    assert runner.invoke(args=["roster", "import", "S1", str(good)]).exit_code == 0
    shown = runner.invoke(args=["sessions", "show", "S1", "--json"])
    assert '"candidates": 4' in shown.output


def test_ticket_pdf_qr_decodes_to_a_token_that_verifies(app, runner, session_s1, tmp_path):
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(3))
    out = tmp_path / "tickets.pdf"
    result = runner.invoke(args=["tickets", "S1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    decoded = decode_pdf(out.read_bytes())
    with app.app_context(), db.transaction() as s:
        public = keys.public_keys(s)
    numbers = [c.admission_number for c in _candidates(app)]
    claims = [ticket_token.verify_ticket(text, keys=public) for page in decoded for text in page]
    assert [c.admission_number for c in claims] == numbers
    assert all("*" in c.masked_id for c in claims)


def _ready_for_checkin(app):
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(4))
    _staff_fully(app)
    call(app, lifecycle.transition, session_code="S1", to="scheduled")
    call(app, lifecycle.transition, session_code="S1", to="check_in")


def _token(app, admission_number):
    with app.app_context(), db.transaction() as s:
        c = roster.get_candidate(s, admission_number)
        session = sessions.get_session(s, "S1")
        kid, private = keys.signer(s, passphrase=key_passphrase(app.config))
        return tickets.token_for(c, session, kid=kid, private_key=private)


def test_check_in_by_ticket_late_arrival_and_absentees(app, session_s1):
    _ready_for_checkin(app)
    first, second, third, fourth = _candidates(app)
    on_time = call(app, checkin.check_in_token, session_code="S1",
                   token=_token(app, first.admission_number), now=START - timedelta(minutes=10))  # fmt: skip
    assert on_time.candidate.status == CandidateStatus.PRESENT and not on_time.candidate.late
    again = call(
        app, checkin.check_in_token, session_code="S1", token=_token(app, first.admission_number)
    )
    assert again.already
    late = call(app, checkin.check_in, admission_number=second.admission_number,
                now=START + timedelta(minutes=5))  # fmt: skip
    assert late.candidate.late
    with pytest.raises(DomainError, match="开始后才能登记缺考"):
        call(app, checkin.mark_absent, session_code="S1", now=START - timedelta(minutes=1))
    absent = call(app, checkin.mark_absent, session_code="S1", now=START + timedelta(minutes=16))
    assert {c.admission_number for c in absent} == {third.admission_number, fourth.admission_number}
    with app.app_context(), db.transaction() as s:
        counts = checkin.room_counts(s, sessions.get_session(s, "S1"))
    assert [(c.room, c.present, c.late, c.absent) for c in counts] == [
        ("T1", 2, 1, 2),
        ("T2", 0, 0, 0),
    ]


def test_forged_or_foreign_tickets_are_refused(app, session_s1):
    _ready_for_checkin(app)
    number = _candidates(app)[0].admission_number
    token = _token(app, number)
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    with pytest.raises(DomainError, match="准考证二维码无效"):
        call(app, checkin.check_in_token, session_code="S1", token=forged)
    with pytest.raises(DomainError, match="不是本场次"):
        call(app, checkin.check_in_token, session_code="S9", token=token)


def test_check_in_only_while_open(app, session_s1):
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(1))
    number = _candidates(app)[0].admission_number
    with pytest.raises(DomainError, match="检录尚未开始"):
        call(app, checkin.check_in, admission_number=number)


def test_search_by_name_number_or_id_tail(app, session_s1):
    _ready_for_checkin(app)
    c = _candidates(app)[0]
    with app.app_context(), db.transaction() as s:
        session = sessions.get_session(s, "S1")
        assert [x.id for x in checkin.search(s, session, c.name)] == [c.id]
        assert [x.id for x in checkin.search(s, session, c.id_number[-6:])] == [c.id]
        assert [x.id for x in checkin.search(s, session, c.admission_number)] == [c.id]


def test_seats_asked_for_in_the_file_are_honoured_or_explained(app, session_s1):
    header = ",".join(HEADER + ["考场", "座位号"])
    rows = [
        ["张三", "男", "居民身份证", resident_id(1), "甲", "", "T2", "5"],
        ["李四", "女", "居民身份证", resident_id(2, male=False), "乙", "", "", ""],
    ]
    data = "\n".join([header] + [",".join(r) for r in rows]).encode()
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=data)
    placed = {c.name: c.seat for c in _candidates(app)}
    assert placed == {"张三": 5, "李四": 1}
    clash = [["王五", "男", "居民身份证", resident_id(3), "丙", "", "T2", "5"],
             ["赵六", "男", "居民身份证", resident_id(5), "丁", "", "T9", "1"]]  # fmt: skip
    data = "\n".join([header] + [",".join(r) for r in clash]).encode()
    with pytest.raises(DomainError) as caught:
        call(app, roster.import_roster, session_code="S1", filename="r2.csv", data=data)
    text = "\n".join(caught.value.details)
    assert "第2行 座位号: T2 第 5 座已有考生" in text
    assert "第3行 考场: 'T9' 不是本场次的理论考场" in text


def test_numbers_in_the_file_are_kept_and_generated_ones_skip_them(app, session_s1):
    header = ",".join(HEADER + ["准考证号"])
    rows = [["张三", "男", "居民身份证", resident_id(1), "甲", "", "S10001"],
            ["李四", "女", "居民身份证", resident_id(2, male=False), "乙", "", ""]]  # fmt: skip
    data = "\n".join([header] + [",".join(r) for r in rows]).encode()
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=data)
    assert sorted(c.admission_number for c in _candidates(app)) == ["S10001", "S10002"]


def test_names_too_long_for_a_ticket_are_refused(app, session_s1):
    rows = [HEADER, ["阿" * 31, "男", "居民身份证", resident_id(1), "甲", ""]]
    data = "\n".join(",".join(r) for r in rows).encode()
    with pytest.raises(DomainError) as caught:
        call(app, roster.import_roster, session_code="S1", filename="r.csv", data=data)
    assert any("第2行 姓名: 超过 30 个字符" in d for d in caught.value.details)


def test_no_entry_fifteen_minutes_after_the_start(app, session_s1):
    _ready_for_checkin(app)
    number = _candidates(app)[0].admission_number
    with pytest.raises(DomainError, match="开考 15 分钟后"):
        call(app, checkin.check_in, admission_number=number, now=START + timedelta(minutes=16))
    assert call(app, checkin.check_in, admission_number=number,
                now=START + timedelta(minutes=14)).candidate.late  # fmt: skip
