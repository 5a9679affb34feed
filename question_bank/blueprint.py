"""Blueprints (鉴定要素细目表): what a theory paper must contain.

A blueprint is a tree of scopes (鉴定范围, up to three levels) whose leaves hold knowledge
points (鉴定点), each marked X/Y/Z with a weight. The paper's structure says, per item type,
how many points each item carries; its cells say how many items of each type come from
each scope. All points add up to 100.

This module holds the blueprint, its scope tree and its validation; whether a bank covers a
blueprint is :mod:`question_bank.coverage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from question_bank.errors import BlueprintError
from question_bank.items import ITEM_TYPE_LABELS, Importance, ItemType


@dataclass(frozen=True)
class Scope:
    code: str
    name: str
    parent: str | None = None  # code of the parent scope; None at the top level


@dataclass(frozen=True)
class KnowledgePoint:
    code: str
    name: str
    scope: str  # code of the scope it belongs to
    importance: Importance = Importance.Y
    weight: float = 0.0  # 比重 in percent, as printed in the 细目表


@dataclass(frozen=True)
class Section:
    """Paper structure for one item type."""

    item_type: ItemType
    points_per_item: float


@dataclass(frozen=True)
class Cell:
    """``count`` items of ``item_type`` drawn from the knowledge points under ``scope``."""

    scope: str
    item_type: ItemType
    count: int


@dataclass
class Blueprint:
    name: str
    scopes: list[Scope]
    knowledge_points: list[KnowledgePoint]
    sections: list[Section]
    cells: list[Cell]
    title: str = ""
    total_points: float = 100.0
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "total_points": self.total_points,
            "scopes": [{"code": s.code, "name": s.name, "parent": s.parent} for s in self.scopes],
            "knowledge_points": [
                {
                    "code": k.code,
                    "name": k.name,
                    "scope": k.scope,
                    "importance": k.importance.value,
                    "weight": k.weight,
                }
                for k in self.knowledge_points
            ],
            "sections": [
                {"item_type": s.item_type.value, "points_per_item": s.points_per_item}
                for s in self.sections
            ],
            "cells": [
                {"scope": c.scope, "item_type": c.item_type.value, "count": c.count}
                for c in self.cells
            ],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Blueprint:
        return cls(
            name=data["name"],
            title=data.get("title", ""),
            total_points=float(data.get("total_points", 100)),
            scopes=[Scope(s["code"], s["name"], s.get("parent")) for s in data["scopes"]],
            knowledge_points=[
                KnowledgePoint(
                    k["code"],
                    k["name"],
                    k["scope"],
                    Importance(k.get("importance", "Y")),
                    float(k.get("weight", 0)),
                )
                for k in data["knowledge_points"]
            ],
            sections=[
                Section(ItemType(s["item_type"]), float(s["points_per_item"]))
                for s in data["sections"]
            ],
            cells=[
                Cell(c["scope"], ItemType(c["item_type"]), int(c["count"])) for c in data["cells"]
            ],
            meta=data.get("meta", {}),
        )


# --- structure -----------------------------------------------------------------------------------

MAX_DEPTH = 3  # 鉴定范围 has at most three levels
WEIGHT_TOLERANCE = 0.01  # knowledge-point weights must add to 100 within this, when given

IMPORTANCE_RANK = {Importance.X: 0, Importance.Y: 1, Importance.Z: 2}


class InvalidBlueprint(BlueprintError):
    """A blueprint is malformed; ``problems`` lists every reason, one Chinese sentence each."""

    def __init__(self, name: str, problems: list[str]):
        self.blueprint = name
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ScopeTree:
    """Parent/child links of a blueprint's scopes, safe against unknown parents and cycles.

    Everything it returns is in the blueprint's own order (never set order), so callers that
    iterate it stay deterministic.
    """

    def __init__(self, bp: Blueprint):
        self.scopes: dict[str, Scope] = {}
        for s in bp.scopes:
            self.scopes.setdefault(s.code, s)
        self.children: dict[str, list[str]] = {code: [] for code in self.scopes}
        self.roots: list[str] = []
        for s in self.scopes.values():
            if s.parent is not None and s.parent in self.scopes and s.parent != s.code:
                self.children[s.parent].append(s.code)
            elif s.parent is None:
                self.roots.append(s.code)
        self.points: dict[str, list[str]] = {code: [] for code in self.scopes}
        for k in bp.knowledge_points:
            if k.scope in self.points and k.code not in self.points[k.scope]:
                self.points[k.scope].append(k.code)

    def ancestors(self, code: str) -> list[str]:
        """Parent, grandparent, ... of ``code`` (stops at an unknown parent or a cycle)."""
        out: list[str] = []
        seen = {code}
        scope = self.scopes.get(code)
        while scope is not None and scope.parent is not None and scope.parent not in seen:
            out.append(scope.parent)
            seen.add(scope.parent)
            scope = self.scopes.get(scope.parent)
        return out

    def descendants(self, code: str) -> list[str]:
        """``code`` itself and every scope below it, depth first."""
        out: list[str] = []
        seen: set[str] = set()
        stack = [code]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            out.append(current)
            stack.extend(reversed(self.children.get(current, [])))
        return out

    def points_under(self, code: str) -> list[str]:
        """Knowledge-point codes of ``code`` and of every scope below it."""
        return [k for s in self.descendants(code) for k in self.points.get(s, [])]

    def depth(self, code: str) -> int:
        """1 for a top-level scope (counted along the known part of the chain)."""
        return 1 + len(self.ancestors(code))


def knowledge_points_under(bp: Blueprint, scope: str) -> list[str]:
    """Codes of the knowledge points that belong to ``scope`` or to any scope below it."""
    return ScopeTree(bp).points_under(scope)


def type_label(item_type: ItemType) -> str:
    """The item type's Chinese name, as problems and coverage labels print it."""
    return ITEM_TYPE_LABELS.get(item_type, str(item_type))


def _num(x: float) -> str:
    return f"{x:g}"


def paper_total(bp: Blueprint) -> float:
    """What the cells add up to: sum of count × points per item (unknown types count 0)."""
    points = {s.item_type: s.points_per_item for s in bp.sections}
    return sum(c.count * points.get(c.item_type, 0) for c in bp.cells)


# --- validation ----------------------------------------------------------------------------------


def validate_blueprint(bp: Blueprint) -> None:
    """Raise :class:`InvalidBlueprint` (a ``BlueprintError``) listing every problem at once."""
    problems: list[str] = []
    tree = ScopeTree(bp)

    def scope_name(code: str) -> str:
        s = tree.scopes.get(code)
        return f"{code} {s.name}" if s else code

    # duplicate codes
    for what, codes in (
        ("鉴定范围代码", [s.code for s in bp.scopes]),
        ("鉴定点代码", [k.code for k in bp.knowledge_points]),
    ):
        for code, n in _duplicates(codes):
            problems.append(f"{what} {code} 重复（出现 {n} 次）")
    for item_type, n in _duplicates([s.item_type for s in bp.sections]):
        problems.append(f"试卷结构中题型 {type_label(item_type)} 重复设置（出现 {n} 次）")

    # the scope tree: unknown parents, cycles, depth
    for s in tree.scopes.values():
        if s.parent is not None and s.parent not in tree.scopes:
            problems.append(f"鉴定范围 {s.code} {s.name} 的上级范围 {s.parent} 不存在")
    cyclic: set[str] = set()
    for s in tree.scopes.values():
        cycle = _cycle_from(tree, s.code)
        if cycle and not cyclic.intersection(cycle):
            cyclic.update(cycle)
            path = " → ".join([*cycle, cycle[0]])
            problems.append(f"鉴定范围构成循环：{path}")
    for s in tree.scopes.values():
        if s.code in cyclic:
            continue
        depth = tree.depth(s.code)
        if depth > MAX_DEPTH:
            problems.append(
                f"鉴定范围 {s.code} {s.name} 位于第 {depth} 层，鉴定范围最多 {MAX_DEPTH} 层"
            )

    # knowledge points
    for k in bp.knowledge_points:
        if k.scope not in tree.scopes:
            problems.append(f"鉴定点 {k.code} {k.name} 所属的鉴定范围 {k.scope} 不存在")
        if k.weight < 0:
            problems.append(f"鉴定点 {k.code} {k.name} 的比重 {_num(k.weight)}% 不能为负数")
    if any(k.weight for k in bp.knowledge_points):
        total_weight = sum(k.weight for k in bp.knowledge_points)
        if abs(total_weight - 100) > WEIGHT_TOLERANCE:
            problems.append(f"鉴定点比重合计 {round(total_weight, 4):g}%，应为 100%")

    # sections
    points = {}
    for s in bp.sections:
        points.setdefault(s.item_type, s.points_per_item)
        if s.points_per_item <= 0:
            problems.append(
                f"试卷结构中 {type_label(s.item_type)} 每题分值 {_num(s.points_per_item)} 应为正数"
            )
    if bp.total_points <= 0:
        problems.append(f"试卷总分 {_num(bp.total_points)} 应为正数")

    # cells
    for (scope, item_type), n in _duplicates([(c.scope, c.item_type) for c in bp.cells]):
        problems.append(
            f"组卷单元 {scope_name(scope)} × {type_label(item_type)} 重复（出现 {n} 次）"
        )
    for c in bp.cells:
        where = f"组卷单元 {scope_name(c.scope)} × {type_label(c.item_type)}"
        if c.scope not in tree.scopes:
            problems.append(f"{where}: 鉴定范围 {c.scope} 不存在")
        elif not tree.points_under(c.scope):
            problems.append(f"{where}: 该范围及其下级范围中没有鉴定点")
        if c.item_type not in points:
            problems.append(
                f"{where}: 试卷结构中没有 {type_label(c.item_type)} 题型（未设每题分值）"
            )
        if c.count <= 0:
            problems.append(f"{where}: 题量 {c.count} 应为正整数")
    seen_cells = list(dict.fromkeys((c.scope, c.item_type) for c in bp.cells))
    cell_set = set(seen_cells)
    for scope, item_type in seen_cells:
        for ancestor in tree.ancestors(scope):
            if (ancestor, item_type) in cell_set:
                problems.append(
                    f"组卷单元 {scope_name(ancestor)} × {type_label(item_type)} 与 "
                    f"{scope_name(scope)} × {type_label(item_type)} 重叠："
                    f"{scope} 是 {ancestor} 的下级范围，题量归属不明确"
                )

    # the total
    total = paper_total(bp)
    if bp.cells and abs(total - bp.total_points) > 1e-9:
        problems.append(
            f"试卷总分为 {_num(total)} 分（{_breakdown(bp)}），应为 {_num(bp.total_points)} 分"
        )
    elif not bp.cells:
        problems.append("鉴定要素细目表没有组卷单元（鉴定范围 × 题型 × 题量）")

    if problems:
        raise InvalidBlueprint(bp.name, problems)


def _duplicates(values: list) -> list[tuple[object, int]]:
    counts: dict = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [(v, n) for v, n in counts.items() if n > 1]


def _cycle_from(tree: ScopeTree, code: str) -> list[str] | None:
    """The cycle reached by following parents from ``code``, if any, as a list of codes."""
    path: list[str] = []
    index: dict[str, int] = {}
    current: str | None = code
    while current is not None and current in tree.scopes:
        if current in index:
            return path[index[current] :]
        index[current] = len(path)
        path.append(current)
        current = tree.scopes[current].parent
    return None


def _breakdown(bp: Blueprint) -> str:
    points = {s.item_type: s.points_per_item for s in bp.sections}
    counts: dict[ItemType, int] = {}
    for c in bp.cells:
        counts[c.item_type] = counts.get(c.item_type, 0) + c.count
    parts = [
        f"{type_label(t)} {n} 题 × {_num(points.get(t, 0))} 分"
        for t, n in sorted(counts.items(), key=lambda kv: type_order(bp, kv[0]))
    ]
    return " + ".join(parts)


def type_order(bp: Blueprint, item_type: ItemType) -> int:
    """Sort key for item types: the blueprint's section order first, then the remaining types."""
    order = [s.item_type for s in bp.sections]
    return (
        order.index(item_type)
        if item_type in order
        else len(order) + list(ItemType).index(item_type)
    )
