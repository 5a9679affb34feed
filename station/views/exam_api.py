"""The candidates' JSON API (docs/exam-api.md): thin views over station.services.attempts.

Each request is one transaction. Tokens are signed with the instance secret and bound to a
terminal; the API uses no cookies, so it is exempt from CSRF.
"""

from __future__ import annotations

import re
import threading

from flask import Blueprint, current_app, jsonify, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from station import db
from station.answer_writer import AnswerWriter
from station.models.common import utcnow
from station.services import attempts
from station.services.attempts import ExamError
from station.views.console.common import image_response
from station.web import csrf

bp = Blueprint("exam_api", __name__, url_prefix="/api/exam")
csrf.exempt(bp)


_WRITER_LOCK = threading.Lock()


def _writer() -> AnswerWriter:
    app = current_app._get_current_object()
    with _WRITER_LOCK:
        if "answer_writer" not in app.extensions:
            app.extensions["answer_writer"] = AnswerWriter(db.engine())
        return app.extensions["answer_writer"]


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="exam-attempt")


def _claims() -> tuple[int, str]:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ExamError("unauthorized", "请先登录", 401)
    try:
        data = _signer().loads(header.removeprefix("Bearer ").strip())
    except BadSignature:
        raise ExamError("unauthorized", "登录已失效，请重新登录", 401) from None
    return int(data["a"]), str(data["t"])


def _attempt(s, now):
    attempt_id, terminal = _claims()
    # A GET reads without the write turn, so it must not submit an expired attempt itself.
    return attempts.authorise(s, attempt_id=attempt_id, terminal=terminal, now=now,
                              expire=request.method != "GET")  # fmt: skip


@bp.errorhandler(ExamError)
def _exam_error(exc: ExamError):
    session = db.get_session()
    # A refused login still records who asked (the pending terminal), so commit that much.
    if exc.code == "awaiting_approval":
        session.commit()
    else:
        session.rollback()
    return jsonify(error=exc.code, message=exc.message), exc.status


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ExamError("bad_request", "请求内容应为 JSON 对象", 400)
    return data


@bp.post("/login")
def login():
    s, now, body = db.get_session(), utcnow(), _body()
    attempt = attempts.login(s, admission_number=str(body.get("admission_number", "")),
                             id_last6=str(body.get("id_last6", "")),
                             terminal=str(body.get("terminal_id", "")),
                             resume_code=str(body.get("resume_code") or ""), now=now)  # fmt: skip
    payload = {"token": _signer().dumps({"a": attempt.id, "t": attempt.terminal}),
               "state": attempts.state(s, attempt, now=now)}  # fmt: skip
    s.commit()
    return jsonify(payload)


@bp.get("/state")
def state():
    s, now = db.get_session(), utcnow()
    attempt = _attempt(s, now)
    payload = attempts.state(s, attempt, now=now)
    s.commit()  # an attempt past its deadline has just been submitted
    return jsonify(payload)


@bp.post("/start")
def start():
    s, now = db.get_session(), utcnow()
    attempt = attempts.start(s, _attempt(s, now), now=now)
    payload = attempts.state(s, attempt, now=now)
    s.commit()
    return jsonify(payload)


@bp.get("/form")
def form():
    s, now = db.get_session(), utcnow()
    attempt = _attempt(s, now)
    payload = attempts.form_view(s, attempt) | {"state": attempts.state(s, attempt, now=now)}
    version_id = attempts.bank_version_id(s, attempt)
    for item in payload["items"]:
        item["stem"] = _media_links(item["stem"], version_id)
        for option in item["options"]:
            option["text"] = _media_links(option["text"], version_id)
    s.commit()
    return jsonify(payload)


_MEDIA_SRC = re.compile(r'src="media/([^"]+)"')


def _media_links(html: str, version_id: int) -> str:
    # <img> cannot send the bearer token, so each picture gets a signed URL of its own.
    signer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="exam-media")
    return _MEDIA_SRC.sub(
        lambda m: f'src="{url_for("exam_api.media", ref=signer.dumps([version_id, m.group(1)]))}"',
        html,
    )


@bp.get("/media/<ref>")
def media(ref: str):
    signer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="exam-media")
    try:
        version_id, name = signer.loads(ref)
    except (BadSignature, ValueError):
        raise ExamError("not_found", "图片不存在", 404) from None
    blob = attempts.media(db.get_session(), version_id=int(version_id), name=f"media/{name}")
    return image_response(blob, name)


@bp.put("/answers/<uid>")
def save(uid: str):
    now, body = utcnow(), _body()
    attempt_id, terminal = _claims()
    response = body.get("response") or []
    if not isinstance(response, list) or not all(isinstance(k, str) for k in response):
        raise ExamError("bad_response", "答案应为选项列表", 400)
    # Committed together with whatever other saves are waiting (group commit), acknowledged
    # only once on disk.
    writer = _writer()
    result = writer.submit(lambda cursor: attempts.save_answer(
        cursor, database=writer.database, attempt_id=attempt_id, terminal=terminal, uid=uid,
        seq=body.get("seq"), response=response, flagged=bool(body.get("flagged")), now=now))  # fmt: skip
    return jsonify(ack=result.ack, applied=result.applied, saved_at=result.saved_at.isoformat(),
                   remaining_seconds=round(result.remaining_seconds, 1))  # fmt: skip


@bp.post("/submit")
def submit():
    s, now, body = db.get_session(), utcnow(), request.get_json(silent=True)
    seq = body.get("seq") if isinstance(body, dict) else None
    attempt = attempts.submit(s, _attempt(s, now), now=now,
                              seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None)  # fmt: skip
    payload = attempts.state(s, attempt, now=now)
    s.commit()
    return jsonify(payload)


@bp.get("/noop")
def noop():
    _claims()
    return jsonify({})
