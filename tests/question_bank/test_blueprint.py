"""Blueprints (鉴定要素细目表): what makes one valid, coverage of a bank, and feasibility.

Each test is one rule, as described in docs/blueprints-and-assembly.md.
"""

from __future__ import annotations

import pytest

from question_bank.blueprint import (
    Blueprint,
    Cell,
    InvalidBlueprint,
    KnowledgePoint,
    Scope,
    Section,
    knowledge_points_under,
    paper_total,
    validate_blueprint,
)
from question_bank.coverage import check_feasibility, coverage
from question_bank.errors import BlueprintError
from question_bank.items import Importance, ItemType, Status
from tests.question_bank.factories import (
    CELLS,
    KNOWLEDGE_POINTS,
    MULTIPLE,
    SCOPES,
    SINGLE,
    TF,
    make_bank,
    make_blueprint,
    make_item,
)


def problems_of(bp: Blueprint) -> list[str]:
    with pytest.raises(InvalidBlueprint) as info:
        validate_blueprint(bp)
    assert isinstance(info.value, BlueprintError)
    assert info.value.shortfalls == []
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def only_problem(bp: Blueprint) -> str:
    problems = problems_of(bp)
    assert len(problems) == 1, problems
    return problems[0]


# --- the model -----------------------------------------------------------------------------------


def test_factory_blueprint_is_valid_and_adds_up_to_100():
    bp = make_blueprint()
    validate_blueprint(bp)
    assert paper_total(bp) == 100


def test_to_dict_from_dict_round_trip_is_unchanged():
    bp = make_blueprint()
    assert Blueprint.from_dict(bp.to_dict()) == bp
    assert Blueprint.from_dict(bp.to_dict()).to_dict() == bp.to_dict()


def test_knowledge_points_under_a_scope_include_every_level_below_it():
    bp = make_blueprint()
    assert knowledge_points_under(bp, "B-02") == [
        "B-02-001",
        "B-02-002",
        "B-02-003",
        "B-02-004",
        "B-02-005",
    ]
    assert knowledge_points_under(bp, "A-01") == ["A-01-001", "A-01-002"]
    assert len(knowledge_points_under(bp, "B")) == 8


# --- validation: one rule each -------------------------------------------------------------------


def test_unknown_parent_scope_is_named():
    bp = make_blueprint(scopes=[*SCOPES, ("C-01", "外围设备", "C")])
    assert only_problem(bp) == "鉴定范围 C-01 外围设备 的上级范围 C 不存在"


def test_scopes_deeper_than_three_levels_are_refused():
    bp = make_blueprint(scopes=[*SCOPES, ("B-02-1-a", "第四层", "B-02-1")])
    assert only_problem(bp) == "鉴定范围 B-02-1-a 第四层 位于第 4 层，鉴定范围最多 3 层"


def test_a_cycle_of_scopes_is_refused_once():
    scopes = [*SCOPES, ("X", "甲", "Y"), ("Y", "乙", "X")]
    assert only_problem(make_blueprint(scopes=scopes)) == "鉴定范围构成循环：X → Y → X"


def test_a_scope_that_is_its_own_parent_is_a_cycle():
    scopes = [*SCOPES, ("S", "自身", "S")]
    assert only_problem(make_blueprint(scopes=scopes)) == "鉴定范围构成循环：S → S"


def test_duplicate_scope_codes_are_refused():
    bp = make_blueprint(scopes=[*SCOPES, ("A-01", "职业道德（重复）", "A")])
    assert only_problem(bp) == "鉴定范围代码 A-01 重复（出现 2 次）"


def test_duplicate_knowledge_point_codes_are_refused():
    kps = [(c, n, s, i, w) for c, n, s, i, w in KNOWLEDGE_POINTS]
    kps[1] = ("A-01-001", kps[1][1], kps[1][2], kps[1][3], kps[1][4])
    assert (
        only_problem(make_blueprint(knowledge_points=kps))
        == "鉴定点代码 A-01-001 重复（出现 2 次）"
    )


def test_a_knowledge_point_in_an_unknown_scope_is_named():
    kps = [*KNOWLEDGE_POINTS[:-1], ("B-02-005", "离线轨迹", "B-09", "Z", 8)]
    assert (
        only_problem(make_blueprint(knowledge_points=kps))
        == "鉴定点 B-02-005 离线轨迹 所属的鉴定范围 B-09 不存在"
    )


def test_a_cell_in_an_unknown_scope_is_named():
    cells = [("B-09" if s == "B-02-2" else s, t, n) for s, t, n in CELLS]
    assert only_problem(make_blueprint(cells=cells)) == "组卷单元 B-09 × 单选: 鉴定范围 B-09 不存在"


def test_a_cell_whose_item_type_has_no_section_is_named():
    sections = [(SINGLE, 1.0), (MULTIPLE, 2.0)]
    cells = [c for c in CELLS if c[1] != TF] + [("A-01", TF, 1)]
    problems = problems_of(make_blueprint(sections=sections, cells=cells))
    assert "组卷单元 A-01 职业道德 × 判断: 试卷结构中没有 判断 题型（未设每题分值）" in problems


def test_a_cell_over_a_scope_without_knowledge_points_is_refused():
    scopes = [*SCOPES, ("B-03", "空范围", "B")]
    cells = [*CELLS[:-1], ("B-03", TF, 1), ("B", TF, 19)]
    problems = problems_of(make_blueprint(scopes=scopes, cells=cells))
    assert "组卷单元 B-03 空范围 × 判断: 该范围及其下级范围中没有鉴定点" in problems
    assert any("重叠" in p for p in problems)  # B-03 is also under the B cell


def test_overlapping_cells_of_one_type_are_refused():
    # the 判断 cell on B already covers B-01; a second cell on B-01 would make counts ambiguous
    cells = [*CELLS[:-1], ("B", TF, 15), ("B-01", TF, 5)]
    assert only_problem(make_blueprint(cells=cells)) == (
        "组卷单元 B 相关知识 × 判断 与 B-01 工业机器人参数设置 × 判断 重叠："
        "B-01 是 B 的下级范围，题量归属不明确"
    )


def test_cells_of_different_types_on_nested_scopes_do_not_overlap():
    bp = make_blueprint()  # 多选 on A and 单选 on A-01: different types
    assert ("A", MULTIPLE, 5) in CELLS and ("A-01", SINGLE, 5) in CELLS
    validate_blueprint(bp)


def test_duplicate_cells_are_refused():
    cells = [*CELLS[:-1], ("B", TF, 10), ("B", TF, 10)]
    assert (
        only_problem(make_blueprint(cells=cells)) == "组卷单元 B 相关知识 × 判断 重复（出现 2 次）"
    )


def test_non_positive_counts_and_points_are_refused():
    sections = [(SINGLE, 1.0), (MULTIPLE, 0.0), (TF, 1.0)]
    cells = [*CELLS, ("B-01", ItemType.TRUE_FALSE, 0)]
    cells = [c for c in cells if c != ("B", TF, 20)] + [("A", TF, 0)]
    problems = problems_of(make_blueprint(sections=sections, cells=cells))
    assert "试卷结构中 多选 每题分值 0 应为正数" in problems
    assert "组卷单元 A 基本要求 × 判断: 题量 0 应为正整数" in problems


def test_total_must_equal_total_points_and_says_what_it_adds_to():
    cells = [*CELLS[:-1], ("B", TF, 15)]
    assert only_problem(make_blueprint(cells=cells)) == (
        "试卷总分为 95 分（单选 40 题 × 1 分 + 多选 15 题 × 2 分 + 判断 25 题 × 1 分），应为 100 分"
    )


def test_total_points_other_than_100_are_honoured():
    cells = [*CELLS[:-1], ("B", TF, 15)]
    validate_blueprint(make_blueprint(cells=cells, total_points=95))


def test_weights_when_given_must_add_to_100():
    kps = [*KNOWLEDGE_POINTS[:-1], ("B-02-005", "离线轨迹", "B-02-2", "Z", 6.5)]
    assert only_problem(make_blueprint(knowledge_points=kps)) == "鉴定点比重合计 98.5%，应为 100%"


def test_weights_are_allowed_a_rounding_tolerance():
    kps = [*KNOWLEDGE_POINTS[:-1], ("B-02-005", "离线轨迹", "B-02-2", "Z", 8.005)]
    validate_blueprint(make_blueprint(knowledge_points=kps))
    kps = [*KNOWLEDGE_POINTS[:-1], ("B-02-005", "离线轨迹", "B-02-2", "Z", 8.02)]
    assert "鉴定点比重合计" in only_problem(make_blueprint(knowledge_points=kps))


def test_weights_may_be_left_out_altogether():
    kps = [(c, n, s, i, 0) for c, n, s, i, _ in KNOWLEDGE_POINTS]
    validate_blueprint(make_blueprint(knowledge_points=kps))


def test_a_blueprint_without_cells_is_refused():
    assert only_problem(make_blueprint(cells=[])) == (
        "鉴定要素细目表没有组卷单元（鉴定范围 × 题型 × 题量）"
    )


def test_every_problem_is_reported_at_once():
    bp = Blueprint(
        name="BAD",
        scopes=[Scope("A", "甲"), Scope("A", "甲2"), Scope("B-01", "乙", "B")],
        knowledge_points=[KnowledgePoint("K1", "点1", "Q", Importance.X, 50)],
        sections=[Section(SINGLE, 1.0)],
        cells=[Cell("A", SINGLE, 60), Cell("A", MULTIPLE, 5), Cell("Z", SINGLE, 10)],
    )
    problems = problems_of(bp)
    assert problems == [
        "鉴定范围代码 A 重复（出现 2 次）",
        "鉴定范围 B-01 乙 的上级范围 B 不存在",
        "鉴定点 K1 点1 所属的鉴定范围 Q 不存在",
        "鉴定点比重合计 50%，应为 100%",
        "组卷单元 A 甲 × 单选: 该范围及其下级范围中没有鉴定点",
        "组卷单元 A 甲 × 多选: 该范围及其下级范围中没有鉴定点",
        "组卷单元 A 甲 × 多选: 试卷结构中没有 多选 题型（未设每题分值）",
        "组卷单元 Z × 单选: 鉴定范围 Z 不存在",
        "试卷总分为 70 分（单选 70 题 × 1 分 + 多选 5 题 × 0 分），应为 100 分",
    ]


# --- coverage ------------------------------------------------------------------------------------


def test_coverage_counts_active_items_per_knowledge_point_and_type():
    bp = make_blueprint()
    items = [
        make_item("1", type=SINGLE, knowledge_point="A-01-001"),
        make_item("2", type=SINGLE, knowledge_point="A-01-001"),
        make_item("3", type=TF, knowledge_point="A-01-001"),
        make_item("4", type=MULTIPLE, knowledge_point="A-02-003"),
        make_item("5", type=SINGLE, knowledge_point="A-01-001", status=Status.RETIRED),
        make_item("6", type=SINGLE, knowledge_point="Z-99-001"),
        make_item("7", type=TF, knowledge_point=None),
    ]
    report = coverage(bp, items)
    assert report.item_types == [SINGLE, MULTIPLE, TF]  # the blueprint's section order
    assert report.by_point["A-01-001"] == {SINGLE: 2, MULTIPLE: 0, TF: 1}
    assert report.by_point["A-02-003"] == {SINGLE: 0, MULTIPLE: 1, TF: 0}
    assert report.by_point["B-02-005"] == {SINGLE: 0, MULTIPLE: 0, TF: 0}
    assert report.unmapped == {SINGLE: 1, MULTIPLE: 0, TF: 1}
    assert report.unmapped_points == {"Z-99-001": 1, "": 1}
    assert report.unmapped_total == 2
    assert report.inactive == 1


def test_coverage_rows_follow_the_tree_with_scope_totals():
    bp = make_blueprint()
    items = [
        make_item("1", type=SINGLE, knowledge_point="B-02-001"),
        make_item("2", type=TF, knowledge_point="B-02-004"),
        make_item("3", type=TF, knowledge_point="A-01-002"),
    ]
    rows = coverage(bp, items).rows
    assert [(r.kind[0], r.code, r.depth) for r in rows[:5]] == [
        ("s", "A", 0),
        ("s", "A-01", 1),
        ("k", "A-01-001", 2),
        ("k", "A-01-002", 2),
        ("s", "A-02", 1),
    ]
    by_code = {r.code: r for r in rows}
    assert by_code["B"].counts == {SINGLE: 1, MULTIPLE: 0, TF: 1}
    assert by_code["B-02"].total == 2
    assert by_code["B-02-2"].counts[TF] == 1
    assert by_code["B-02-001"].importance == Importance.X
    assert by_code["B-02-001"].weight == 10
    assert len(rows) == len(SCOPES) + len(KNOWLEDGE_POINTS)


def test_coverage_compares_each_cell_required_with_available():
    bp = make_blueprint()
    report = coverage(bp, make_bank(bp, per_point=2))
    cells = {(c.scope, c.item_type): c for c in report.cells}
    assert (cells["A", MULTIPLE].required, cells["A", MULTIPLE].available) == (5, 10)
    assert (cells["B", TF].required, cells["B", TF].available) == (20, 16)
    assert cells["B", TF].shortfall == 4 and not cells["B", TF].ok
    assert not report.ok
    assert report.to_dict()["cells"][0] == {
        "scope": "A-01",
        "scope_name": "职业道德",
        "item_type": "single_choice",
        "required": 5,
        "available": 4,
    }


def test_coverage_does_not_fail_on_a_malformed_blueprint():
    bp = make_blueprint(scopes=[*SCOPES, ("X", "甲", "Y"), ("Y", "乙", "X")])
    report = coverage(bp, make_bank(bp, per_point=1))
    assert {"X", "Y"} <= {r.code for r in report.rows}


# --- feasibility ---------------------------------------------------------------------------------


def test_a_bank_that_fills_every_cell_is_feasible():
    bp = make_blueprint()
    check_feasibility(bp, make_bank(bp, per_point=10))


def test_each_short_cell_gets_one_line_naming_scope_type_and_numbers():
    bp = make_blueprint()
    items = make_bank(bp, per_point=10)
    # keep only 3 of the 30 判断 items under A-02; its cell needs 5
    a02_tf = [i for i in items if i.type == TF and i.knowledge_point.startswith("A-02-")]
    items = [i for i in items if i not in a02_tf[3:]]
    with pytest.raises(BlueprintError) as info:
        check_feasibility(bp, items)
    assert info.value.shortfalls == [
        "范围 A-02 安全知识 × 判断: 需要 5 题，题库中仅有 3 道可用试题"
    ]
    assert "1 个组卷单元试题不足" in str(info.value)


def test_retired_items_are_not_available():
    bp = make_blueprint()
    items = make_bank(bp, per_point=10)
    for i in items:
        if i.knowledge_point in ("A-01-001", "A-01-002") and i.type == SINGLE:
            i.status = Status.RETIRED
    with pytest.raises(BlueprintError) as info:
        check_feasibility(bp, items)
    assert info.value.shortfalls == [
        "范围 A-01 职业道德 × 单选: 需要 5 题，题库中仅有 0 道可用试题"
    ]


def test_disjoint_forms_need_that_many_times_each_cell():
    bp = make_blueprint()
    items = make_bank(bp, per_point=5)
    check_feasibility(bp, items)  # one form at a time: enough
    with pytest.raises(BlueprintError) as info:
        check_feasibility(bp, items, forms_disjoint=2)
    assert info.value.shortfalls == [
        "范围 B-01 工业机器人参数设置 × 单选: 2 套互不重复的试卷需要 20 题（每套 10 题），"
        "题库中仅有 15 道可用试题",
        "范围 B-02-1 示教编程 × 单选: 2 套互不重复的试卷需要 20 题（每套 10 题），"
        "题库中仅有 15 道可用试题",
        "范围 B-02-2 离线编程 × 单选: 2 套互不重复的试卷需要 16 题（每套 8 题），"
        "题库中仅有 10 道可用试题",
    ]


def test_feasibility_refuses_a_malformed_blueprint_first():
    bp = make_blueprint(cells=[*CELLS[:-1], ("B", TF, 15)])
    with pytest.raises(InvalidBlueprint):
        check_feasibility(bp, make_bank(bp, per_point=10))
