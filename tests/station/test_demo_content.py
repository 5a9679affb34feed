"""The demo item bank (工业机器人应用编程 中级) is complete and consistent with its blueprint."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import station.demo
from question_bank.blueprint import Blueprint
from question_bank.coverage import check_feasibility
from question_bank.items import FALSE_KEY, TRUE_KEY, Item, ItemType, Status, Task
from question_bank.richtext import sanitize_html

CONTENT = Path(station.demo.__file__).parent / "irap_intermediate.json"


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(CONTENT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def items(raw) -> list[Item]:
    return [Item.from_dict(d) for d in raw["items"]]


@pytest.fixture(scope="module")
def tasks(raw) -> list[Task]:
    return [Task.from_dict(d) for d in raw["tasks"]]


@pytest.fixture(scope="module")
def bp(raw) -> Blueprint:
    (only,) = [Blueprint.from_dict(d) for d in raw["blueprints"]]
    return only


def _descendants(bp: Blueprint, code: str) -> set[str]:
    """``code`` and every scope below it."""
    result = {code}
    changed = True
    while changed:
        changed = False
        for scope in bp.scopes:
            if scope.parent in result and scope.code not in result:
                result.add(scope.code)
                changed = True
    return result


def test_meta(raw):
    meta = raw["meta"]
    assert meta["bank"] == "IRAP-M"
    assert meta["programme"] == {"code": "IRAP", "name": "工业机器人应用编程"}
    assert meta["level"] == "中级"
    assert meta["version"] == 1
    assert meta["issuer"]["code"] and meta["issuer"]["name"]


def test_round_trip(raw, items, tasks, bp):
    assert [i.to_dict() for i in items] == raw["items"]
    assert [t.to_dict() for t in tasks] == raw["tasks"]
    assert bp.to_dict() == raw["blueprints"][0]


def test_enough_active_items_of_every_type(items):
    active = [i for i in items if i.status is Status.ACTIVE]
    assert len(active) >= 150
    counts = Counter(i.type for i in active)
    assert set(counts) == set(ItemType)
    assert counts[ItemType.SINGLE_CHOICE] >= 90
    assert counts[ItemType.MULTIPLE_CHOICE] >= 30
    assert counts[ItemType.TRUE_FALSE] >= 40
    assert 1 <= sum(i.status is Status.RETIRED for i in items) <= 5


def test_uids_unique_and_well_formed(items, tasks):
    uids = [i.uid for i in items]
    assert len(uids) == len(set(uids))
    prefix = {ItemType.SINGLE_CHOICE: "S", ItemType.MULTIPLE_CHOICE: "M", ItemType.TRUE_FALSE: "T"}
    for item in items:
        assert item.uid.startswith(f"IRAP-M-{prefix[item.type]}-"), item.uid
    assert len({t.uid for t in tasks}) == len(tasks)


def test_answers_match_options(items):
    for item in items:
        keys = [o.key for o in item.options]
        assert list(item.answer) == sorted(set(item.answer)), item.uid
        if item.type is ItemType.TRUE_FALSE:
            assert keys in ([], [TRUE_KEY, FALSE_KEY]), item.uid
            assert item.answer in ((TRUE_KEY,), (FALSE_KEY,)), item.uid
            continue
        assert len(keys) == len(set(keys)), item.uid
        assert keys == list("ABCDE"[: len(keys)]), item.uid
        assert set(item.answer) <= set(keys), item.uid
        assert len({o.text for o in item.options}) == len(keys), item.uid
        if item.type is ItemType.SINGLE_CHOICE:
            assert len(keys) == 4 and len(item.answer) == 1, item.uid
        else:
            assert 4 <= len(keys) <= 5 and 2 <= len(item.answer) <= 4, item.uid


def test_item_attributes(items):
    for item in items:
        assert item.version == 1
        assert item.cognitive_level in {"了解", "理解", "掌握", "应用"}, item.uid
        assert 0.2 <= item.difficulty <= 0.85, item.uid
        assert item.explanation, item.uid
    difficulties = {i.difficulty for i in items}
    assert len(difficulties) > 10


def test_texts_are_safe_html(items, tasks):
    for item in items:
        for text in (item.stem, item.explanation, *(o.text for o in item.options)):
            assert text and sanitize_html(text) == text, item.uid
    for task in tasks:
        assert sanitize_html(task.instructions) == task.instructions, task.uid


def test_knowledge_points_exist_with_matching_importance(items, tasks, bp):
    points = {k.code: k for k in bp.knowledge_points}
    for thing in [*items, *tasks]:
        assert thing.knowledge_point in points, thing.uid
        assert thing.importance == points[thing.knowledge_point].importance, thing.uid


def test_blueprint_structure(bp):
    scopes = {s.code: s for s in bp.scopes}
    assert bp.name == "IRAP-M-理论-A"
    assert bp.title == "工业机器人应用编程（中级）理论知识考试鉴定要素细目表"
    assert len(scopes) == len(bp.scopes)
    for scope in bp.scopes:
        depth, parent = 1, scope.parent
        while parent is not None:
            depth, parent = depth + 1, scopes[parent].parent
        assert depth <= 3, scope.code
    assert 20 <= len(bp.knowledge_points) <= 30
    assert len({k.code for k in bp.knowledge_points}) == len(bp.knowledge_points)
    for point in bp.knowledge_points:
        assert point.scope in scopes, point.code
        assert not any(s.parent == point.scope for s in bp.scopes), f"{point.code} not on a leaf"
    assert sum(k.weight for k in bp.knowledge_points) == pytest.approx(100)


def test_paper_totals_100(bp):
    per_item = {s.item_type: s.points_per_item for s in bp.sections}
    assert set(per_item) == set(ItemType)
    assert sum(per_item[c.item_type] * c.count for c in bp.cells) == pytest.approx(bp.total_points)
    assert bp.total_points == 100


def test_cells_do_not_overlap(bp):
    for a in bp.cells:
        for b in bp.cells:
            if a is not b and a.item_type == b.item_type:
                assert b.scope not in _descendants(bp, a.scope), (a, b)


def test_every_cell_can_fill_two_disjoint_forms(items, bp):
    point_scope = {k.code: k.scope for k in bp.knowledge_points}
    for cell in bp.cells:
        under = _descendants(bp, cell.scope)
        available = [
            i
            for i in items
            if i.status is Status.ACTIVE
            and i.type == cell.item_type
            and point_scope[i.knowledge_point] in under
        ]
        assert len(available) >= 2 * cell.count, (cell, len(available))


def test_bank_satisfies_its_blueprint_twice_over(items, bp):
    check_feasibility(bp, items, forms_disjoint=2)  # raises, naming each short cell, if not


def test_tasks_and_rubrics(tasks):
    assert len(tasks) == 3
    for task in tasks:
        assert task.status is Status.ACTIVE
        assert task.instructions and task.equipment
        assert 30 <= task.duration_minutes <= 90
        assert 6 <= sum(not c.veto for c in task.criteria) <= 10
        assert task.max_points == pytest.approx(100)
        vetoes = [c for c in task.criteria if c.veto]
        assert vetoes and all(c.max_points == 0 for c in vetoes)
        codes = [c.code for c in task.criteria]
        assert len(codes) == len(set(codes))
