"""Paper assembly (组卷): each test is one promise of docs/blueprints-and-assembly.md.

Banks here have about 2,000 items; timings are the benchmark's business, never a test's.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from question_bank.assembly import (
    Form,
    assemble,
    assemble_session,
    count_exposure,
    mean_difficulty,
)
from question_bank.blueprint import Blueprint, InvalidBlueprint, ScopeTree
from question_bank.errors import BlueprintError
from question_bank.items import Item, Status
from tests.question_bank.factories import (
    CELLS,
    MULTIPLE,
    SINGLE,
    TF,
    items_for,
    make_bank,
    make_blueprint,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bp() -> Blueprint:
    return make_blueprint()


@pytest.fixture(scope="module")
def bank(bp) -> list[Item]:
    return make_bank(bp, per_point=50)  # 13 knowledge points × 3 types × 50 = 1,950 items


def cell_of(bp: Blueprint, item: Item) -> tuple[str, object]:
    """The one cell an item can be drawn for: its type, and a scope at or above its point's."""
    tree = ScopeTree(bp)
    scope = next(k.scope for k in bp.knowledge_points if k.code == item.knowledge_point)
    chain = [scope, *tree.ancestors(scope)]
    (cell,) = [c for c in bp.cells if c.item_type == item.type and c.scope in chain]
    return cell.scope, cell.item_type


def naive_means(bp: Blueprint, items: list[Item], n: int, seed: int) -> list[float]:
    """Mean difficulty of ``n`` forms drawn by plain random.sample per cell."""
    rng = random.Random(seed)
    candidates: dict = {}
    for item in sorted(items, key=lambda i: i.uid):
        candidates.setdefault(cell_of(bp, item), []).append(item)
    means = []
    for _ in range(n):
        picked = [
            i for c in bp.cells for i in rng.sample(candidates[c.scope, c.item_type], c.count)
        ]
        means.append(mean_difficulty(picked))
    return means


# --- one form ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 2026])
def test_assembly_meets_blueprint_exactly(bp, bank, seed):
    form = assemble(bp, bank, seed=seed)
    items = items_for(bank, form.uids)
    assert len(set(form.uids)) == len(form.uids) == sum(c.count for c in bp.cells)
    assert Counter(cell_of(bp, i) for i in items) == {
        (c.scope, c.item_type): c.count for c in bp.cells
    }
    points = {s.item_type: s.points_per_item for s in bp.sections}
    for entry, item in zip(form.entries, items, strict=True):
        assert entry.item_type == item.type
        assert entry.version == item.version
        assert entry.points == points[item.type]
    assert form.total_points == 100
    assert form.blueprint == bp.name and form.seed == seed


def test_items_are_ordered_by_section_then_shuffled_within(bp, bank):
    forms = [assemble(bp, bank, seed=s) for s in range(3)]
    order = [s.item_type for s in bp.sections]
    for form in forms:
        types = [e.item_type for e in form.entries]
        assert types == sorted(types, key=order.index)
        assert types[0] == SINGLE and types[-1] == TF
    # within a section the order is not the cells' order
    first = [items_for(bank, [e.uid])[0] for e in forms[0].entries if e.item_type == SINGLE]
    cells = [cell_of(bp, i)[0] for i in first]
    assert cells != sorted(cells, key=[c[0] for c in CELLS].index)


def test_same_seed_same_form(bp, bank):
    first = assemble(bp, bank, seed=42)
    again = assemble(bp, list(reversed(bank)), seed=42)  # input order does not matter
    assert first == again
    assert first.to_dict() == again.to_dict()


def test_same_seed_same_form_whatever_the_hash_seed():
    script = (
        "import json\n"
        "from question_bank.assembly import assemble_session\n"
        "from tests.question_bank.factories import make_bank, make_blueprint\n"
        "bp = make_blueprint()\n"
        "forms = assemble_session(bp, make_bank(bp, per_point=20), seed=7, count=3)\n"
        "print(json.dumps([f.to_dict() for f in forms]))\n"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(REPO))
        run = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(json.loads(run.stdout))
    assert outputs[0] == outputs[1]


def test_different_seed_different_form(bp, bank):
    a, b = assemble(bp, bank, seed=1), assemble(bp, bank, seed=2)
    assert a.uids != b.uids
    assert len(set(a.uids) & set(b.uids)) < len(a.uids) // 2


def test_options_shuffled_per_candidate(bp, bank):
    by_uid = {i.uid: i for i in bank}
    forms = assemble_session(bp, bank, seed=5, count=40)
    orders: dict[str, set] = {}
    unchanged = choice_entries = 0
    for form in forms:
        for e in form.entries:
            item = by_uid[e.uid]
            if item.type == TF:
                assert e.option_order == ("T", "F")
                continue
            keys = tuple(o.key for o in item.options)
            assert sorted(e.option_order) == sorted(keys)
            choice_entries += 1
            unchanged += e.option_order == keys
            orders.setdefault(e.uid, set()).add(e.option_order)
    assert unchanged < choice_entries * 0.15  # 1 in 24 (4 options) or 120 (5) by chance
    seen_twice = [u for u, o in orders.items() if sum(u in f.uids for f in forms) > 1]
    assert seen_twice and sum(len(orders[u]) > 1 for u in seen_twice) > len(seen_twice) * 0.8


def test_retired_items_never_drawn(bp, bank):
    items = [
        Item.from_dict(i.to_dict() | {"status": "retired"}) if n % 3 == 0 else i
        for n, i in enumerate(bank)
    ]
    retired = {i.uid for i in items if i.status == Status.RETIRED}
    forms = assemble_session(bp, items, seed=3, count=30)
    assert all(not retired.intersection(f.uids) for f in forms)


def test_infeasible_blueprint_names_each_short_cell(bp, bank):
    # 3 多选 items left under A (the cell needs 5); 7 单选 under B-02-2 (needs 8)
    a_multi = [i for i in bank if i.type == MULTIPLE and i.knowledge_point.startswith("A-")]
    b022_single = [
        i for i in bank if i.type == SINGLE and i.knowledge_point in ("B-02-004", "B-02-005")
    ]
    drop = {i.uid for i in a_multi[3:]} | {i.uid for i in b022_single[7:]}
    items = [i for i in bank if i.uid not in drop]
    for attempt in (
        lambda: assemble(bp, items, seed=1),
        lambda: assemble_session(bp, items, seed=1, count=10),
    ):
        with pytest.raises(BlueprintError) as info:
            attempt()
        assert info.value.shortfalls == [
            "范围 B-02-2 离线编程 × 单选: 需要 8 题，题库中仅有 7 道可用试题",
            "范围 A 基本要求 × 多选: 需要 5 题，题库中仅有 3 道可用试题",
        ]


def test_a_malformed_blueprint_is_refused(bank):
    bp = make_blueprint(cells=[*CELLS[:-1], ("B", TF, 15)])
    with pytest.raises(InvalidBlueprint) as info:
        assemble(bp, bank, seed=1)
    assert "应为 100 分" in str(info.value)


# --- exposure, spread, difficulty ----------------------------------------------------------------


def test_least_used_items_first(bp, bank):
    # every item has been used twice, except `count` items per cell that were never used
    rng = random.Random(0)
    candidates: dict = {}
    for item in bank:
        candidates.setdefault(cell_of(bp, item), []).append(item.uid)
    fresh = {u for c in bp.cells for u in rng.sample(candidates[c.scope, c.item_type], c.count)}
    exposure = {i.uid: 0 if i.uid in fresh else 2 for i in bank}
    before = dict(exposure)
    form = assemble(bp, bank, seed=9, exposure=exposure)
    assert set(form.uids) == fresh
    assert exposure == before  # read, never changed


def test_least_used_items_first_across_a_session(bp, bank):
    # 12 forms draw no more items per cell than the cell has (B-02-2: 8 × 12 <= 100 单选):
    # nobody is drawn twice
    forms = assemble_session(bp, bank, seed=11, count=12)
    uses = count_exposure(forms)
    assert max(uses.values()) == 1
    # 60 forms wrap around: within a cell uses differ by at most one
    uses = count_exposure(assemble_session(bp, bank, seed=11, count=60))
    per_cell: dict = {}
    for item in bank:
        per_cell.setdefault(cell_of(bp, item), []).append(uses.get(item.uid, 0))
    assert all(max(v) - min(v) <= 1 for v in per_cell.values())


def test_a_session_continues_from_earlier_exposure(bp, bank):
    first = assemble_session(bp, bank, seed=1, count=6)
    second = assemble_session(bp, bank, seed=2, count=6, exposure=count_exposure(first))
    used = {u for f in first for u in f.uids}
    assert all(not used.intersection(f.uids) for f in second)


def spread_blueprint() -> Blueprint:
    # 2 单选 from A-02 (points X, Y, Z), the rest from A-01: 50 × 2 = 100
    return make_blueprint(
        sections=[(SINGLE, 2.0)], cells=[("A-02", SINGLE, 2), ("A-01", SINGLE, 48)]
    )


def test_a_cell_covers_distinct_knowledge_points_core_first():
    bp = spread_blueprint()
    items = make_bank(bp, per_point={SINGLE: 50})
    for seed in range(10):
        form = assemble(bp, items, seed=seed)
        a02 = [
            i.knowledge_point
            for i in items_for(items, form.uids)
            if i.knowledge_point[:4] == "A-02"
        ]
        assert sorted(a02) == ["A-02-001", "A-02-002"]  # X and Y, not the Z point A-02-003


def test_spread_gives_way_to_exposure():
    bp = spread_blueprint()
    items = make_bank(bp, per_point={SINGLE: 50})
    # the X point's items have all been used; the Y and Z points' have not
    exposure = {i.uid: 1 for i in items if i.knowledge_point == "A-02-001"}
    form = assemble(bp, items, seed=1, exposure=exposure)
    a02 = [
        i.knowledge_point for i in items_for(items, form.uids) if i.knowledge_point[:4] == "A-02"
    ]
    assert sorted(a02) == ["A-02-002", "A-02-003"]


@pytest.mark.parametrize("target", [0.3, 0.45, 0.6])
def test_a_target_difficulty_is_approached(bp, bank, target):
    for seed in range(3):
        form = assemble(bp, bank, seed=seed, target_difficulty=target)
        assert form.mean_difficulty == pytest.approx(target, abs=0.01)


def test_session_forms_close_in_mean_difficulty(bp, bank):
    forms = assemble_session(bp, bank, seed=21, count=40)
    means = [f.mean_difficulty for f in forms]
    naive = naive_means(bp, bank, 40, seed=21)
    assert statistics.pstdev(means) < statistics.pstdev(naive) / 4
    assert max(means) - min(means) < 0.02


def test_items_without_a_difficulty_count_as_one_half(bp):
    items = make_bank(bp, per_point=10, difficulty_missing=1.0)
    form = assemble(bp, items, seed=1)
    assert form.mean_difficulty is None
    mixed = [*items[:-1], Item.from_dict(items[-1].to_dict() | {"difficulty": 0.9})]
    assert mean_difficulty(mixed) == pytest.approx((0.5 * (len(items) - 1) + 0.9) / len(items))


# --- sessions ------------------------------------------------------------------------------------


def test_session_forms_record_their_derived_seeds(bp, bank):
    forms = assemble_session(bp, bank, seed=8, count=5)
    assert len(forms) == 5 and len({f.seed for f in forms}) == 5
    assert assemble_session(bp, bank, seed=8, count=5) == forms
    assert all(f.total_points == 100 for f in forms)


def test_ab_forms_share_no_item(bp, bank):
    forms = assemble_session(bp, bank, seed=4, count=35, mode="ab")
    assert len(forms) == 2
    a, b = forms
    assert not set(a.uids) & set(b.uids)
    for form in forms:
        items = items_for(bank, form.uids)
        assert Counter(cell_of(bp, i) for i in items) == {
            (c.scope, c.item_type): c.count for c in bp.cells
        }
        assert form.total_points == 100


def test_ab_works_with_exactly_twice_each_cell(bp):
    tight = make_blueprint(
        sections=[(SINGLE, 2.0)], cells=[("A-02", SINGLE, 6), ("A-01", SINGLE, 44)]
    )
    items = make_bank(tight, per_point={SINGLE: 44})  # 3 × 44 = 132 ≥ 12; A-01: 88 = 2 × 44
    a, b = assemble_session(tight, items, seed=1, count=30, mode="ab")
    assert not set(a.uids) & set(b.uids)
    assert len(a.uids) == len(b.uids) == 50


def test_ab_infeasible_names_short_cells(bp):
    items = make_bank(bp, per_point=5)
    assemble_session(bp, items, seed=1, count=30)  # one form at a time: enough
    with pytest.raises(BlueprintError) as info:
        assemble_session(bp, items, seed=1, count=30, mode="ab")
    assert info.value.shortfalls == [
        "范围 B-01 工业机器人参数设置 × 单选: 2 套互不重复的试卷需要 20 题（每套 10 题），"
        "题库中仅有 15 道可用试题",
        "范围 B-02-1 示教编程 × 单选: 2 套互不重复的试卷需要 20 题（每套 10 题），"
        "题库中仅有 15 道可用试题",
        "范围 B-02-2 离线编程 × 单选: 2 套互不重复的试卷需要 16 题（每套 8 题），"
        "题库中仅有 10 道可用试题",
    ]


def test_session_arguments_are_checked(bp, bank):
    assert assemble_session(bp, bank, seed=1, count=0) == []
    with pytest.raises(ValueError):
        assemble_session(bp, bank, seed=1, count=-1)
    with pytest.raises(ValueError):
        assemble_session(bp, bank, seed=1, count=2, mode="abc")  # type: ignore[arg-type]


def test_form_to_dict_round_trip(bp, bank):
    form = assemble(bp, bank, seed=3)
    data = json.loads(json.dumps(form.to_dict()))
    assert data["total_points"] == 100
    assert data["entries"][0].keys() == {"uid", "version", "item_type", "points", "option_order"}
    assert Form.from_dict(data) == form
