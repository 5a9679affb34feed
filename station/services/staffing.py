"""The national staffing rules for a session, as pure functions over counts and sets.

- theory: at least one invigilator per 15 candidates in each room, and never fewer than two;
- practical: one examiner per 5 candidates, an odd number, and at least three;
- recusal: an examiner may not assess a candidate from their own organisation, nor one flagged
  as related; every candidate must still have a full panel of examiners left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

THEORY_PER_INVIGILATOR = 15
THEORY_MIN_INVIGILATORS = 2
PRACTICAL_PER_EXAMINER = 5
PRACTICAL_MIN_EXAMINERS = 3


def required_invigilators(candidates: int) -> int:
    return max(THEORY_MIN_INVIGILATORS, math.ceil(candidates / THEORY_PER_INVIGILATOR))


def required_examiners(candidates: int) -> int:
    """The smallest odd panel that meets 1 per 5 candidates and the minimum of three."""
    n = max(PRACTICAL_MIN_EXAMINERS, math.ceil(candidates / PRACTICAL_PER_EXAMINER))
    return n if n % 2 else n + 1


def theory_problems(room: str, candidates: int, invigilators: int) -> list[str]:
    """An empty room needs nobody; any other needs the ratio and at least two."""
    need = required_invigilators(candidates) if candidates else 0
    if invigilators >= need:
        return []
    return [
        f"考场 {room}：{candidates} 名考生需要至少 {need} 名监考人员（每 15 名考生至少 1 名，"
        f"每个考场不少于 2 名），现有 {invigilators} 名"
    ]


def practical_problems(candidates: int, examiners: int) -> list[str]:
    need = required_examiners(candidates)
    problems = []
    if examiners < need:
        problems.append(
            f"技能考核：{candidates} 名考生需要至少 {need} 名考评员（每 5 名考生 1 名，且为不少于 3 的奇数），"
            f"现有 {examiners} 名"
        )
    if examiners and examiners % 2 == 0:
        problems.append(f"技能考核：考评员人数须为奇数，现有 {examiners} 名")
    return problems


@dataclass(frozen=True)
class Conflict:
    examiner: str
    candidate: str
    reason: str

    def __str__(self) -> str:
        return f"考评员 {self.examiner} 须回避考生 {self.candidate}：{self.reason}"


def recusal_conflicts(examiners: dict[str, str], candidates: dict[str, str],
                      flagged: set[tuple[str, str]]) -> list[Conflict]:  # fmt: skip
    """Every examiner–candidate pair that must not meet.

    ``examiners`` and ``candidates`` map a display name to an organisation; ``flagged`` holds
    (examiner, candidate) pairs recorded as related.
    """
    conflicts = []
    for examiner, exam_org in sorted(examiners.items()):
        for candidate, cand_org in sorted(candidates.items()):
            if (examiner, candidate) in flagged:
                conflicts.append(Conflict(examiner, candidate, "已登记为有利害关系"))
            elif exam_org and exam_org.strip() == cand_org.strip():
                conflicts.append(Conflict(examiner, candidate, f"同属单位“{cand_org}”"))
    return conflicts


def panel_problems(examiners: int, conflicts: list[Conflict]) -> list[str]:
    """A candidate whose recusals leave fewer than three examiners cannot be scored."""
    per_candidate: dict[str, list[str]] = {}
    for c in conflicts:
        per_candidate.setdefault(c.candidate, []).append(c.examiner)
    problems = []
    for candidate, recused in sorted(per_candidate.items()):
        left = examiners - len(recused)
        if left < PRACTICAL_MIN_EXAMINERS:
            problems.append(
                f"考生 {candidate}：考评员 {'、'.join(recused)} 须回避，仅剩 {left} 名可评分（至少需要 3 名）"
            )
    return problems
