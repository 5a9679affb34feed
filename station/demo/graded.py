"""Demo sessions after the exam: one being graded (marks partly in, one ruling to make, nothing
signed), one finished (signed off, published, certificates issued).

The candidates really sat the exam through the attempt service, with answers drawn from each
one's ability, so grading, item analysis and certificates all work on realistic data.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlmodel import Session, select

from question_bank.assembly import Form
from station.demo.site import demo_roster, open_exam
from station.models import Answer, BankVersion
from station.models.scheduling import ExamSession
from station.services import (
    attempts,
    banks,
    exam_forms,
    lifecycle,
    practical,
    results,
    roster,
    sessions,
)
from station.services.assignments import assign

GRADE_CODE = "IRAP-M-GRADE"
DONE_CODE = "IRAP-M-DONE"
TASK = "IRAP-M-P-01"
GRADE_NAMES = ["蒋涛", "沈悦", "韦健", "秦瑶", "许诺", "尤佳", "吕斌", "施琪"]
DONE_NAMES = ["潘越", "杜娟", "戴伟", "夏雪", "钟鸣", "汪洋", "田甜", "任重", "姜宁", "范哲"]
PANEL = ["chief", "examiner1", "examiner2"]


def _exists(db: Session, code: str) -> bool:
    return db.exec(select(ExamSession).where(ExamSession.code == code)).first() is not None


def _sit(db: Session, code: str, names: list[str], *, start: datetime, bank: str,
         offset: int, seed: int) -> list:  # fmt: skip
    """Schedule a past session and have its candidates sit the theory exam."""
    plan = sessions.SessionPlan(
        code=code, title=f"工业机器人应用编程（中级）演示场次 {code}", programme="IRAP",
        level="中级", bank=bank, theory_start=start, theory_rooms=["T1"],
        practical_slots=[("P1", start + timedelta(hours=4), start + timedelta(hours=7))],
        practical_tasks=[TASK])  # fmt: skip
    sessions.create_session(db, actor="demo", plan=plan, now=start - timedelta(days=3))
    people = roster.import_roster(db, actor="demo", session_code=code, filename=f"{code}.csv",
                                  data=demo_roster(names, offset=offset))  # fmt: skip
    for username, role, room in [("examiner3", "invigilator", "T1"),
                                 ("examiner4", "invigilator", "T1"), ("chief", "chief_examiner", None),
                                 ("examiner1", "examiner", None), ("examiner2", "examiner", None),
                                 ("supervisor", "supervisor", None)]:  # fmt: skip
        assign(db, actor="demo", session_code=code, username=username, role=role, room=room)
    open_exam(db, actor="demo", code=code, people=people,
              checked_in_at=start - timedelta(hours=1), start=start)  # fmt: skip
    session = sessions.get_session(db, code)
    keys = {i.uid: i for i in banks.load_items(db, db.get(BankVersion, session.bank_version_id))}
    rng = random.Random(seed)
    for n, person in enumerate(people):
        ability = 0.45 + 0.5 * rng.random()
        moment = start + timedelta(minutes=2 + n)
        attempt = attempts.login(db, admission_number=person.admission_number,
                                 id_last6=person.id_number[-6:], terminal=f"demo-{n}",
                                 now=moment).attempt  # fmt: skip
        attempts.start(db, attempt, now=moment)
        form = Form.from_dict(exam_forms.attempt_form(db, attempt))
        for seq, entry in enumerate(form.entries, 1):
            item = keys[entry.uid]
            choices = [o.key for o in item.options] or ["T", "F"]  # true/false items list none
            others = [k for k in choices if k not in item.answer]
            chosen = "".join(item.answer) if rng.random() < ability else rng.choice(others)
            db.add(Answer(attempt_id=attempt.id, item_uid=entry.uid, response=chosen, seq=seq,
                          saved_at=moment + timedelta(seconds=40 * seq)))  # fmt: skip
        attempt.last_seq = attempt.answered = len(form.entries)
        attempts.submit(db, attempt, now=start + timedelta(minutes=60 + n), seq=len(form.entries))
    lifecycle.transition(db, actor="demo", session_code=code, to="grading",
                         now=start + timedelta(minutes=session.theory_minutes + 1))  # fmt: skip
    return people


def _marks(db: Session, code: str, person, examiner: str, level: float, rng: random.Random,
           vetoes: tuple = ()) -> None:  # fmt: skip
    task = practical.get_task(db, sessions.get_session(db, code), TASK)
    points = {c.code: round(c.max_points * min(1.0, max(0.0, level + rng.uniform(-0.04, 0.04))))
              for c in task.criteria if not c.veto}  # fmt: skip
    practical.submit_marks(db, actor=examiner, session_code=code,
                           admission_number=person.admission_number, task_uid=TASK,
                           points=points, vetoes=list(vetoes))  # fmt: skip


def seed_grading(db: Session, *, now: datetime, bank: str) -> list[str]:
    """Yesterday's session: most marks in, examiner2 still to mark two candidates, one spread
    for the chief examiner to rule on."""
    if _exists(db, GRADE_CODE):
        return [f"session {GRADE_CODE} already present"]
    start = (now - timedelta(days=1)).replace(microsecond=0)
    people = _sit(db, GRADE_CODE, GRADE_NAMES, start=start, bank=bank, offset=60, seed=7)
    rng = random.Random(11)
    for n, person in enumerate(people):
        level = 0.55 + 0.4 * rng.random()
        for examiner in PANEL:
            if examiner == "examiner2" and n >= len(people) - 2:
                continue  # still to come: the missing-marks board shows it
            spread = -0.2 if (n == 0 and examiner == "examiner1") else 0.0
            _marks(db, GRADE_CODE, person, examiner, level + spread, rng)
    return [f"session {GRADE_CODE}: in grading; examiner2 still has 2 candidates to score and "
            f"{people[0].admission_number} awaits the chief examiner's ruling"]  # fmt: skip


def seed_done(db: Session, *, now: datetime, bank: str) -> list[ExamSession]:
    """Last week's session, graded, signed off by the supervisor and published."""
    if _exists(db, DONE_CODE):
        return []
    start = (now - timedelta(days=7)).replace(microsecond=0)
    people = _sit(db, DONE_CODE, DONE_NAMES, start=start, bank=bank, offset=80, seed=3)
    rng = random.Random(5)
    for person in people:
        level = 0.5 + 0.45 * rng.random()
        for examiner in PANEL:
            _marks(db, DONE_CODE, person, examiner, level, rng)
    assert results.grade_session(db, actor="chief", session_code=DONE_CODE) == []
    lifecycle.transition(db, actor="chief", session_code=DONE_CODE, to="review")
    results.sign_off(db, actor="supervisor", session_code=DONE_CODE, note="演示：已核对")
    lifecycle.transition(db, actor="supervisor", session_code=DONE_CODE, to="published")
    return [sessions.get_session(db, DONE_CODE)]
