"""Staff accounts: creation, listing, authentication."""

from __future__ import annotations

import re

from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from station.models import Role, StaffUser
from station.services import audit
from station.services.errors import AuthError, DomainError

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
MIN_PASSWORD = 8
# werkzeug's default (scrypt); tests lower the cost, nothing else should.
PASSWORD_METHOD = "scrypt"


def parse_roles(roles: list[str] | str) -> list[Role]:
    names = roles.split(",") if isinstance(roles, str) else roles
    result = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        try:
            result.append(Role(name))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise DomainError(f"未知角色 '{name}'，可选：{allowed}") from None
    if not result:
        raise DomainError("至少需要一个角色 (at least one role)")
    return result


def add_user(db: Session, *, actor: str, username: str, display_name: str, password: str,
             roles: list[str] | str, organisation: str = "") -> StaffUser:  # fmt: skip
    problems = []
    if not USERNAME.match(username):
        problems.append(f"用户名 '{username}' 只能包含字母、数字、下划线、点和连字符，2–64 位")
    if len(password) < MIN_PASSWORD:
        problems.append(f"密码至少 {MIN_PASSWORD} 位")
    if not display_name.strip():
        problems.append("姓名不能为空")
    if db.exec(select(StaffUser).where(StaffUser.username == username)).first():
        problems.append(f"用户名 '{username}' 已存在")
    try:
        role_list = parse_roles(roles)
    except DomainError as exc:
        problems.append(exc.message)
    if problems:
        raise DomainError("无法创建用户", problems)
    user = StaffUser(
        username=username,
        display_name=display_name.strip(),
        organisation=organisation.strip(),
        roles=",".join(r.value for r in role_list),
        password_hash=generate_password_hash(password, method=PASSWORD_METHOD),
    )
    db.add(user)
    db.flush()
    audit.record(db, actor=actor, action="user.add", subject=f"user:{username}",
                 data={"roles": user.roles, "organisation": user.organisation})  # fmt: skip
    return user


def list_users(db: Session) -> list[StaffUser]:
    return list(db.exec(select(StaffUser).order_by(StaffUser.username)))


def authenticate(db: Session, *, username: str, password: str) -> StaffUser:
    user = db.exec(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None or not check_password_hash(user.password_hash, password):
        raise AuthError("用户名或密码错误")
    if not user.active:
        raise AuthError("该账号已停用")
    audit.record(db, actor=username, action="user.login", subject=f"user:{username}")
    return user
