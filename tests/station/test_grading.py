"""Grading end to end on the service layer: theory scoring from stored answers, blind practical
marks with reconciliation, the chief examiner's rulings, sign-off, regrade and appeals."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from station import db
from station.models import AuditEntry, OutboxRecord, Result
from station.services import appeals, assignments, lifecycle, practical, regrade, results
from station.services.errors import DomainError
from tests.station.grading import (
    PANEL,
    SESSION,
    TASK,
    an_item_answered_right,
    answer_keys,
    close_theory,
    mark,
    mark_all,
    run,
    schedule,
    share,
    sit_all,
)


@pytest.fixture
def theory_done(app, client, exam_site):
    """Four candidates sat the theory exam (all right, every other one right, all wrong, none
    answered), the fifth was absent; the session is in grading. Returns (people, expected)."""
    people = schedule(app)
    expected = sit_all(app, client, people)
    close_theory(app)
    return people, expected


def test_theory_scores_come_from_the_stored_answers(app, theory_done):
    people, expected = theory_done
    assert expected[0] == 100 and expected[2] == 0 and expected[3] == 0 and 0 < expected[1] < 100
    with app.app_context(), db.transaction() as s:
        drafts, gaps = results.compute(s, lifecycle.get_session(s, SESSION))
    by_number = {d.candidate.admission_number: d for d in drafts.values()}
    for (number, _, _), score in zip(people, expected, strict=False):
        assert by_number[number].theory == pytest.approx(score)
    absent = by_number[people[4][0]]
    assert absent.outcome == "absent" and absent.theory is None
    # nobody has been marked on the practical task yet: each present candidate lacks 3 marks
    assert len(gaps) == 4 and all("缺少" in g.text for g in gaps)


def test_blind_marks_reconcile_to_the_mean(app, theory_done):
    people, _ = theory_done
    number = people[0][0]
    mark(app, "ex1", number, share(0.80))
    with pytest.raises(DomainError, match="提交本人评分之前"):
        run(app, practical.visible_marks, actor="ex2", session_code=SESSION,
            admission_number=number, task_uid=TASK)  # fmt: skip
    seen = run(app, practical.visible_marks, actor="ex1", session_code=SESSION,
               admission_number=number, task_uid=TASK)  # fmt: skip
    assert [u.username for u in seen.missing] == ["chief", "ex2"] and seen.points is None
    mark(app, "ex2", number, share(0.84))
    mark(app, "chief", number, share(0.86))
    with app.app_context(), db.transaction() as s:
        cell = practical.cells(s, lifecycle.get_session(s, SESSION))[0]
    assert cell.complete and not cell.needs_decision
    assert cell.outcome.spread == 6 and cell.points == pytest.approx((80 + 84 + 86) / 3, abs=0.005)


def test_median_when_the_programme_says_so(app, theory_done):
    people, _ = theory_done
    with app.app_context(), db.transaction() as s:
        programme = lifecycle.get_session(s, SESSION)
        from station.models import Programme

        p = s.get(Programme, programme.programme_id)
        p.reconcile_method = "median"
        s.add(p)
    for examiner, f in zip(PANEL, (0.80, 0.88, 0.82), strict=True):
        mark(app, examiner, people[0][0], share(f))
    with app.app_context(), db.transaction() as s:
        assert practical.cells(s, lifecycle.get_session(s, SESSION))[0].points == 82


@pytest.mark.parametrize(
    ("points", "vetoes", "message"),
    [
        ({**share(1), "T1-03": 21}, (), "超过该项满分 20"),
        ({**share(1), "T1-04": -1}, (), "不能为负数"),
        ({k: v for k, v in share(1).items() if k != "T1-05"}, (), "T1-05"),
        ({**share(1), "T9-99": 1}, (), "没有评分项 T9-99"),
        (share(1), ("T1-01",), "没有否决项 T1-01"),
        ({**share(1), "T1-09": 1}, (), "否决项 T1-09 不计分"),
    ],
)
def test_marks_that_do_not_fit_the_rubric_change_nothing(app, theory_done, points, vetoes, message):
    people, _ = theory_done
    with pytest.raises(DomainError, match=message):
        mark(app, "ex1", people[0][0], points, vetoes)
    with app.app_context(), db.transaction() as s:
        assert practical.cells(s, lifecycle.get_session(s, SESSION))[0].marks == []


def test_only_the_panel_marks_once_and_recusal_is_enforced(app, theory_done, create_user):
    people, _ = theory_done
    number = people[1][0]
    with pytest.raises(DomainError, match="不在考生"):
        mark(app, "inv1", number, share(1))  # an invigilator, not an examiner of the session
    mark(app, "ex1", number, share(0.9))
    with pytest.raises(DomainError, match="提交后不可更改"):
        mark(app, "ex1", number, share(0.5))
    run(app, assignments.flag_related, actor="t", session_code=SESSION, username="ex2",
        admission_number=number, reason="亲属")  # fmt: skip
    with pytest.raises(DomainError, match="须回避"):
        mark(app, "ex2", number, share(1))
    with pytest.raises(DomainError, match="缺考"):
        mark(app, "ex1", people[4][0], share(1))  # the absent candidate


def test_submitted_marks_are_final_in_the_database_too(app, theory_done):
    people, _ = theory_done
    mark(app, "ex1", people[0][0], share(0.9))
    with (pytest.raises(IntegrityError, match="final once submitted"), app.app_context(),
          db.transaction() as s):  # fmt: skip
        s.exec(text("UPDATE practical_mark SET total = 100"))


def test_a_wide_spread_goes_to_the_chief_examiner(app, theory_done):
    people, _ = theory_done
    number = people[0][0]
    for examiner, f in zip(PANEL, (0.60, 0.75, 0.72), strict=True):
        mark(app, examiner, number, share(f))
    with app.app_context(), db.transaction() as s:
        cell = practical.cells(s, lifecycle.get_session(s, SESSION))[0]
        assert cell.needs_decision and cell.points is None
        assert "评分差异 15 分，超过允许的 10 分" in cell.outcome.reasons[0]
    with pytest.raises(DomainError, match="只有本场次的考评组长"):
        run(app, practical.decide, actor="ex1", session_code=SESSION, admission_number=number,
            task_uid=TASK, points=70, veto_upheld=False, reason="复评")  # fmt: skip
    with pytest.raises(DomainError, match="须填写理由"):
        run(app, practical.decide, actor="chief", session_code=SESSION, admission_number=number,
            task_uid=TASK, points=70, veto_upheld=False, reason=" ")  # fmt: skip
    run(app, practical.decide, actor="chief", session_code=SESSION, admission_number=number,
        task_uid=TASK, points=72, veto_upheld=False, reason="复看录像，按 72 分")  # fmt: skip
    with app.app_context(), db.transaction() as s:
        assert practical.cells(s, lifecycle.get_session(s, SESSION))[0].points == 72
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "practical.decide")).one()
        assert entry.actor == "chief" and entry.reason == "复看录像，按 72 分"
    with pytest.raises(DomainError, match="已裁定"):
        run(app, practical.decide, actor="chief", session_code=SESSION, admission_number=number,
            task_uid=TASK, points=80, veto_upheld=False, reason="再改")  # fmt: skip


def test_an_upheld_veto_fails_the_candidate_whatever_the_points(app, theory_done):
    people, _ = theory_done
    number = people[0][0]  # 100 in theory
    mark(app, "ex1", number, share(0.95), vetoes=["T1-09"])
    mark(app, "ex2", number, share(0.95))
    mark(app, "chief", number, share(0.95))
    mark_all(app, [p for p in people[:4] if p[0] != number])
    with app.app_context(), db.transaction() as s:
        gaps = results.grade_session(s, actor="chief", session_code=SESSION)
    assert len(gaps) == 1 and "ex1 勾选了否决项 T1-09" in gaps[0]
    run(app, practical.decide, actor="chief", session_code=SESSION, admission_number=number,
        task_uid=TASK, points=95, veto_upheld=True, reason="未戴安全帽进入工作区")  # fmt: skip
    with app.app_context(), db.transaction() as s:
        assert results.grade_session(s, actor="chief", session_code=SESSION) == []
        rows = {r.candidate.admission_number: r.result for r in
                results.session_rows(s, lifecycle.get_session(s, SESSION))}  # fmt: skip
    assert rows[number].theory == 100 and rows[number].practical == 0
    assert rows[number].outcome == "failed"


def test_results_cannot_be_finalised_while_marks_are_missing(app, theory_done):
    people, _ = theory_done
    mark_all(app, people[:3])
    mark(app, "ex1", people[3][0], share(0.5))
    with app.app_context(), db.transaction() as s:
        results.grade_session(s, actor="chief", session_code=SESSION)
    with pytest.raises(DomainError) as caught:
        run(app, lifecycle.transition, actor="chief", session_code=SESSION, to="review")
    assert any("缺少" in d and "ex2" in d and "chief" in d for d in caught.value.details)


def _to_review(app, people):
    mark_all(app, people)
    with app.app_context(), db.transaction() as s:
        assert results.grade_session(s, actor="chief", session_code=SESSION) == []
    run(app, lifecycle.transition, actor="chief", session_code=SESSION, to="review")


def test_pass_rule_and_sign_off_lock_the_results(app, theory_done):
    people, expected = theory_done
    _to_review(app, people)
    with app.app_context(), db.transaction() as s:
        rows = {r.candidate.admission_number: r.result for r in
                results.session_rows(s, lifecycle.get_session(s, SESSION))}  # fmt: skip
    outcomes = [rows[n].outcome.value for n, _, _ in people]
    theory_pass = ["passed" if t >= 60 else "failed" for t in expected]
    assert outcomes == theory_pass + ["absent"]
    assert all(rows[n].practical == 90 for n, _, _ in people[:4])
    with pytest.raises(DomainError, match="只有本场次的督导员"):
        run(app, results.sign_off, actor="chief", session_code=SESSION)
    run(app, results.sign_off, actor="sup", session_code=SESSION, note="核对无误")
    with pytest.raises(DomainError, match="不能再次签字"):
        run(app, results.sign_off, actor="sup", session_code=SESSION)
    with pytest.raises(DomainError, match="签字确认锁定"):
        run(app, results.grade_session, actor="chief", session_code=SESSION)
    with pytest.raises(DomainError, match="不能退回评分"):
        run(app, lifecycle.transition, actor="chief", session_code=SESSION, to="grading")
    with (pytest.raises(IntegrityError, match="only by a new version"), app.app_context(),
          db.transaction() as s):  # fmt: skip
        s.exec(text("UPDATE result SET theory = 99"))
    run(app, lifecycle.transition, actor="sup", session_code=SESSION, to="published")


def test_regrade_dry_run_then_apply_as_a_new_version(app, theory_done):
    people, expected = theory_done
    _to_review(app, people)
    run(app, results.sign_off, actor="sup", session_code=SESSION)
    uid, right = an_item_answered_right(app, people[0][0])
    keys = answer_keys(app)
    assert "".join(keys[uid]) == right
    new_key = "T" if right == "F" else "F" if right == "T" else ("B" if right != "B" else "A")
    run(app, regrade.correct_key, actor="chief", session_code=SESSION, item_uid=uid,
        answer=new_key, reason="标准答案有误")  # fmt: skip
    dry = run(app, regrade.regrade, actor="chief", session_code=SESSION)
    changed = {c.admission_number: c for c in dry}
    assert people[0][0] in changed and changed[people[0][0]].before["theory"] == 100
    assert changed[people[0][0]].after["theory"] < 100
    with app.app_context(), db.transaction() as s:  # a dry run writes nothing
        assert all(r.version == 1 for r in s.exec(select(Result)))
    with pytest.raises(DomainError, match="须填写理由"):
        run(app, regrade.regrade, actor="chief", session_code=SESSION, apply=True)
    applied = run(app, regrade.regrade, actor="chief", session_code=SESSION, apply=True,
                  reason="第 1 题答案更正")  # fmt: skip
    assert [c.to_dict() for c in applied] == [c.to_dict() for c in dry]
    with app.app_context(), db.transaction() as s:
        from station.services import roster

        c = roster.get_candidate(s, people[0][0])
        versions = results.history(s, c)
        assert [(v.version, v.current) for v in versions] == [(1, False), (2, True)]
        assert (
            versions[0].theory == 100
            and versions[1].theory == changed[people[0][0]].after["theory"]
        )
        assert "重新评分" in versions[1].reason
        revised = s.exec(select(OutboxRecord).where(OutboxRecord.kind == "result_summary")
                         .order_by(OutboxRecord.seq)).all()[-1].payload  # fmt: skip
        assert revised["revision"] == 2 and revised["revision_reason"].startswith("重新评分")
    assert run(app, regrade.regrade, actor="chief", session_code=SESSION) == []


def test_key_correction_is_checked(app, theory_done):
    uid = next(iter(answer_keys(app)))
    with pytest.raises(DomainError, match="须填写理由"):
        run(app, regrade.correct_key, actor="chief", session_code=SESSION, item_uid=uid,
            answer="A", reason="")  # fmt: skip
    with pytest.raises(DomainError, match="没有试题"):
        run(app, regrade.correct_key, actor="chief", session_code=SESSION, item_uid="NOPE",
            answer="A", reason="x")  # fmt: skip
    with pytest.raises(DomainError, match="没有选项 Z"):
        run(app, regrade.correct_key, actor="chief", session_code=SESSION, item_uid=uid,
            answer="Z", reason="x")  # fmt: skip


def test_appeals_are_recorded_reviewed_and_resolved(app, theory_done):
    people, _ = theory_done
    number = people[3][0]  # answered nothing: theory 0
    _to_review(app, people)
    with pytest.raises(DomainError, match="尚未公布"):
        run(app, appeals.lodge, actor="sup", admission_number=number, part="theory",
            statement="交卷时网络中断")  # fmt: skip
    run(app, results.sign_off, actor="sup", session_code=SESSION)
    run(app, lifecycle.transition, actor="sup", session_code=SESSION, to="published")
    first = run(app, appeals.lodge, actor="sup", admission_number=number, part="theory",
                statement="交卷时网络中断")  # fmt: skip
    with pytest.raises(DomainError, match="尚在处理中"):
        run(app, appeals.lodge, actor="sup", admission_number=number, part="theory", statement="再")
    with pytest.raises(DomainError, match="只有考评组长或督导员"):
        run(app, appeals.resolve, actor="ex1", appeal_id=first.id, upheld=False, reason="x")
    run(app, appeals.resolve, actor="sup", appeal_id=first.id, upheld=True,
        reason="核查日志：答案已作答未保存，按纸质记录重评", score=64)  # fmt: skip
    with pytest.raises(DomainError, match="已处理"):
        run(app, appeals.resolve, actor="sup", appeal_id=first.id, upheld=False, reason="x")
    second = run(app, appeals.lodge, actor="sup", admission_number=number, part="practical",
                 statement="评分偏低")  # fmt: skip
    run(app, appeals.resolve, actor="chief", appeal_id=second.id, upheld=False, reason="复核无误")
    with app.app_context(), db.transaction() as s:
        from station.services import roster

        versions = results.history(s, roster.get_candidate(s, number))
        assert [(v.version, v.theory, v.outcome.value) for v in versions] == [
            (1, 0, "failed"), (2, 64, "passed")]  # fmt: skip
        assert versions[1].detail["overrides"] == {"theory": 64}
        # a later regrade keeps what the appeal decided
        assert regrade.regrade(s, actor="chief", session_code=SESSION) == []
        # the province learns the new pass count: the summary again, as revision 2 (the
        # dismissed appeal changed nothing, so it sent nothing)
        summaries = [r.payload for r in s.exec(select(OutboxRecord).where(
            OutboxRecord.kind == "result_summary").order_by(OutboxRecord.seq))]  # fmt: skip
        assert [p.get("revision") for p in summaries] == [None, 2]
        assert summaries[1]["passed"] == summaries[0]["passed"] + 1
        assert summaries[1]["by_outcome"]["passed"] == summaries[1]["passed"]
        assert summaries[1]["signed_off_at"] == summaries[0]["signed_off_at"]
        assert summaries[1]["results_digest"] != summaries[0]["results_digest"]
        assert summaries[1]["revision_reason"].startswith(f"复核 #{first.id}")


def test_cli_grade_and_results(app, theory_done, runner):
    import json

    people, expected = theory_done
    first = runner.invoke(args=["grade", SESSION])
    assert first.exit_code == 2 and "0/5" not in first.output and "缺少" in first.output
    mark_all(app, people)
    done = runner.invoke(args=["grade", SESSION])
    assert done.exit_code == 0, done.output
    assert "5/5 名考生已评定成绩" in done.output
    shown = runner.invoke(args=["results", SESSION, "--json"])
    payload = json.loads(shown.output)
    assert payload["signed_off_by"] is None
    assert [r["theory"] for r in payload["results"]] == [*expected, None]
    assert [r["outcome"] for r in payload["results"]][-1] == "absent"
    missing = runner.invoke(args=["results", "NOPE"])
    assert missing.exit_code == 1 and "NOPE" in missing.output


def test_itemstats_for_a_session_a_bank_and_a_csv(app, theory_done, runner, tmp_path):
    import json

    people, _ = theory_done
    out = runner.invoke(args=["itemstats", SESSION, "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["scope"] == f"场次 {SESSION}" and report["test"]["n_candidates"] == 4
    # candidate 1 got everything right, candidate 3 everything wrong: every item seen by both
    # of them and someone in between discriminates positively
    row = report["items"][0]
    assert {"facility", "discrimination_index", "distractors", "key", "type"} <= set(row)
    assert sum(o["count"] for o in row["distractors"]) == row["n"]
    bank = json.loads(runner.invoke(args=["itemstats", "--bank", "IRAP-M", "--json"]).output)
    assert bank["test"]["n_candidates"] == 4
    matrix = tmp_path / "m.csv"
    matrix.write_text("q1,q2,q3\n1,1,2\n1,0,2\n0,1,1\n1,1,0\n0,0,0\n", encoding="utf-8")
    csv = json.loads(runner.invoke(args=["itemstats", "--matrix", str(matrix), "--json"]).output)
    assert csv["test"]["n_candidates"] == 4 and csv["items"][0]["facility"] == 0.5
    bad = tmp_path / "bad.csv"
    bad.write_text("q1,q2\n1,1\n2,0\n", encoding="utf-8")
    refused = runner.invoke(args=["itemstats", "--matrix", str(bad)])
    assert refused.exit_code == 1 and "第3行 q1" in refused.output and "超过满分" in refused.output
    both = runner.invoke(args=["itemstats", SESSION, "--bank", "IRAP-M"])
    assert both.exit_code == 2 and "exactly one" in both.output
