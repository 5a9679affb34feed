"""Benchmark: assembling one exam session's forms from a large bank.

Builds a synthetic bank (default 50,000 items) for a realistic blueprint (3 top scopes, 12
sub-scopes, 60 knowledge points; 单选 40 × 1 + 多选 20 × 2 + 判断 20 × 1 = 100 points) and
assembles one session of forms (default 300) with ``assemble_session``. The baseline, run in the
same process on the same bank, is the naive way: index the cells once, then per form a plain
``random.sample`` per cell, no exposure balancing, no spread, no difficulty steering.

Printed: time, forms/s, peak traced memory, the worst cell's exposure spread (max - min uses of
one cell's candidates after the session) and the stdev of the forms' mean difficulty, each for
both, with the ratio assembly / naive.

    .venv/bin/python benchmarks/assembly.py [--items 50000] [--forms 300] [--seed 2026]

Target: 300 forms from 50,000 items in under 3 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

try:
    import question_bank  # noqa: F401 - installed with `pip install -e .`
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from question_bank.assembly import Form, FormEntry, assemble_session, mean_difficulty
from question_bank.blueprint import (
    Blueprint,
    Cell,
    KnowledgePoint,
    Scope,
    Section,
    knowledge_points_under,
    validate_blueprint,
)
from question_bank.items import Importance, Item, ItemType, Option

SINGLE, MULTIPLE, TF = ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE, ItemType.TRUE_FALSE
TOPS = [("A", "基本要求"), ("B", "相关知识"), ("C", "专业知识")]


def make_blueprint() -> Blueprint:
    scopes, points = [], []
    raw_weights = {Importance.X: 2.5, Importance.Y: 1.5, Importance.Z: 1.0}
    pattern = [Importance.X, Importance.X, Importance.Y, Importance.Y, Importance.Z]
    for top, name in TOPS:
        scopes.append(Scope(top, name))
        for s in range(1, 5):
            sub = f"{top}-{s:02d}"
            scopes.append(Scope(sub, f"{name} 第{s}部分", top))
            for k in range(1, 6):
                imp = pattern[k - 1]
                points.append(KnowledgePoint(f"{sub}-{k:03d}", f"鉴定点 {sub}-{k}", sub, imp, 0))
    total = sum(raw_weights[k.importance] for k in points)
    points = [
        KnowledgePoint(
            k.code, k.name, k.scope, k.importance, raw_weights[k.importance] * 100 / total
        )
        for k in points
    ]
    subs = [s.code for s in scopes if s.parent]
    single = [4, 3, 3] * 4  # 40
    multiple = [2, 2, 1] * 4  # 20
    cells = [Cell(code, SINGLE, n) for code, n in zip(subs, single, strict=True)]
    cells += [Cell(code, MULTIPLE, n) for code, n in zip(subs, multiple, strict=True)]
    cells += [Cell(top, TF, n) for (top, _), n in zip(TOPS, [7, 7, 6], strict=True)]
    bp = Blueprint(
        name="BENCH-理论",
        scopes=scopes,
        knowledge_points=points,
        sections=[Section(SINGLE, 1.0), Section(MULTIPLE, 2.0), Section(TF, 1.0)],
        cells=cells,
    )
    validate_blueprint(bp)
    return bp


def make_bank(bp: Blueprint, n: int, seed: int) -> list[Item]:
    rng = random.Random(seed)
    codes = [k.code for k in bp.knowledge_points]
    weights = [k.weight for k in bp.knowledge_points]
    types = rng.choices([SINGLE, MULTIPLE, TF], weights=[50, 25, 25], k=n)
    kps = rng.choices(codes, weights=weights, k=n)
    items = []
    for i in range(n):
        t = types[i]
        if t == TF:
            options: tuple[Option, ...] = ()
            answer: tuple[str, ...] = ("T",)
        else:
            keys = "ABCDE"[: 4 if t == SINGLE else rng.choice((4, 5))]
            options = tuple(Option(k, f"选项{k}") for k in keys)
            answer = ("A",) if t == SINGLE else ("A", "B")
        difficulty = None if rng.random() < 0.05 else round(rng.betavariate(2, 3), 3)
        items.append(
            Item(
                uid=f"BENCH-{i:06d}",
                type=t,
                stem=f"试题 {i}",
                answer=answer,
                options=options,
                knowledge_point=kps[i],
                difficulty=difficulty,
            )
        )
    rng.shuffle(items)  # input order must not matter
    return items


def naive_session(bp: Blueprint, items: list[Item], *, seed: int, count: int) -> list[Form]:
    """The baseline: cells indexed once, then ``random.sample`` per cell per form."""
    rng = random.Random(seed)
    points = {s.item_type: s.points_per_item for s in bp.sections}
    order = {s.item_type: n for n, s in enumerate(bp.sections)}
    by_kp_type: dict[tuple[str, ItemType], list[Item]] = {}
    for item in sorted(items, key=lambda i: i.uid):
        by_kp_type.setdefault((item.knowledge_point, item.type), []).append(item)
    cells = [
        (
            c,
            [
                i
                for k in knowledge_points_under(bp, c.scope)
                for i in by_kp_type.get((k, c.item_type), [])
            ],
        )
        for c in bp.cells
    ]
    forms = []
    for _ in range(count):
        sections: dict[int, list[Item]] = {}
        for cell, candidates in cells:
            sections.setdefault(order[cell.item_type], []).extend(
                rng.sample(candidates, cell.count)
            )
        entries, picked = [], []
        for n in sorted(sections):
            part = sections[n]
            rng.shuffle(part)
            for item in part:
                keys = [o.key for o in item.options] if item.type != TF else ["T", "F"]
                if item.type != TF:
                    rng.shuffle(keys)
                entries.append(
                    FormEntry(item.uid, item.version, item.type, points[item.type], tuple(keys))
                )
                picked.append(item)
        forms.append(Form(bp.name, seed, entries, mean_difficulty(picked)))
    return forms


def exposure_spread(bp: Blueprint, items: list[Item], forms: list[Form]) -> int:
    """The worst cell's max - min uses among its candidates after the session."""
    uses: dict[str, int] = {}
    for form in forms:
        for e in form.entries:
            uses[e.uid] = uses.get(e.uid, 0) + 1
    worst = 0
    for cell in bp.cells:
        under = set(knowledge_points_under(bp, cell.scope))
        counts = [
            uses.get(i.uid, 0)
            for i in items
            if i.type == cell.item_type and i.knowledge_point in under
        ]
        worst = max(worst, max(counts) - min(counts))
    return worst


def check(bp: Blueprint, forms: list[Form], count: int) -> None:
    assert len(forms) == count
    for form in forms:
        assert abs(form.total_points - bp.total_points) < 1e-9, form.total_points
        assert len(set(form.uids)) == len(form.uids)


def measure(fn, repeat: int) -> tuple[float, list[Form]]:
    best, forms = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        forms = fn()
        best = min(best, time.perf_counter() - start)
    return best, forms


def peak_memory(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--forms", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best counts")
    args = parser.parse_args(argv)

    bp = make_blueprint()
    items = make_bank(bp, args.items, args.seed)
    n_items = sum(c.count for c in bp.cells)
    print(
        f"bank: {len(items):,} items, {len(bp.knowledge_points)} knowledge points, "
        f"{len(bp.cells)} cells; form: {n_items} items / {bp.total_points:g} points; "
        f"session: {args.forms} forms"
    )

    def ours():
        return assemble_session(bp, items, seed=args.seed, count=args.forms)

    def naive():
        return naive_session(bp, items, seed=args.seed, count=args.forms)

    t_ours, forms_ours = measure(ours, args.repeat)
    t_naive, forms_naive = measure(naive, args.repeat)
    check(bp, forms_ours, args.forms)
    check(bp, forms_naive, args.forms)
    mem_ours, mem_naive = peak_memory(ours), peak_memory(naive)
    spread_ours = exposure_spread(bp, items, forms_ours)
    spread_naive = exposure_spread(bp, items, forms_naive)
    sd_ours = statistics.pstdev(f.mean_difficulty for f in forms_ours)
    sd_naive = statistics.pstdev(f.mean_difficulty for f in forms_naive)

    rows = [
        ("total seconds", t_ours, t_naive, "{:.3f}"),
        ("forms / s", args.forms / t_ours, args.forms / t_naive, "{:,.0f}"),
        ("peak memory MiB", mem_ours / 2**20, mem_naive / 2**20, "{:.1f}"),
        ("exposure max-min (worst cell)", spread_ours, spread_naive, "{:d}"),
        ("stdev of form mean difficulty", sd_ours, sd_naive, "{:.4f}"),
    ]
    print(f"\n{'metric':<32}{'assembly':>12}{'naive':>12}{'assembly / naive':>18}")
    for name, a, b, fmt in rows:
        ratio = f"{a / b:.2f}" if b else "-"
        print(f"{name:<32}{fmt.format(a):>12}{fmt.format(b):>12}{ratio:>18}")
    verdict = "OK" if t_ours < 3.0 else "SLOW"
    print(f"\ntarget: {args.forms} forms in < 3 s -> {t_ours:.3f} s ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
