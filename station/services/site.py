"""The site's programmes and rooms."""

from __future__ import annotations

from sqlmodel import Session, select

from station.models.scheduling import Programme, Room, RoomKind
from station.services import audit
from station.services.errors import DomainError, NotFound


def add_programme(db: Session, *, actor: str, code: str, name: str, levels: list[str],
                  occupation_code: str = "", occupation: str = "", direction: str = "",
                  issuer_name: str = "", theory_pass: float = 60,
                  practical_pass: float = 60) -> Programme:  # fmt: skip
    problems = []
    if not code.strip():
        problems.append("证书项目代码不能为空")
    if not name.strip():
        problems.append("证书项目名称不能为空")
    if not [lv for lv in levels if lv.strip()]:
        problems.append("至少需要一个等级")
    for label, value in (("理论及格线", theory_pass), ("技能及格线", practical_pass)):
        if not 0 < value <= 100:
            problems.append(f"{label}须在 0–100 之间，而不是 {value}")
    if db.exec(select(Programme).where(Programme.code == code)).first():
        problems.append(f"证书项目 {code} 已存在")
    if problems:
        raise DomainError("无法添加证书项目", problems)
    programme = Programme(code=code.strip(), name=name.strip(),
                          levels=",".join(lv.strip() for lv in levels if lv.strip()),
                          occupation_code=occupation_code, occupation=occupation,
                          direction=direction, issuer_name=issuer_name,
                          theory_pass=theory_pass, practical_pass=practical_pass)  # fmt: skip
    db.add(programme)
    db.flush()
    audit.record(db, actor=actor, action="programme.add", subject=f"programme:{code}")
    return programme


def add_room(db: Session, *, actor: str, code: str, name: str, kind: str, seats: int) -> Room:
    problems = []
    try:
        room_kind = RoomKind(kind)
    except ValueError:
        problems.append(f"考场类型 '{kind}' 无效，可选 theory（理论）或 practical（实操）")
        room_kind = None
    if seats < 1:
        problems.append(f"座位/工位数须为正整数，而不是 {seats}")
    if not code.strip():
        problems.append("考场代码不能为空")
    if db.exec(select(Room).where(Room.code == code)).first():
        problems.append(f"考场 {code} 已存在")
    if problems:
        raise DomainError("无法添加考场", problems)
    room = Room(code=code.strip(), name=name.strip() or code, kind=room_kind, seats=seats)
    db.add(room)
    db.flush()
    audit.record(db, actor=actor, action="room.add", subject=f"room:{code}",
                 data={"kind": kind, "seats": seats})  # fmt: skip
    return room


def get_programme(db: Session, code: str) -> Programme:
    programme = db.exec(select(Programme).where(Programme.code == code)).first()
    if programme is None:
        raise NotFound(f"证书项目 '{code}' 不存在")
    return programme


def get_room(db: Session, code: str) -> Room:
    room = db.exec(select(Room).where(Room.code == code)).first()
    if room is None:
        raise NotFound(f"考场 '{code}' 不存在")
    return room


def list_programmes(db: Session) -> list[Programme]:
    return list(db.exec(select(Programme).order_by(Programme.code)))


def list_rooms(db: Session) -> list[Room]:
    return list(db.exec(select(Room).order_by(Room.code)))
