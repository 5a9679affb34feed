"""The candidates' JSON API (docs/exam-api.md): thin views over station.services.attempts.

Each request is one transaction, except a login (a read that draws the form, then a short
write; see :func:`login`). Tokens are signed with the instance secret and bound to a terminal;
the API uses no cookies, so it is exempt from CSRF. Saves — the station's most frequent request —
are answered by :class:`LeanRoutes`, a WSGI layer that registering this blueprint puts in front
of Flask; they go to the answer writer thread (group commit).
"""

from __future__ import annotations

import json
import re
import threading
from http import HTTPStatus

from flask import Blueprint, Flask, current_app, jsonify, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from station import db
from station.answer_writer import AnswerWriter
from station.models.common import utcnow
from station.services import answers, attempts
from station.services.attempts import ExamError
from station.services.login_throttle import Hold, LoginThrottle
from station.views.console.common import image_response
from station.web import csrf

bp = Blueprint("exam_api", __name__, url_prefix="/api/exam")
csrf.exempt(bp)


@bp.record_once
def _install(state) -> None:
    app = state.app
    app.extensions["exam_login_throttle"] = LoginThrottle()
    app.extensions["exam_tokens"] = Tokens(app)
    app.wsgi_app = LeanRoutes(app, app.wsgi_app)


_WRITER_LOCK = threading.Lock()


def _writer(app: Flask) -> AnswerWriter:
    """The app's answer writer, started by the first save."""
    writer = app.extensions.get("answer_writer")
    if writer is None:
        with _WRITER_LOCK:
            if "answer_writer" not in app.extensions:
                app.extensions["answer_writer"] = AnswerWriter(app.extensions["station_engine"])
            writer = app.extensions["answer_writer"]
    return writer


class Tokens:
    """The bearer tokens the API hands out: an attempt id and the terminal, signed with the
    instance secret. A token once verified is remembered for as long as the secret stays the
    same, so that a save costs a dictionary lookup instead of an HMAC."""

    MAX_KNOWN = 50_000

    def __init__(self, app: Flask):
        self._app = app
        self._key: str | None = None
        self._signer: URLSafeSerializer | None = None
        self._known: dict[str, tuple[int, str]] = {}

    def _current(self) -> URLSafeSerializer:
        key = self._app.config["SECRET_KEY"]
        if key != self._key or self._signer is None:
            self._known = {}
            self._signer = URLSafeSerializer(key, salt="exam-attempt")
            self._key = key
        return self._signer

    def issue(self, attempt_id: int, terminal: str) -> str:
        return self._current().dumps({"a": attempt_id, "t": terminal})

    def claims(self, authorization: str) -> tuple[int, str]:
        """(attempt id, terminal) from an ``Authorization: Bearer`` header, or a refusal."""
        if not authorization.startswith("Bearer "):
            raise ExamError("unauthorized", "请先登录", 401)
        token = authorization.removeprefix("Bearer ").strip()
        signer = self._current()
        known = self._known.get(token)
        if known is None:
            try:
                data = signer.loads(token)
            except BadSignature:
                raise ExamError("unauthorized", "登录已失效，请重新登录", 401) from None
            known = (int(data["a"]), str(data["t"]))
            if len(self._known) >= self.MAX_KNOWN:
                self._known = {}
            self._known[token] = known
        return known


def _tokens() -> Tokens:
    return current_app.extensions["exam_tokens"]


def _claims() -> tuple[int, str]:
    return _tokens().claims(request.headers.get("Authorization", ""))


def _attempt(s, now):
    attempt_id, terminal = _claims()
    # A GET reads without the write turn, so it must not submit an expired attempt itself.
    return attempts.authorise(s, attempt_id=attempt_id, terminal=terminal, now=now,
                              expire=request.method != "GET")  # fmt: skip


@bp.errorhandler(ExamError)
def _exam_error(exc: ExamError):
    session = db.get_session()
    # A refused login still records who asked (the pending terminal), so commit that much.
    if exc.code in ("awaiting_approval", "bad_resume_code"):
        session.commit()
    else:
        session.rollback()
    response = jsonify(error=exc.code, message=exc.message, **exc.extra)
    if "retry_after" in exc.extra:
        response.headers["Retry-After"] = str(exc.extra["retry_after"])
    return response, exc.status


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ExamError("bad_request", "请求内容应为 JSON 对象", 400)
    return data


@bp.post("/login")
def login():
    now, body = utcnow(), _body()
    number, last6 = str(body.get("admission_number", "")), str(body.get("id_last6", ""))
    terminal = str(body.get("terminal_id", ""))
    guard: LoginThrottle = current_app.extensions["exam_login_throttle"]
    keys = guard.keys(admission_number=number, terminal=terminal, address=request.remote_addr)
    hold = guard.hold(keys, now)
    # The one view with two transactions: first a read, without the write turn, that checks
    # the credentials and draws a first login's form; then a short write that re-checks.
    with db.transaction(write=False) as read:
        try:
            prepared = attempts.prepare_login(read, admission_number=number, id_last6=last6,
                                              terminal=terminal)  # fmt: skip
        except ExamError as exc:
            if hold is not None:  # held back: the same answer, whatever was wrong
                raise _held(hold, terminal) from None
            if exc.code == "credentials":
                guard.failed(keys, now)
            raise
    s = db.get_session()
    if hold is not None and not prepared.trusted_here:
        # The right credentials still show the examiners which terminal asks, to approve it.
        attempts.ask_for_approval(s, admission_number=number, id_last6=last6, terminal=terminal,
                                  prepared=prepared)  # fmt: skip
        s.commit()
        raise _held(hold, terminal)
    try:
        done = attempts.login(s, admission_number=number, id_last6=last6, terminal=terminal,
                                 resume_code=str(body.get("resume_code") or ""), now=now,
                                 prepared=prepared)  # fmt: skip
    except ExamError as exc:
        if exc.code == "bad_resume_code":
            guard.failed(keys, now)
        raise
    payload = {"token": _tokens().issue(done.attempt.id, terminal), "state": done.state}
    s.commit()
    if hold is None:  # let in despite a hold (an approved terminal): the hold stays for others
        guard.succeeded(keys)
    return jsonify(payload)


def _held(hold: Hold, terminal: str) -> ExamError:
    return ExamError("too_many_attempts", hold.message, 429, retry_after=hold.seconds,
                     locked=hold.locked,
                     terminal_code=attempts.terminal_code(terminal) if terminal else None)  # fmt: skip


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
    signer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="exam-media")
    for item in payload["items"]:
        item["stem"] = _media_links(item["stem"], version_id, signer)
        for option in item["options"]:
            option["text"] = _media_links(option["text"], version_id, signer)
    s.commit()
    return jsonify(payload)


_MEDIA_SRC = re.compile(r'src="media/([^"]+)"')


def _media_links(html: str, version_id: int, signer: URLSafeSerializer) -> str:
    # <img> cannot send the bearer token, so each picture gets a signed URL of its own.
    if "media/" not in html:
        return html
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
    # Answered by LeanRoutes in front of Flask; the route exists for url_for and stays correct.
    status, payload = save_answer(current_app._get_current_object(), uid=uid,
                                  body=request.get_json(silent=True),
                                  authorization=request.headers.get("Authorization", ""))  # fmt: skip
    return jsonify(payload), status


def save_answer(app: Flask, *, uid: str, body, authorization: str) -> tuple[int, dict]:
    """One save: (HTTP status, JSON answer). Committed together with whatever other saves are
    waiting (group commit) and acknowledged only once on disk."""
    now = utcnow()
    try:
        attempt_id, terminal = app.extensions["exam_tokens"].claims(authorization)
        if not isinstance(body, dict):
            raise ExamError("bad_request", "请求内容应为 JSON 对象", 400)
        save = answers.parse(attempt_id=attempt_id, terminal=terminal, uid=uid, body=body, now=now)
        result = _writer(app).submit(save)
    except ExamError as exc:
        return exc.status, {"error": exc.code, "message": exc.message, **exc.extra}
    return 200, {"ack": result.ack, "applied": result.applied,
                 "saved_at": result.saved_at.isoformat(),
                 "remaining_seconds": round(result.remaining_seconds, 1)}  # fmt: skip


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
    # Answered by LeanRoutes, like a save: the benchmark's baseline for a request.
    _claims()
    return jsonify({})


# --- the lean path -------------------------------------------------------------------------------

_SAVES = "/api/exam/answers/"
_NOOP = "/api/exam/noop"
MAX_SAVE_BODY = 64 * 1024
# As station.web adds to every response (a test compares the two).
_HEADERS = [
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; "
     "script-src 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
]  # fmt: skip


class LeanRoutes:
    """WSGI middleware that answers ``PUT /api/exam/answers/<uid>`` — and ``GET
    /api/exam/noop``, the benchmark's baseline — in front of Flask.

    A save is the request the station serves most (every change of every candidate's answer),
    and its own work is a token check and a hand-over to the writer thread: Flask's request and
    application contexts, routing, hooks and response object cost several times that, in the
    very GIL the writer thread needs. The answers are the ones the Flask routes give (same JSON,
    status and headers); every other request goes on to Flask.
    """

    def __init__(self, app: Flask, downstream):
        self.app, self.downstream = app, downstream

    def __call__(self, environ, start_response):
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        if method == "PUT" and path.startswith(_SAVES) and "/" not in path[len(_SAVES) :]:
            uid = path[len(_SAVES) :].encode("latin-1").decode("utf-8", "replace")
            if uid:
                return self._answer(start_response, *self._save(environ, uid))
        elif method == "GET" and path == _NOOP:
            return self._answer(start_response, *self._noop(environ))
        return self.downstream(environ, start_response)

    def _save(self, environ, uid: str) -> tuple[int, dict]:
        try:
            body = _json_body(environ)
        except ExamError as exc:
            return exc.status, {"error": exc.code, "message": exc.message}
        try:
            return save_answer(self.app, uid=uid, body=body,
                               authorization=environ.get("HTTP_AUTHORIZATION", ""))  # fmt: skip
        except Exception:  # as Flask would: logged, a 500 (the page keeps the answer, retries)
            self.app.logger.exception("saving answer %s failed", uid)
            return 500, {
                "error": "server_error",
                "message": "服务器暂时无法保存，答案将自动重新提交",
            }

    def _noop(self, environ) -> tuple[int, dict]:
        try:
            self.app.extensions["exam_tokens"].claims(environ.get("HTTP_AUTHORIZATION", ""))
        except ExamError as exc:
            return exc.status, {"error": exc.code, "message": exc.message}
        return 200, {}

    @staticmethod
    def _answer(start_response, status: int, payload: dict) -> list[bytes]:
        data = json.dumps(payload, separators=(",", ":")).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                   *_HEADERS]  # fmt: skip
        if "retry_after" in payload:
            headers.append(("Retry-After", str(payload["retry_after"])))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [data]


def _json_body(environ) -> dict | None:
    """The request's JSON (``None`` when it is not JSON, as Flask's ``get_json(silent=True)``)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_SAVE_BODY:
        raise ExamError("bad_request", f"请求内容长度无效（上限 {MAX_SAVE_BODY} 字节）", 413)
    mimetype = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    raw = environ["wsgi.input"].read(length) if length else b""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
