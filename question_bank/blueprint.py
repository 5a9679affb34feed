"""Blueprints (鉴定要素细目表): what a theory paper must contain.

A blueprint is a tree of scopes (鉴定范围, up to three levels) whose leaves hold knowledge
points (鉴定点), each marked X/Y/Z with a weight. The paper's structure says, per item type,
how many points each item carries; its cells say how many items of each type come from
each scope. All points add up to 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from question_bank.items import Importance, ItemType


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
            cells=[Cell(c["scope"], ItemType(c["item_type"]), int(c["count"])) for c in data["cells"]],
            meta=data.get("meta", {}),
        )
