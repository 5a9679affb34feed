"""Coverage of a blueprint by an item bank: active items per knowledge point × item type and per
cell, and whether the bank can fill one or several forms that share no item."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from question_bank.blueprint import (
    Blueprint,
    ScopeTree,
    type_label,
    type_order,
    validate_blueprint,
)
from question_bank.errors import BlueprintError
from question_bank.items import Importance, Item, ItemType, Status


@dataclass(frozen=True)
class CoverageRow:
    """One row of the coverage view: a scope (totals of everything under it) or a knowledge point."""

    kind: str  # "scope" or "knowledge_point"
    code: str
    name: str
    depth: int  # 0 for a top-level scope; a knowledge point sits one deeper than its scope
    counts: dict[ItemType, int]  # active items per type
    importance: Importance | None = None  # knowledge points only
    weight: float | None = None  # knowledge points only

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class CellCoverage:
    """One cell: how many items a form needs and how many active items the bank has for it."""

    scope: str
    scope_name: str
    item_type: ItemType
    required: int
    available: int

    @property
    def shortfall(self) -> int:
        return max(0, self.required - self.available)

    @property
    def ok(self) -> bool:
        return self.available >= self.required

    @property
    def label(self) -> str:
        return f"范围 {self.scope} {self.scope_name} × {type_label(self.item_type)}"


@dataclass
class Coverage:
    """Active items per knowledge point × item type, per cell, and what the blueprint misses."""

    blueprint: str
    item_types: list[ItemType]  # the columns: the blueprint's section order, then other types
    rows: list[CoverageRow]  # scopes and knowledge points in tree order
    by_point: dict[str, dict[ItemType, int]]  # knowledge point code -> type -> active items
    cells: list[CellCoverage]
    unmapped: dict[ItemType, int]  # active items whose knowledge point is not in the blueprint
    unmapped_points: dict[str, int]  # those items per knowledge point code ("" = none given)
    inactive: int = 0  # retired items, never counted anywhere else

    @property
    def unmapped_total(self) -> int:
        return sum(self.unmapped.values())

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.cells)

    @property
    def shortfalls(self) -> list[str]:
        return [_shortfall_line(c, 1) for c in self.cells if not c.ok]

    def to_dict(self) -> dict:
        return {
            "blueprint": self.blueprint,
            "item_types": [t.value for t in self.item_types],
            "rows": [
                {
                    "kind": r.kind,
                    "code": r.code,
                    "name": r.name,
                    "depth": r.depth,
                    "counts": {t.value: n for t, n in r.counts.items()},
                    "importance": r.importance.value if r.importance else None,
                    "weight": r.weight,
                }
                for r in self.rows
            ],
            "cells": [
                {
                    "scope": c.scope,
                    "scope_name": c.scope_name,
                    "item_type": c.item_type.value,
                    "required": c.required,
                    "available": c.available,
                }
                for c in self.cells
            ],
            "unmapped": {t.value: n for t, n in self.unmapped.items()},
            "unmapped_points": dict(self.unmapped_points),
            "inactive": self.inactive,
        }


def active_items(items) -> list[Item]:
    """Active items sorted by uid; of several versions of one uid the highest decides."""
    latest: dict[str, Item] = {}
    for item in sorted(items, key=attrgetter("uid", "version")):
        latest[item.uid] = item
    return [item for item in latest.values() if item.status == Status.ACTIVE]


def coverage(bp: Blueprint, items) -> Coverage:
    """Count active items per knowledge point × type and per cell (safe on a malformed blueprint)."""
    tree = ScopeTree(bp)
    all_items = list(items)
    active = active_items(all_items)
    types = sorted(ItemType, key=lambda t: type_order(bp, t))

    by_point: dict[str, dict[ItemType, int]] = {}
    for k in bp.knowledge_points:
        by_point.setdefault(k.code, {t: 0 for t in types})
    unmapped = {t: 0 for t in types}
    unmapped_points: dict[str, int] = {}
    for item in active:
        counts = by_point.get(item.knowledge_point or "")
        if counts is None:
            unmapped[item.type] += 1
            key = item.knowledge_point or ""
            unmapped_points[key] = unmapped_points.get(key, 0) + 1
        else:
            counts[item.type] += 1

    rows: list[CoverageRow] = []
    placed: set[str] = set()

    def scope_counts(code: str) -> dict[ItemType, int]:
        out = {t: 0 for t in types}
        for k in tree.points_under(code):
            for t, n in by_point[k].items():
                out[t] += n
        return out

    def walk(code: str, depth: int) -> None:
        if code in placed:
            return
        placed.add(code)
        s = tree.scopes[code]
        rows.append(CoverageRow("scope", code, s.name, depth, scope_counts(code)))
        for k in bp.knowledge_points:
            if k.scope == code and k.code not in placed:
                placed.add(k.code)
                rows.append(
                    CoverageRow(
                        "knowledge_point",
                        k.code,
                        k.name,
                        depth + 1,
                        dict(by_point[k.code]),
                        k.importance,
                        k.weight,
                    )
                )
        for child in tree.children[code]:
            walk(child, depth + 1)

    for root in tree.roots:
        walk(root, 0)
    for code in tree.scopes:  # orphans: unknown parent or a cycle
        walk(code, 0)
    for k in bp.knowledge_points:  # knowledge points of unknown scopes
        if k.code not in placed:
            placed.add(k.code)
            rows.append(
                CoverageRow(
                    "knowledge_point",
                    k.code,
                    k.name,
                    0,
                    dict(by_point[k.code]),
                    k.importance,
                    k.weight,
                )
            )

    cells = []
    for c in bp.cells:
        under = tree.points_under(c.scope) if c.scope in tree.scopes else []
        scope = tree.scopes.get(c.scope)
        cells.append(
            CellCoverage(
                scope=c.scope,
                scope_name=scope.name if scope else "",
                item_type=c.item_type,
                required=c.count,
                available=sum(by_point[k][c.item_type] for k in under),
            )
        )
    return Coverage(
        blueprint=bp.name,
        item_types=types,
        rows=rows,
        by_point=by_point,
        cells=cells,
        unmapped=unmapped,
        unmapped_points=unmapped_points,
        inactive=len(all_items) - len(active),
    )


# --- feasibility ---------------------------------------------------------------------------------


def _shortfall_line(cell: CellCoverage, forms_disjoint: int) -> str:
    need = cell.required * forms_disjoint
    if forms_disjoint == 1:
        wanted = f"需要 {need} 题"
    else:
        wanted = f"{forms_disjoint} 套互不重复的试卷需要 {need} 题（每套 {cell.required} 题）"
    return f"{cell.label}: {wanted}，题库中仅有 {cell.available} 道可用试题"


def check_feasibility(bp: Blueprint, items, *, forms_disjoint: int = 1) -> None:
    """Raise ``BlueprintError`` unless the active items can fill ``forms_disjoint`` forms that
    share no item. ``shortfalls`` has one line per short cell. A malformed blueprint raises
    :class:`InvalidBlueprint` first.
    """
    if forms_disjoint < 1:
        raise ValueError("forms_disjoint must be at least 1")
    validate_blueprint(bp)
    report = coverage(bp, items)
    short = [
        _shortfall_line(c, forms_disjoint)
        for c in report.cells
        if c.available < c.required * forms_disjoint
    ]
    if short:
        what = "组卷" if forms_disjoint == 1 else f"组 {forms_disjoint} 套互不重复的试卷"
        raise BlueprintError(
            f"题库不能按鉴定要素细目表 {bp.name} {what}：{len(short)} 个组卷单元试题不足",
            shortfalls=short,
        )
