"""Small factories for item-bank tests: items, blueprints and banks that fit them.

``make_blueprint()`` is a realistic 细目表 in miniature (three levels of scopes, X/Y/Z knowledge
points with weights adding to 100, 单选/多选/判断 adding to 100 points); ``make_bank(bp)`` fills
it with items; ``make_item`` makes one item. Everything is deterministic for a given seed.
"""

from __future__ import annotations

import random

from question_bank.blueprint import Blueprint, Cell, KnowledgePoint, Scope, Section
from question_bank.items import Importance, Item, ItemType, Option, Status

SINGLE, MULTIPLE, TF = ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE, ItemType.TRUE_FALSE

# scope code, name, parent
SCOPES = [
    ("A", "基本要求", None),
    ("A-01", "职业道德", "A"),
    ("A-02", "安全知识", "A"),
    ("B", "相关知识", None),
    ("B-01", "工业机器人参数设置", "B"),
    ("B-02", "机器人编程基础", "B"),
    ("B-02-1", "示教编程", "B-02"),
    ("B-02-2", "离线编程", "B-02"),
]
# knowledge point code, name, scope, importance, weight (adds to 100)
KNOWLEDGE_POINTS = [
    ("A-01-001", "职业道德基本知识", "A-01", "X", 8),
    ("A-01-002", "职业守则", "A-01", "Y", 6),
    ("A-02-001", "安全操作规程", "A-02", "X", 10),
    ("A-02-002", "电气安全", "A-02", "Y", 6),
    ("A-02-003", "安全标准", "A-02", "Z", 4),
    ("B-01-001", "坐标系", "B-01", "X", 10),
    ("B-01-002", "工具坐标系标定", "B-01", "X", 8),
    ("B-01-003", "负载辨识", "B-01", "Z", 4),
    ("B-02-001", "示教器操作", "B-02-1", "X", 10),
    ("B-02-002", "程序数据", "B-02-1", "Y", 8),
    ("B-02-003", "运动指令", "B-02-1", "X", 8),
    ("B-02-004", "仿真工作站", "B-02-2", "Y", 10),
    ("B-02-005", "离线轨迹", "B-02-2", "Z", 8),
]
# 单选 40 × 1 + 多选 15 × 2 + 判断 30 × 1 = 100
SECTIONS = [(SINGLE, 1.0), (MULTIPLE, 2.0), (TF, 1.0)]
CELLS = [
    ("A-01", SINGLE, 5),
    ("A-02", SINGLE, 7),
    ("B-01", SINGLE, 10),
    ("B-02-1", SINGLE, 10),
    ("B-02-2", SINGLE, 8),
    ("A", MULTIPLE, 5),  # a top-level cell: drawn from together
    ("B-01", MULTIPLE, 4),
    ("B-02", MULTIPLE, 6),
    ("A-01", TF, 5),
    ("A-02", TF, 5),
    ("B", TF, 20),
]


def make_blueprint(
    name: str = "BP-TEST",
    *,
    scopes=None,
    knowledge_points=None,
    sections=None,
    cells=None,
    total_points: float = 100.0,
) -> Blueprint:
    """The default miniature 细目表, or one built from tuples like the module constants."""
    return Blueprint(
        name=name,
        title="测试用鉴定要素细目表",
        total_points=total_points,
        scopes=[Scope(*s) for s in (SCOPES if scopes is None else scopes)],
        knowledge_points=[
            KnowledgePoint(code, kp_name, scope, Importance(imp), float(weight))
            for code, kp_name, scope, imp, weight in (
                KNOWLEDGE_POINTS if knowledge_points is None else knowledge_points
            )
        ],
        sections=[Section(t, p) for t, p in (SECTIONS if sections is None else sections)],
        cells=[Cell(*c) for c in (CELLS if cells is None else cells)],
    )


def make_item(
    uid: str = "T-0001",
    *,
    type: ItemType = SINGLE,  # mirrors Item.type
    knowledge_point: str | None = "A-01-001",
    difficulty: float | None = 0.5,
    status: Status = Status.ACTIVE,
    version: int = 1,
    options: int | None = None,
    importance: Importance | None = None,
) -> Item:
    """One item. Choice items get ``options`` options (4 single, 5 multiple by default)."""
    if type == TF:
        opts: tuple[Option, ...] = ()
        answer: tuple[str, ...] = ("T",)
    else:
        n = options if options is not None else (4 if type == SINGLE else 5)
        opts = tuple(Option(k, f"选项 {k}") for k in "ABCDEFGH"[:n])
        answer = ("A",) if type == SINGLE else ("A", "C")
    return Item(
        uid=uid,
        type=type,
        stem=f"<p>试题 {uid}</p>",
        answer=answer,
        options=opts,
        version=version,
        knowledge_point=knowledge_point,
        importance=importance,
        difficulty=difficulty,
        status=status,
    )


def make_bank(
    bp: Blueprint | None = None,
    *,
    per_point: int | dict[ItemType, int] = 10,
    seed: int = 0,
    difficulty_missing: float = 0.05,
    prefix: str = "Q",
) -> list[Item]:
    """``per_point`` items of each type (or a count per type) for every knowledge point of
    ``bp``, difficulties spread over [0.05, 0.95] (a few without an estimate)."""
    bp = bp or make_blueprint()
    rng = random.Random(seed)
    counts = per_point if isinstance(per_point, dict) else {t: per_point for t in ItemType}
    items = []
    n = 0
    for kp in bp.knowledge_points:
        for item_type in ItemType:
            for _ in range(counts.get(item_type, 0)):
                n += 1
                difficulty = (
                    None
                    if rng.random() < difficulty_missing
                    else round(min(0.95, max(0.05, rng.betavariate(2.2, 2.8))), 3)
                )
                items.append(
                    make_item(
                        f"{prefix}-{n:06d}",
                        type=item_type,
                        knowledge_point=kp.code,
                        difficulty=difficulty,
                        importance=kp.importance,
                    )
                )
    return items


def items_for(items: list[Item], uids) -> list[Item]:
    """The items with these uids, in the given order."""
    by_uid = {i.uid: i for i in items}
    return [by_uid[u] for u in uids]
