"""Paper assembly (组卷): forms drawn from a bank by blueprint.

A form meets its blueprint exactly: per cell, ``count`` active items of the cell's type from
the knowledge points under the cell's scope, each worth its section's points. Within a cell the
choice is, in order of precedence:

1. **exposure** — the least-used items first (as Moodle's random questions do);
2. **spread** — knowledge points not yet covered by this cell first, X before Y before Z;
3. **difficulty** — when there is a target, the item that keeps the form's running mean
   difficulty closest to it, among a few candidates sampled at random;
4. **chance** — everything else is decided by ``random.Random(seed)``.

Everything is deterministic for the same seed and inputs: items are sorted by uid before
anything else and no set or dict iteration order reaches a decision. See
``docs/blueprints-and-assembly.md``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from question_bank.blueprint import IMPORTANCE_RANK, Blueprint, ScopeTree
from question_bank.coverage import active_items, check_feasibility
from question_bank.items import FALSE_KEY, TRUE_KEY, Importance, Item, ItemType

DEFAULT_DIFFICULTY = 0.5  # what an item without an estimate counts as
DIFFICULTY_SAMPLE = 8  # candidates sampled per pick when steering towards a difficulty


@dataclass(frozen=True)
class FormEntry:
    """One item on a form: which version, its points, and the order its options are shown in."""

    uid: str
    version: int
    item_type: ItemType
    points: float
    option_order: tuple[str, ...]  # shuffled option keys; true/false items keep ("T", "F")

    def to_dict(self) -> dict:
        return {
            "uid": self.uid,
            "version": self.version,
            "item_type": self.item_type.value,
            "points": self.points,
            "option_order": list(self.option_order),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> FormEntry:
        return cls(
            uid=data["uid"],
            version=int(data["version"]),
            item_type=ItemType(data["item_type"]),
            points=float(data["points"]),
            option_order=tuple(data["option_order"]),
        )


@dataclass
class Form:
    """试卷: the items, their order and option order that one candidate gets."""

    blueprint: str  # the blueprint's name
    seed: int  # the seed this form was drawn with
    entries: list[FormEntry]
    mean_difficulty: float | None  # mean over entries (no estimate = 0.5); None if none has one

    @property
    def total_points(self) -> float:
        return sum(e.points for e in self.entries)

    @property
    def uids(self) -> list[str]:
        return [e.uid for e in self.entries]

    def to_dict(self) -> dict:
        return {
            "blueprint": self.blueprint,
            "seed": self.seed,
            "mean_difficulty": self.mean_difficulty,
            "total_points": self.total_points,
            "entries": [e.to_dict() for e in self.entries],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Form:
        return cls(
            blueprint=data["blueprint"],
            seed=int(data["seed"]),
            entries=[FormEntry.from_dict(e) for e in data["entries"]],
            mean_difficulty=data.get("mean_difficulty"),
        )


def assemble(
    bp: Blueprint,
    items: Iterable[Item],
    *,
    seed: int,
    exposure: Mapping[str, int] | None = None,
    target_difficulty: float | None = None,
) -> Form:
    """One form meeting ``bp`` exactly, or ``BlueprintError`` naming every short cell.

    ``exposure`` maps uid -> times already used (missing = 0); it is read, never changed.
    With ``target_difficulty`` the form's mean difficulty is steered towards it.
    """
    items = active_items(items)
    check_feasibility(bp, items)
    pool = _Pool(bp, items, exposure)
    target = None if target_difficulty is None else float(target_difficulty)
    return pool.draw(seed, target=target)


def assemble_session(
    bp: Blueprint,
    items: Iterable[Item],
    *,
    seed: int,
    count: int,
    mode: Literal["individual", "ab"] = "individual",
    exposure: Mapping[str, int] | None = None,
) -> list[Form]:
    """The forms for one exam session.

    ``individual``: ``count`` forms, one per candidate. ``ab``: two forms A and B that share no
    item (the caller alternates them by seat), whatever ``count`` is (``count`` 0 gives ``[]``).
    Each form gets a seed derived from ``seed`` (recorded in the form); exposure is counted up
    as forms are drawn, so later forms prefer what earlier ones left unused; every form steers
    towards the bank's mean difficulty in each cell, so forms of a session stay close in mean
    difficulty. ``exposure`` itself is not changed; see :func:`count_exposure`.
    """
    if mode not in ("individual", "ab"):
        raise ValueError(f"unknown assembly mode {mode!r} (individual or ab)")
    if count < 0:
        raise ValueError("count must not be negative")
    if count == 0:
        return []
    items = active_items(items)
    check_feasibility(bp, items, forms_disjoint=2 if mode == "ab" else 1)
    pool = _Pool(bp, items, exposure)
    seeds = random.Random(seed)
    n = 2 if mode == "ab" else count
    return [
        pool.draw(seeds.getrandbits(63), target="bank", disjoint=mode == "ab") for _ in range(n)
    ]


def count_exposure(forms: Iterable[Form], base: Mapping[str, int] | None = None) -> dict[str, int]:
    """``base`` (uid -> uses) plus one use per appearance of an item on ``forms``."""
    out = dict(base or {})
    for form in forms:
        for e in form.entries:
            out[e.uid] = out.get(e.uid, 0) + 1
    return out


def mean_difficulty(items: Iterable[Item]) -> float | None:
    """Mean difficulty, counting items without an estimate as 0.5; None if none has one."""
    values = [i.difficulty for i in items]
    if not values or all(v is None for v in values):
        return None
    return sum(DEFAULT_DIFFICULTY if v is None else v for v in values) / len(values)


# --- the engine ----------------------------------------------------------------------------------


class _Cell:
    """The candidates of one cell, bucketed per knowledge point and per number of uses.

    ``buckets[slot][uses]`` is a list of candidate indices; ``pos[index]`` is where the index
    sits in its list so that taking an item out is a swap-remove, O(1).
    """

    __slots__ = ("item_type", "count", "points", "ranks", "buckets", "slot_of", "target")

    def __init__(self, item_type, count, points, ranks, target):
        self.item_type: ItemType = item_type
        self.count: int = count
        self.points: float = points
        self.ranks: list[int] = ranks  # importance rank per knowledge-point slot
        self.buckets: list[dict[int, list[int]]] = [{} for _ in ranks]
        self.slot_of: dict[int, int] = {}
        self.target: float = target  # mean difficulty of the cell's candidates


class _Pool:
    """Candidates indexed once per call; each ``draw`` takes one form and counts its uses."""

    def __init__(self, bp: Blueprint, items: list[Item], exposure: Mapping[str, int] | None):
        self.bp = bp
        self.items = active_items(items)  # sorted by uid: the only order decisions depend on
        exposure = exposure or {}
        self.uses = [int(exposure.get(i.uid, 0)) for i in self.items]
        self.diff = [
            DEFAULT_DIFFICULTY if i.difficulty is None else i.difficulty for i in self.items
        ]
        self.pos = [0] * len(self.items)
        self.section_order = {s.item_type: n for n, s in enumerate(bp.sections)}
        points = {}
        for s in bp.sections:
            points.setdefault(s.item_type, s.points_per_item)

        tree = ScopeTree(bp)
        kps = {}
        for k in bp.knowledge_points:
            kps.setdefault(k.code, k)
        by_point_type: dict[tuple[str, ItemType], list[int]] = {}
        for index, item in enumerate(self.items):
            if item.knowledge_point in kps:
                by_point_type.setdefault((item.knowledge_point, item.type), []).append(index)

        self.cells: list[_Cell] = []
        for c in bp.cells:
            codes = sorted(
                tree.points_under(c.scope),
                key=lambda code: (IMPORTANCE_RANK.get(kps[code].importance, 1), code),
            )
            members = [by_point_type.get((code, c.item_type), []) for code in codes]
            flat = [i for m in members for i in m]
            target = sum(self.diff[i] for i in flat) / len(flat) if flat else DEFAULT_DIFFICULTY
            cell = _Cell(
                c.item_type,
                c.count,
                points[c.item_type],
                [IMPORTANCE_RANK.get(kps[code].importance or Importance.Y, 1) for code in codes],
                target,
            )
            for slot, indices in enumerate(members):
                for i in indices:
                    cell.slot_of[i] = slot
                    self._put(cell, i)
            self.cells.append(cell)

    def _put(self, cell: _Cell, i: int) -> None:
        bucket = cell.buckets[cell.slot_of[i]].setdefault(self.uses[i], [])
        self.pos[i] = len(bucket)
        bucket.append(i)

    def _take(self, cell: _Cell, i: int) -> None:
        levels = cell.buckets[cell.slot_of[i]]
        bucket = levels[self.uses[i]]
        last = bucket.pop()
        if last != i:
            at = self.pos[i]
            bucket[at] = last
            self.pos[last] = at
        if not bucket:
            del levels[self.uses[i]]

    def draw(self, seed: int, *, target: float | str | None, disjoint: bool = False) -> Form:
        """One form. ``target``: a difficulty, "bank" (each cell's mean) or None.

        Drawn items are counted as used; with ``disjoint`` they leave the pool for good.
        """
        rng = random.Random(seed)
        deviation = 0.0  # sum of (difficulty - target) over the items drawn so far
        drawn: list[tuple[int, float]] = []
        for cell in self.cells:
            cell_target = None if target is None else cell.target if target == "bank" else target
            chosen, deviation = self._fill(cell, rng, cell_target, deviation)
            for i in chosen:
                if not disjoint:
                    self.uses[i] += 1
                    self._put(cell, i)
            drawn.extend((i, cell.points) for i in chosen)
        return self._form(seed, rng, drawn)

    def _fill(self, cell: _Cell, rng: random.Random, target: float | None, deviation: float):
        covered = [0] * len(cell.ranks)
        chosen: list[int] = []
        diff = self.diff
        rand = rng.random
        for _ in range(cell.count):
            # 1. exposure: the lowest number of uses any remaining candidate has
            level = min(min(levels) for levels in cell.buckets if levels)
            # 2. spread: among knowledge points with candidates at that level, the least covered
            #    by this cell so far, X before Y before Z
            best = None
            lists: list[list[int]] = []
            for slot, levels in enumerate(cell.buckets):
                bucket = levels.get(level)
                if bucket:
                    key = (covered[slot], cell.ranks[slot])
                    if best is None or key < best:
                        best, lists = key, [bucket]
                    elif key == best:
                        lists.append(bucket)
            size = sum(len(b) for b in lists)
            only = lists[0] if len(lists) == 1 else None
            # 3. difficulty (when steering) among a few sampled at random, 4. chance
            if target is None:
                n = int(rand() * size)
                i = only[n] if only is not None else _nth(lists, n)
            else:
                if size <= DIFFICULTY_SAMPLE:
                    picks = list(range(size))
                    rng.shuffle(picks)
                else:
                    picks = [int(rand() * size) for _ in range(DIFFICULTY_SAMPLE)]
                i, best_gap = -1, float("inf")
                for n in picks:
                    j = only[n] if only is not None else _nth(lists, n)
                    gap = abs(deviation + diff[j] - target)
                    if gap < best_gap:
                        i, best_gap = j, gap
                deviation += diff[i] - target
            self._take(cell, i)
            covered[cell.slot_of[i]] += 1
            chosen.append(i)
        return chosen, deviation

    def _form(self, seed: int, rng: random.Random, drawn: list[tuple[int, float]]) -> Form:
        """Entries grouped by section (in the blueprint's section order), shuffled within."""
        sections: dict[int, list[tuple[int, float]]] = {}
        for cell_drawn, cell in zip(self._split(drawn), self.cells, strict=True):
            sections.setdefault(self.section_order[cell.item_type], []).extend(cell_drawn)
        entries = []
        for order in sorted(sections):
            part = sections[order]
            rng.shuffle(part)
            for i, points in part:
                item = self.items[i]
                entries.append(
                    FormEntry(
                        uid=item.uid,
                        version=item.version,
                        item_type=item.type,
                        points=points,
                        option_order=_option_order(item, rng),
                    )
                )
        picked = [self.items[i] for i, _ in drawn]
        return Form(self.bp.name, seed, entries, mean_difficulty(picked))

    def _split(self, drawn: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
        out, at = [], 0
        for cell in self.cells:
            out.append(drawn[at : at + cell.count])
            at += cell.count
        return out


def _nth(lists: list[list[int]], n: int) -> int:
    for lst in lists:
        if n < len(lst):
            return lst[n]
        n -= len(lst)
    raise IndexError(n)


def _option_order(item: Item, rng: random.Random) -> tuple[str, ...]:
    if item.type == ItemType.TRUE_FALSE:
        return (TRUE_KEY, FALSE_KEY)
    keys = [o.key for o in item.options]
    rng.shuffle(keys)
    return tuple(keys)
