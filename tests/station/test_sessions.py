"""Scheduling rules: session plans, room double booking, staffing ratios, recusal, states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from station import db
from station.jobs import session_clock
from station.models.scheduling import SessionState
from station.services import assignments, lifecycle, roster, sessions, staffing
from station.services.errors import DomainError
from tests.station.rosters import roster_csv

START = datetime(2030, 12, 5, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


def plan(
    code="S1", rooms=("T1",), start=START, minutes=90, slots=None, **kw
) -> sessions.SessionPlan:
    if slots is None:
        slots = [("P1", start + timedelta(hours=4), start + timedelta(hours=7))]
    return sessions.SessionPlan(code=code, title="工业机器人应用编程（中级）第一批", programme="IRAP",
                                level=kw.pop("level", "中级"), bank="IRAP-M", theory_start=start,
                                theory_minutes=minutes, theory_rooms=list(rooms),
                                practical_slots=slots, **kw)  # fmt: skip


def create(app, p):
    with app.app_context(), db.transaction() as s:
        return sessions.create_session(s, actor="admin", plan=p)


def assign(app, code, user, role, room=None):
    with app.app_context(), db.transaction() as s:
        return assignments.assign(
            s, actor="admin", session_code=code, username=user, role=role, room=room
        )


def call(app, fn, **kwargs):
    with app.app_context(), db.transaction() as s:
        return fn(s, actor="admin", **kwargs)


# --- pure rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidates", "needed"), [(0, 2), (15, 2), (30, 2), (31, 3), (45, 3), (46, 4)]
)
def test_theory_needs_one_invigilator_per_15_and_at_least_two(candidates, needed):
    assert staffing.required_invigilators(candidates) == needed


@pytest.mark.parametrize(
    ("candidates", "needed"), [(1, 3), (15, 3), (16, 5), (20, 5), (21, 5), (26, 7), (30, 7)]
)
def test_practical_panel_is_odd_at_least_three_and_one_per_five(candidates, needed):
    assert staffing.required_examiners(candidates) == needed
    assert needed % 2 == 1


def test_even_panel_is_explained():
    problems = staffing.practical_problems(10, 4)
    assert any("奇数" in p for p in problems)


def test_recusal_same_organisation_and_flagged():
    conflicts = staffing.recusal_conflicts(
        {"ex1": "甲公司", "ex2": "乙公司", "ex3": ""},
        {"A001": "甲公司", "A002": "丙公司"},
        {("ex2", "A002")},
    )
    assert {(c.examiner, c.candidate) for c in conflicts} == {("ex1", "A001"), ("ex2", "A002")}
    assert "同属单位" in str(conflicts[0])
    assert staffing.panel_problems(3, conflicts)  # three examiners, one recused: two left


# --- sessions ----------------------------------------------------------------------------------


def test_create_session_happy_path(app, exam_site):
    created = create(app, plan())
    assert created.state == SessionState.DRAFT
    assert created.blueprint == "IRAP-M-理论-A"


def test_bad_plan_reports_every_problem_and_saves_nothing(app, exam_site):
    bad = plan(code="S2", rooms=("T9", "P1"), minutes=60, level="五级",
               start=datetime(2020, 1, 1, tzinfo=UTC), slots=[])  # fmt: skip
    with pytest.raises(DomainError) as caught:
        create(app, bad)
    details = "\n".join(caught.value.details)
    assert "等级 '五级' 不属于证书项目 IRAP" in details
    assert "不少于 90 分钟" in details
    assert "已过" in details
    assert "考场 'T9' 不存在" in details
    assert "考场 P1 是实操考场，不能用作理论考场" in details
    with app.app_context(), db.transaction() as s:
        assert sessions.list_sessions(s) == []


def test_malformed_dates_are_named():
    with pytest.raises(DomainError, match="2026-02-30 09:00"):
        sessions.parse_local_time("2026-02-30 09:00", "开始时间")
    assert sessions.parse_local_time("2026-12-05 09:00") == datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


def test_overlapping_sessions_in_one_room_are_refused(app, exam_site):
    create(app, plan(code="S1"))
    with pytest.raises(DomainError) as caught:
        create(app, plan(code="S2", start=START + timedelta(minutes=60), slots=[]))
    assert any("考场 T1" in d and "S1" in d and "重叠" in d for d in caught.value.details)
    create(app, plan(code="S3", rooms=("T2",), slots=[]))  # another room at the same time is fine


def test_unqualified_examiner_is_explained(app, exam_site):
    create(app, plan())
    with pytest.raises(DomainError) as caught:
        assign(app, "S1", "inv1", "examiner")
    assert any("没有 工业机器人应用编程（中级）的考评员资格" in d for d in caught.value.details)
    with pytest.raises(DomainError) as caught:
        assign(app, "S1", "sup", "examiner")
    assert any("没有担任考评员所需的角色" in d for d in caught.value.details)


def test_expired_qualification_is_refused(app, exam_site):
    from datetime import date

    call(app, assignments.add_qualification, username="inv1", certificate_number="KP-old",
         programme="IRAP", levels=["中级"], valid_until=date(2029, 1, 1))  # fmt: skip
    create(app, plan())
    with pytest.raises(DomainError) as caught:
        assign(app, "S1", "inv1", "examiner")
    assert any("已于 2029-01-01 过期" in d for d in caught.value.details)


def test_examiner_cannot_be_double_booked(app, exam_site):
    create(app, plan(code="S1"))
    create(app, plan(code="S2", rooms=("T2",), slots=[]))
    assign(app, "S1", "inv1", "invigilator", room="T1")
    with pytest.raises(DomainError) as caught:
        assign(app, "S2", "inv1", "invigilator", room="T2")
    assert any("已安排在场次 S1" in d and "时间重叠" in d for d in caught.value.details)


def test_invigilator_needs_a_theory_room_of_the_session(app, exam_site):
    create(app, plan())
    with pytest.raises(DomainError) as caught:
        assign(app, "S1", "inv1", "invigilator", room="T2")
    assert any("理论考场（T1）" in d for d in caught.value.details)


def _staff_fully(app, code="S1"):
    assign(app, code, "inv1", "invigilator", room="T1")
    assign(app, code, "inv2", "invigilator", room="T1")
    for name in ("ex1", "ex2"):
        assign(app, code, name, "examiner")
    assign(app, code, "chief", "chief_examiner")  # the chief sits on the panel: three in all
    assign(app, code, "sup", "supervisor")


def test_ratios_block_check_in_until_met(app, exam_site):
    create(app, plan())
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(20))
    with pytest.raises(DomainError) as caught:
        call(app, lifecycle.transition, session_code="S1", to="scheduled")
    details = "\n".join(caught.value.details)
    assert "考场 T1：20 名考生需要至少 2 名监考人员" in details
    assert "20 名考生需要至少 5 名考评员" in details
    assert "督导员" in details
    _staff_fully(app)
    with pytest.raises(DomainError, match="至少 5 名考评员"):
        call(app, lifecycle.transition, session_code="S1", to="scheduled")


def test_state_machine_and_audit(app, exam_site):
    create(app, plan())
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(10))
    _staff_fully(app)
    call(app, lifecycle.transition, session_code="S1", to="scheduled")
    with pytest.raises(DomainError, match="不能转为“考试中”"):
        call(app, lifecycle.transition, session_code="S1", to="in_progress")
    call(app, lifecycle.transition, session_code="S1", to="check_in")
    with pytest.raises(DomainError, match="尚未到开考时间"):
        call(app, lifecycle.transition, session_code="S1", to="in_progress")
    with app.app_context(), db.transaction() as s:
        from sqlmodel import select

        from station.models import AuditEntry

        moves = s.exec(select(AuditEntry).where(AuditEntry.action == "session.transition")).all()
    assert [m.data["to"] for m in moves] == ["scheduled", "check_in"]
    with pytest.raises(DomainError, match="不能再修改安排"):
        assign(app, "S1", "inv3", "invigilator", room="T1")


def test_same_organisation_recusal_is_explained_and_blocks_scheduling(app, exam_site):
    create(app, plan())
    call(app, roster.import_roster, session_code="S1", filename="r.csv",
         data=roster_csv(3, organisation="甲公司"))  # ex1 works there  # fmt: skip
    _staff_fully(app)
    with app.app_context(), db.transaction() as s:
        session = sessions.get_session(s, "S1")
        conflicts = assignments.recusals(s, session)
        problems = assignments.staffing_report(s, session)
    assert {c.examiner for c in conflicts} == {"ex1"}
    assert all("同属单位“甲公司”" in str(c) for c in conflicts)
    assert sum("仅剩 2 名可评分" in p for p in problems) == 3
    with pytest.raises(DomainError, match="不能转为“已排期”"):
        call(app, lifecycle.transition, session_code="S1", to="scheduled")


def test_flagged_relationship_is_a_recusal(app, exam_site):
    create(app, plan())
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(3))
    _staff_fully(app)
    call(app, lifecycle.transition, session_code="S1", to="scheduled")
    with app.app_context(), db.transaction() as s:
        number = roster.candidates(s, sessions.get_session(s, "S1"))[0].admission_number
    call(
        app,
        assignments.flag_related,
        session_code="S1",
        username="ex2",
        admission_number=number,
        reason="亲属",
    )
    with app.app_context(), db.transaction() as s:
        problems = assignments.staffing_report(s, sessions.get_session(s, "S1"))
    assert problems == [f"考生 {number}：考评员 ex2 须回避，仅剩 2 名可评分（至少需要 3 名）"]


def test_session_clock_opens_check_in_and_starts_the_exam(app, exam_site):
    create(app, plan())
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(5))
    _staff_fully(app)
    call(app, lifecycle.transition, session_code="S1", to="scheduled")
    assert session_clock(app, now=START - timedelta(hours=2)) == []
    assert session_clock(app, now=START - timedelta(minutes=20)) == ["S1:check_in"]
    assert session_clock(app, now=START + timedelta(minutes=1)) == ["S1:in_progress"]


def test_one_person_is_one_vote_on_the_panel(app, exam_site):
    create(app, plan())
    assign(app, "S1", "chief", "chief_examiner")
    with pytest.raises(DomainError, match="已在本场次担任考评组长"):
        assign(app, "S1", "chief", "examiner")


def test_a_renewed_qualification_counts_despite_an_expired_one(app, exam_site):
    from datetime import date

    for cert, until in (("KP-old", date(2029, 1, 1)), ("KP-new", date(2032, 1, 1))):
        call(app, assignments.add_qualification, username="inv1", certificate_number=cert,
             programme="IRAP", levels=["中级"], valid_until=until)  # fmt: skip
    create(app, plan())
    assign(app, "S1", "inv1", "examiner")


def test_session_codes_must_fit_admission_numbers(app, exam_site):
    with pytest.raises(DomainError, match="2–20 位字母、数字或连字符"):
        create(app, plan(code="第一批 考试"))


def test_states_past_the_exam_need_their_work_done_first(app, exam_site):
    create(app, plan())
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(3))
    _staff_fully(app)
    for state in ("scheduled", "check_in"):
        call(app, lifecycle.transition, session_code="S1", to=state)
    call(app, lifecycle.transition, session_code="S1", to="in_progress", now=START)
    with pytest.raises(DomainError, match="理论考试尚未结束"):
        call(
            app,
            lifecycle.transition,
            session_code="S1",
            to="grading",
            now=START + timedelta(minutes=5),
        )
    call(
        app,
        lifecycle.transition,
        session_code="S1",
        to="grading",
        now=START + timedelta(minutes=91),
    )
    # Review needs every result graded first; publication needs the supervisor's sign-off.
    with pytest.raises(DomainError) as refused:
        call(app, lifecycle.transition, session_code="S1", to="review")
    assert any("请先评定成绩" in d or "缺少" in d for d in refused.value.details)


def test_cli_recuse_records_a_relationship(app, runner, exam_site):
    create(app, plan())
    call(app, roster.import_roster, session_code="S1", filename="r.csv", data=roster_csv(1))
    with app.app_context(), db.transaction() as s:
        number = roster.candidates(s, sessions.get_session(s, "S1"))[0].admission_number
    ok = runner.invoke(args=["sessions", "recuse", "S1", "ex1", number, "--reason", "师生"])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(args=["sessions", "recuse", "S1", "ex1", number, "--reason", "师生"])
    assert again.exit_code == 1 and "已登记" in again.output


def test_lateness_counts_from_when_the_exam_actually_opened():
    from datetime import datetime, timedelta

    from station.models.scheduling import ExamSession
    from station.services.attempts import lateness

    start = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    session = ExamSession(code="X", title="X", programme_id=1, level="中级", bank_version_id=1,
                          blueprint="b", theory_start=start)  # fmt: skip
    assert lateness(session, start - timedelta(minutes=3)) == 0
    assert lateness(session, start + timedelta(minutes=7)) == 420
    session.opened_at = start + timedelta(minutes=10)  # the room opened ten minutes late
    assert lateness(session, start + timedelta(minutes=10)) == 0
    assert lateness(session, start + timedelta(minutes=15)) == 300
