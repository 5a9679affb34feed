"""Demo site: the IRAP programme, rooms, examiner qualifications and a session open for check-in.

The roster goes through the real CSV import, with valid resident ID numbers made for the demo.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from certs.identity import check_character
from station.models.scheduling import ExamSession, Programme
from station.services import assignments, checkin, lifecycle, roster, sessions, site

SESSION_CODE = "IRAP-M-DEMO"
EXAM_CODE = "IRAP-M-EXAM"
EXAM_NAMES = ["韩雪", "冯凯", "曹颖", "彭磊", "董佳", "袁博"]
ROOMS = [("T1", "理论考场一（机房）", "theory", 40), ("P1", "工业机器人实训车间", "practical", 8)]
QUALIFIED = ["examiner1", "examiner2", "examiner3", "examiner4", "chief"]
NAMES = [
    "王子涵",
    "李思远",
    "张雨桐",
    "刘浩然",
    "陈嘉怡",
    "杨梓轩",
    "赵一鸣",
    "黄诗琪",
    "周俊杰",
    "吴欣怡",
    "徐天佑",
    "孙雅婷",
    "胡博文",
    "朱语嫣",
    "高志强",
    "林晓峰",
    "何佳琪",
    "郭明辉",
    "马若曦",
    "罗宇航",
    "梁静怡",
    "宋晨阳",
    "郑可欣",
    "谢文博",
]
EMPLOYERS = ["北京示例汽车零部件有限公司", "北京示例智能制造股份有限公司", "北京市示例高级技工学校"]
REGIONS = ["110105", "110108", "130102", "120101", "370102", "410105"]


def demo_roster(names: list[str], offset: int = 0) -> bytes:
    lines = ["姓名,性别,证件类型,证件号码,工作单位,手机号"]
    for i, name in enumerate(names, 1 + offset):
        male = i % 2 == 1
        serial = 100 + 2 * i + (1 if male else 0)
        first17 = f"{REGIONS[i % len(REGIONS)]}{1990 + i % 12}{(i % 12) + 1:02d}{(i % 27) + 1:02d}{serial:03d}"
        number = first17 + check_character(first17)
        lines.append(f"{name},{'男' if male else '女'},居民身份证,{number},"
                     f"{EMPLOYERS[i % len(EMPLOYERS)]},1380013{i:04d}")  # fmt: skip
    return ("\n".join(lines) + "\n").encode("utf-8")


def seed_site(db: Session, *, now: datetime, bank: str) -> list[str]:
    """Create what is missing; a session already there is left as it is."""
    if db.exec(select(Programme).where(Programme.code == "IRAP")).first() is None:
        site.add_programme(db, actor="demo", code="IRAP", name="工业机器人应用编程",
                           levels=["初级", "中级", "高级"], occupation_code="6-31-01-10",
                           occupation="工业机器人系统操作员", direction="工业机器人应用编程",
                           issuer_name="示例智能制造培训评价组织")  # fmt: skip
        for code, name, kind, seats in ROOMS:
            site.add_room(db, actor="demo", code=code, name=name, kind=kind, seats=seats)
        for i, username in enumerate(QUALIFIED, 1):
            assignments.add_qualification(db, actor="demo", username=username,
                                       certificate_number=f"KPY-IRAP-2025-{i:04d}",
                                       programme="IRAP", levels=["中级", "高级"])  # fmt: skip
    return _checkin_session(db, now=now, bank=bank) + _exam_session(db, now=now, bank=bank)


def _exists(db: Session, code: str) -> bool:
    return db.exec(select(ExamSession).where(ExamSession.code == code)).first() is not None


def _staff(db: Session, code: str, people: list[tuple[str, str, str | None]]) -> None:
    for username, role, room in people:
        assignments.assign(db, actor="demo", session_code=code, username=username, role=role,
                           room=room)  # fmt: skip


def open_exam(db: Session, *, actor: str, code: str, people: list, checked_in_at: datetime,
              start: datetime, reason: str = "") -> None:  # fmt: skip
    """A staffed session through check-in (everyone in ``people`` arriving at ``checked_in_at``)
    to its exam in progress at ``start``: the demo's sessions and the end-to-end tests'."""
    for state in ("scheduled", "check_in"):
        lifecycle.transition(db, actor=actor, session_code=code, to=state, now=checked_in_at)
    for person in people:
        checkin.check_in(db, actor=actor, admission_number=person.admission_number,
                         now=checked_in_at)  # fmt: skip
    lifecycle.transition(db, actor=actor, session_code=code, to="in_progress", now=start,
                         reason=reason)  # fmt: skip


def _checkin_session(db: Session, *, now: datetime, bank: str) -> list[str]:
    """Tomorrow 09:00 Beijing time, practical in the afternoon, open for check-in already."""
    if _exists(db, SESSION_CODE):
        return [f"session {SESSION_CODE} already present"]
    local_now = now.astimezone(sessions.SHANGHAI)
    start = (local_now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    start_utc = start.astimezone(UTC)
    plan = sessions.SessionPlan(
        code=SESSION_CODE, title="工业机器人应用编程（中级）2026年第4批", programme="IRAP",
        level="中级", bank=bank, theory_start=start_utc, theory_rooms=["T1"],
        practical_slots=[("P1", start_utc + timedelta(hours=4, minutes=30),
                          start_utc + timedelta(hours=8))],
    )  # fmt: skip
    sessions.create_session(db, actor="demo", plan=plan, now=now)
    roster.import_roster(db, actor="demo", session_code=SESSION_CODE, filename="demo-roster.csv",
                         data=demo_roster(NAMES))  # fmt: skip
    _staff(db, SESSION_CODE, [
        ("examiner3", "invigilator", "T1"), ("examiner1", "invigilator", "T1"),
        ("examiner1", "examiner", None), ("examiner2", "examiner", None),
        ("examiner3", "examiner", None), ("examiner4", "examiner", None),
        ("chief", "chief_examiner", None), ("supervisor", "supervisor", None),
    ])  # fmt: skip
    lifecycle.transition(db, actor="demo", session_code=SESSION_CODE, to="scheduled", now=now)
    # Opened early by hand so the check-in desk can be tried at once.
    lifecycle.transition(db, actor="demo", session_code=SESSION_CODE, to="check_in", now=now,
                         reason="演示：提前开放检录")  # fmt: skip
    return [f"session {SESSION_CODE}: {len(NAMES)} candidates, theory {sessions.local(start_utc)}, "
            "open for check-in"]  # fmt: skip


def _exam_session(db: Session, *, now: datetime, bank: str) -> list[str]:
    """A theory exam starting two minutes after the demo is seeded, everyone checked in."""
    if _exists(db, EXAM_CODE):
        return [f"session {EXAM_CODE} already present"]
    start = now.replace(microsecond=0) + timedelta(minutes=2)
    plan = sessions.SessionPlan(code=EXAM_CODE, title="工业机器人应用编程（中级）理论考试（演示）",
                                programme="IRAP", level="中级", bank=bank, theory_start=start,
                                theory_rooms=["T1"])  # fmt: skip
    sessions.create_session(db, actor="demo", plan=plan, now=now)
    added = roster.import_roster(db, actor="demo", session_code=EXAM_CODE,
                                 filename="demo-exam-roster.csv", data=demo_roster(EXAM_NAMES, offset=40))  # fmt: skip
    _staff(db, EXAM_CODE, [("examiner2", "invigilator", "T1"), ("examiner4", "invigilator", "T1"),
                           ("supervisor", "supervisor", None)])  # fmt: skip
    open_exam(db, actor="demo", code=EXAM_CODE, people=added, checked_in_at=now, start=start,
              reason="演示：理论考试开考")  # fmt: skip
    first = added[0]
    return [
        f"session {EXAM_CODE}: theory exam in progress for {len(added)} candidates; try a "
        f"terminal at /exam/ as {first.admission_number} with ID ending {first.id_number[-6:]}"
    ]
