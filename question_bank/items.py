"""The content of a bank: objective items and practical tasks with rubrics.

These are plain dataclasses so that importers, the package format, assembly and the station's
database layer can all share them without a web framework or an ORM.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class ItemType(StrEnum):
    SINGLE_CHOICE = "single_choice"  # 单选
    MULTIPLE_CHOICE = "multiple_choice"  # 多选
    TRUE_FALSE = "true_false"  # 判断


class Importance(StrEnum):
    """重要程度 of a knowledge point: X core, Y general, Z supporting."""

    X = "X"
    Y = "Y"
    Z = "Z"


class Status(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


ITEM_TYPE_LABELS = {
    ItemType.SINGLE_CHOICE: "单选",
    ItemType.MULTIPLE_CHOICE: "多选",
    ItemType.TRUE_FALSE: "判断",
}

OPTION_KEYS = "ABCDEFGH"
TRUE_KEY, FALSE_KEY = "T", "F"
TRUE_FALSE_KEYS = {TRUE_KEY: "正确", FALSE_KEY: "错误"}  # what a true/false item's options say


@dataclass(frozen=True)
class Option:
    key: str  # "A".."H"; true/false items use "T"/"F"
    text: str  # sanitised HTML
    weight: float | None = None  # partial credit share in percent, where a format carries it


@dataclass
class Item:
    """One objective question. ``stem`` and option texts are sanitised HTML."""

    uid: str
    type: ItemType
    stem: str
    answer: tuple[str, ...]  # correct option keys, sorted; ("T",) or ("F",) for true/false
    options: tuple[Option, ...] = ()
    version: int = 1
    knowledge_point: str | None = None  # 鉴定点 code
    importance: Importance | None = None
    cognitive_level: str | None = None  # e.g. 了解 / 理解 / 掌握 / 应用
    difficulty: float | None = None  # estimated facility-style difficulty in [0, 1]; 1 = hardest
    status: Status = Status.ACTIVE
    explanation: str = ""  # sanitised HTML shown to examiners, never to candidates
    title: str | None = None
    tags: tuple[str, ...] = ()

    def content_hash(self) -> str:
        """A hash of what a candidate sees and what is scored, to tell versions apart."""
        return _hash(
            {
                "type": self.type.value,
                "stem": self.stem,
                "options": [[o.key, o.text, o.weight] for o in self.options],
                "answer": list(self.answer),
            }
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        data["type"] = self.type.value
        data["importance"] = self.importance.value if self.importance else None
        data["status"] = self.status.value
        data["answer"] = list(self.answer)
        data["options"] = [asdict(o) for o in self.options]
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Item:
        return cls(
            uid=data["uid"],
            type=ItemType(data["type"]),
            stem=data["stem"],
            answer=tuple(data["answer"]),
            options=tuple(Option(**o) for o in data.get("options", ())),
            version=int(data.get("version", 1)),
            knowledge_point=data.get("knowledge_point"),
            importance=Importance(data["importance"]) if data.get("importance") else None,
            cognitive_level=data.get("cognitive_level"),
            difficulty=data.get("difficulty"),
            status=Status(data.get("status", "active")),
            explanation=data.get("explanation", ""),
            title=data.get("title"),
            tags=tuple(data.get("tags", ())),
        )


@dataclass(frozen=True)
class Criterion:
    """评分项: one line of a task's rubric."""

    code: str
    description: str
    max_points: float
    veto: bool = False  # 否决项: raising it fails the task; it carries no points


@dataclass
class Task:
    """实操任务: a practical task scored by examiners against its rubric."""

    uid: str
    title: str
    instructions: str  # sanitised HTML
    criteria: tuple[Criterion, ...]
    version: int = 1
    duration_minutes: int | None = None
    knowledge_point: str | None = None
    importance: Importance | None = None
    status: Status = Status.ACTIVE
    equipment: str = ""

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.criteria if not c.veto)

    def content_hash(self) -> str:
        return _hash(self.to_dict() | {"status": None})

    def to_dict(self) -> dict:
        data = asdict(self)
        data["importance"] = self.importance.value if self.importance else None
        data["status"] = self.status.value
        data["criteria"] = [asdict(c) for c in self.criteria]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        return cls(
            uid=data["uid"],
            title=data["title"],
            instructions=data.get("instructions", ""),
            criteria=tuple(Criterion(**c) for c in data["criteria"]),
            version=int(data.get("version", 1)),
            duration_minutes=data.get("duration_minutes"),
            knowledge_point=data.get("knowledge_point"),
            importance=Importance(data["importance"]) if data.get("importance") else None,
            status=Status(data.get("status", "active")),
            equipment=data.get("equipment", ""),
        )


@dataclass
class BankContent:
    """What an importer produces: items and tasks, plus whatever metadata the format carries.

    Formats without programme metadata (GIFT, Moodle XML, QTI) leave ``meta`` empty and the
    caller names the bank.
    """

    items: list[Item] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    blueprints: list = field(default_factory=list)  # list[question_bank.blueprint.Blueprint]
    media: dict[str, bytes] = field(default_factory=dict)  # "media/x.png" -> bytes
    meta: dict = field(default_factory=dict)  # programme, level, version, issuer, ...
    format: str = ""  # "package", "xlsx", "gift", "moodle_xml", "qti"


def _hash(obj) -> str:
    raw = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()
