"""Admission tickets (准考证): signed QR tokens and the printable PDF."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from certs import identity, ticket_pdf, ticket_token
from station.models.scheduling import Candidate, ExamSession, Programme, Room
from station.services import keys, roster, sessions
from station.services.errors import DomainError

RULES = [
    "考生须凭准考证和有效身份证件，于开考前 30 分钟到达考场检录。",
    "开考 15 分钟后不得入场；理论考试开始 30 分钟内不得交卷离场。",
    "除准考证、身份证件和规定文具外，其他物品（含手机等电子设备）一律存放在指定位置。",
    "实操考试须按规定穿戴劳动防护用品，严格遵守安全操作规程；违反安全规定者按否决项处理。",
    "考生应服从考评人员管理，违纪行为将被如实记录并按规定处理。",
]


def token_for(candidate: Candidate, session: ExamSession, *, kid: str, private_key) -> str:
    """The signed token in the candidate's ticket QR (never the full ID number)."""
    try:
        claims = ticket_token.TicketClaims(
            session_code=session.code,
            admission_number=candidate.admission_number,
            candidate_name=candidate.name,
            masked_id=identity.mask_id(candidate.id_number),
            exam_date=session.theory_start.astimezone(sessions.SHANGHAI).date(),
        )
    except ticket_token.InvalidTicketClaimsError as exc:
        raise DomainError(f"考生 {candidate.name}（{candidate.admission_number}）的准考证无法生成",
                          [str(exc)]) from None  # fmt: skip
    return ticket_token.sign_ticket(claims, private_key=private_key, kid=kid)


def render(db: Session, *, session_code: str, passphrase: str, site_name: str,
           admission_number: str | None = None) -> bytes:  # fmt: skip
    """One PDF with a ticket per page for the session, or just one candidate's ticket."""
    session = sessions.get_session(db, session_code)
    people = roster.candidates(db, session)
    if admission_number:
        people = [c for c in people if c.admission_number == admission_number]
    if not people:
        raise DomainError(f"场次 {session.code} 没有可打印准考证的考生")
    kid, private_key = keys.signer(db, passphrase=passphrase)
    programme = db.get(Programme, session.programme_id)
    end = session.theory_start + timedelta(minutes=session.theory_minutes)
    practical = [f"{room.name} {sessions.local(sr.starts_at)}–{sessions.local(sr.ends_at)[11:]}"
                 for room, sr in sessions.session_rooms(db, session) if room.kind == "practical"]  # fmt: skip
    views = []
    for c in people:
        room = db.get(Room, c.room_id) if c.room_id else None
        views.append(ticket_pdf.TicketView(
            session_title=session.title, programme=programme.name, level=session.level,
            site_name=site_name, admission_number=c.admission_number, candidate_name=c.name,
            gender={"M": "男", "F": "女"}.get(c.gender, c.gender), masked_id=identity.mask_id(c.id_number),
            organisation=c.organisation, photo=c.photo, room=room.name if room else "",
            seat=str(c.seat or ""), theory_start=session.theory_start, theory_end=end,
            practical_slot="；".join(practical) or None,
            qr_token=token_for(c, session, kid=kid, private_key=private_key),
        ))  # fmt: skip
    try:
        return ticket_pdf.render_tickets(views, title="职业技能等级认定 准考证", rules=RULES)
    except ticket_pdf.TicketRenderError as exc:
        raise DomainError("准考证无法生成", [str(exc)]) from None
