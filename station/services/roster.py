"""Session rosters: import (all or nothing), seats, admission numbers."""

from __future__ import annotations

from sqlmodel import Session, col, select

from station.models.scheduling import Candidate, ExamSession, Room
from station.roster_file import RosterError, parse_roster
from station.services import audit, sessions
from station.services.errors import DomainError, NotFound

MAX_NAME = 30  # what an admission ticket's token and a certificate can carry


def import_roster(db: Session, *, actor: str, session_code: str, filename: str,
                  data: bytes) -> list[Candidate]:  # fmt: skip
    """Add every candidate in the file to the session, or none of them."""
    session = sessions.get_session(db, session_code)
    if session.state not in sessions.EDITABLE:
        raise DomainError(
            f"场次 {session.code} 已“{sessions.STATE_LABELS[session.state]}”，不能再导入考生"
        )
    try:
        roster = parse_roster(filename, data)
    except RosterError as exc:
        raise DomainError(f"{filename} 无法导入", [str(p) for p in exc.problems]) from None
    existing = db.exec(select(Candidate).where(Candidate.session_id == session.id)).all()
    known = {(c.id_type, c.id_number): c for c in existing}
    problems = []
    for row in roster.rows:
        other = known.get((row.id_type, row.id_number))
        if other is not None:
            problems.append(f"{filename} 第{row.line}行 证件号码: 与本场次已有考生 {other.name}"
                            f"（准考证号 {other.admission_number}）重复")  # fmt: skip
    wanted_numbers = [r.admission_number for r in roster.rows if r.admission_number]
    problems += [f"{filename} 第{r.line}行 姓名: 超过 {MAX_NAME} 个字符，准考证与证书上放不下"
                 for r in roster.rows if len(r.name) > MAX_NAME]  # fmt: skip
    if wanted_numbers:
        taken = set(db.exec(select(Candidate.admission_number)
                            .where(col(Candidate.admission_number).in_(wanted_numbers))).all())  # fmt: skip
        problems += [f"{filename} 第{r.line}行 准考证号: {r.admission_number} 已被使用"
                     for r in roster.rows if r.admission_number in taken]  # fmt: skip
    placements = _place(db, session, roster.rows, filename, problems)
    if problems:
        raise DomainError(f"{filename} 无法导入", problems)
    added = []
    numbers = _admission_numbers(db, session, roster.rows)
    for row, number, (room, seat) in zip(roster.rows, numbers, placements, strict=True):
        candidate = Candidate(session_id=session.id, admission_number=number, name=row.name,
                              gender=row.gender, id_type=row.id_type, id_number=row.id_number,
                              birth_date=row.birth_date, organisation=row.organisation or "",
                              phone=row.phone or "", photo=row.photo, room_id=room.id, seat=seat)  # fmt: skip
        db.add(candidate)
        added.append(candidate)
    db.flush()
    audit.record(db, actor=actor, action="roster.import", subject=f"session:{session.code}",
                 data={"file": filename, "candidates": len(added)})  # fmt: skip
    return added


def _place(db: Session, session: ExamSession, rows, filename: str, problems: list[str]):
    """Seats the file asks for (考场 + 座位号) where they are free; the rest in order."""
    rooms = {r.code: r for r in sessions.theory_rooms(db, session)}
    rooms.update({r.name: r for r in rooms.values()})
    free = free_seats(db, session)
    asked: dict[int, tuple[Room, int]] = {}
    for n, row in enumerate(rows):
        if not (row.room or row.seat):
            continue
        room = rooms.get(row.room or "")
        seat = int(row.seat) if (row.seat or "").isdigit() else None
        if room is None:
            problems.append(f"{filename} 第{row.line}行 考场: '{row.room or ''}' 不是本场次的理论考场"
                            f"（{'、'.join(r.code for r in sessions.theory_rooms(db, session))}）")  # fmt: skip
        elif seat is None or not 1 <= seat <= room.seats:
            problems.append(
                f"{filename} 第{row.line}行 座位号: 应为 1–{room.seats}，而不是 '{row.seat or ''}'"
            )
        elif (room, seat) not in free:
            problems.append(f"{filename} 第{row.line}行 座位号: {room.code} 第 {seat} 座已有考生")
        else:
            asked[n] = (room, seat)
    rest = [s for s in free if s not in asked.values()]
    unplaced = len(rows) - len(asked)
    if unplaced > len(rest):
        problems.append(f"场次 {session.code} 理论考场共 {sessions.capacity(db, session)} 个座位，"
                        f"剩余 {len(free)} 个，放不下本次的 {len(rows)} 名考生")  # fmt: skip
        return []
    auto = iter(rest)
    return [asked[n] if n in asked else next(auto) for n in range(len(rows))]


def free_seats(db: Session, session: ExamSession) -> list[tuple[Room, int]]:
    """Unoccupied theory seats in room order, then seat order."""
    taken = set(db.exec(select(Candidate.room_id, Candidate.seat)
                        .where(Candidate.session_id == session.id)).all())  # fmt: skip
    return [(room, seat) for room in sessions.theory_rooms(db, session)
            for seat in range(1, room.seats + 1) if (room.id, seat) not in taken]  # fmt: skip


def _admission_numbers(db: Session, session: ExamSession, rows) -> list[str]:
    """The file's own numbers where given; the rest as session code + serial, skipping any in use."""
    used = set(db.exec(select(Candidate.admission_number)
                       .where(col(Candidate.admission_number).startswith(session.code))).all())  # fmt: skip
    used |= {r.admission_number for r in rows if r.admission_number}
    numbers, serial = [], 0
    for row in rows:
        if row.admission_number:
            numbers.append(row.admission_number)
            continue
        serial += 1
        while f"{session.code}{serial:04d}" in used:
            serial += 1
        numbers.append(f"{session.code}{serial:04d}")
    return numbers


def move_seat(db: Session, *, actor: str, session_code: str, admission_number: str, room: str,
              seat: int) -> Candidate:  # fmt: skip
    candidate = get_candidate(db, admission_number)
    session = db.get(ExamSession, candidate.session_id)
    if session.code != session_code:
        raise DomainError(f"考生 {admission_number} 不属于场次 {session_code}")
    if session.state not in sessions.EDITABLE:
        raise DomainError(
            f"场次 {session.code} 已“{sessions.STATE_LABELS[session.state]}”，不能再调整座位"
        )
    rooms = {r.code: r for r in sessions.theory_rooms(db, session)}
    if room not in rooms:
        raise DomainError(f"考场 {room} 不属于场次 {session.code}（可选：{'、'.join(rooms)}）")
    target = rooms[room]
    if not 1 <= seat <= target.seats:
        raise DomainError(f"考场 {room} 的座位号为 1–{target.seats}，而不是 {seat}")
    occupant = db.exec(select(Candidate).where(Candidate.session_id == session.id,
                                               Candidate.room_id == target.id,
                                               Candidate.seat == seat)).first()  # fmt: skip
    if occupant is not None and occupant.id != candidate.id:
        raise DomainError(
            f"考场 {room} 第 {seat} 座已安排给 {occupant.name}（{occupant.admission_number}）"
        )
    before = (candidate.room_id, candidate.seat)
    candidate.room_id, candidate.seat = target.id, seat
    db.add(candidate)
    db.flush()
    audit.record(db, actor=actor, action="candidate.seat", subject=f"candidate:{admission_number}",
                 data={"from": list(before), "to": [room, seat]})  # fmt: skip
    return candidate


def get_candidate(db: Session, admission_number: str) -> Candidate:
    candidate = db.exec(
        select(Candidate).where(Candidate.admission_number == admission_number)
    ).first()
    if candidate is None:
        raise NotFound(f"准考证号 '{admission_number}' 不存在")
    return candidate


def candidates(db: Session, session: ExamSession) -> list[Candidate]:
    return list(db.exec(select(Candidate).where(Candidate.session_id == session.id)
                        .order_by(Candidate.room_id, Candidate.seat)))  # fmt: skip
