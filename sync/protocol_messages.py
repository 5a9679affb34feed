"""Message shapes of ``skillcert-sync/1``: push, feed and error bodies.

Each shape is a small frozen dataclass with ``to_dict()`` and a ``parse_*`` function that
raises :class:`sync.protocol.ProtocolError` naming the field (``results[3].status`` …). Both
ends use the same code: the registry parses requests and builds responses, the station builds
requests and parses responses — so a field renamed on one side breaks a test, not production.

Enrollment messages live in :mod:`sync.protocol_keys`. A push request is parsed only down to its envelope: each record is checked on its own
(:func:`sync.protocol.verify_record`), because one bad record must be rejected alone and not
take its batch with it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.protocol import ProtocolError, format_time, parse_time
from sync.protocol_payloads import list_at, number, object_at, sha256_hex, text, timestamp

__all__ = [
    "EVENT_KINDS",
    "FEED_DEFAULT_LIMIT",
    "FEED_MAX_LIMIT",
    "MAX_BATCH_RECORDS",
    "MAX_PUSH_BYTES",
    "STATUSES",
    "ErrorResponse",
    "FeedEvent",
    "FeedQuery",
    "FeedResponse",
    "PushRequest",
    "PushResponse",
    "PushResult",
    "parse_error_response",
    "parse_feed_query",
    "parse_feed_response",
    "parse_push_request",
    "parse_push_response",
]

MAX_BATCH_RECORDS = 200
#: Largest push body the registry accepts (set Flask's MAX_CONTENT_LENGTH to it).
MAX_PUSH_BYTES = 8 * 1024 * 1024
FEED_DEFAULT_LIMIT = 100
FEED_MAX_LIMIT = 500
STATUSES = ("accepted", "duplicate", "rejected")
EVENT_KINDS = ("revocation", "trust_list", "message", "bank_release")

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_REASON = re.compile(r"[a-z_]{1,40}(: .*)?", re.DOTALL)
_CURSOR = re.compile(r"[A-Za-z0-9._~-]{1,200}")


def _cursor(where: str, value: object) -> str:
    if not isinstance(value, str) or not _CURSOR.fullmatch(value):
        raise ProtocolError(where, f"无效的游标 {value!r} (expected 1-200 URL-safe characters)")
    return value


# --------------------------------------------------------------------------- push


@dataclass(frozen=True)
class PushRequest:
    """``POST /api/v1/sync/push``: a batch id and its records (record dicts, unverified)."""

    batch: str
    records: tuple[Mapping[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "records": [dict(r) for r in self.records]}

    def record_ids(self) -> list[str | None]:
        """Each record's ``id`` when it is a string (results echo it), else None."""
        return [r.get("id") if isinstance(r.get("id"), str) else None for r in self.records]


def parse_push_request(data: object) -> PushRequest:
    body = object_at("body", data)
    batch = body.get("batch")
    if not isinstance(batch, str) or not _UUID.fullmatch(batch):
        raise ProtocolError("batch", f"应为小写 UUID，实际为 {batch!r} (expected a uuid)")
    records = list_at("records", body.get("records"), MAX_BATCH_RECORDS)
    if not records:
        raise ProtocolError("records", "批次为空 (empty batch)")
    for index, record in enumerate(records):
        object_at(f"records[{index}]", record)
    return PushRequest(batch=batch, records=tuple(records))


@dataclass(frozen=True)
class PushResult:
    """The registry's answer for one record. ``receipt`` for accepted/duplicate, ``reason``
    (``"<code>: <why>"``) for rejected."""

    id: str | None
    status: str
    receipt: Mapping[str, Any] | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ProtocolError("status", f"应为 {', '.join(STATUSES)} 之一 (unknown status)")
        if self.status == "rejected":
            if not isinstance(self.reason, str) or not _REASON.fullmatch(self.reason):
                raise ProtocolError("reason", '拒收须附原因 "code: text" (reason required)')
            if self.receipt is not None:
                raise ProtocolError("receipt", "拒收的记录没有回执 (no receipt when rejected)")
        else:
            if not isinstance(self.receipt, Mapping):
                raise ProtocolError("receipt", "应为 JSON 对象 (receipt required)")
            if self.reason is not None:
                raise ProtocolError("reason", "只有拒收才有原因 (reason only when rejected)")

    @property
    def reason_code(self) -> str | None:
        """``bad_signature`` for ``"bad_signature: …"``; None unless rejected."""
        return None if self.reason is None else self.reason.split(":", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.status == "rejected":
            out["reason"] = self.reason
        else:
            out["receipt"] = dict(self.receipt or {})
        return out


@dataclass(frozen=True)
class PushResponse:
    server_time: dt.datetime
    results: tuple[PushResult, ...]
    tree_head: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "server_time": format_time(self.server_time),
            "tree_head": None if self.tree_head is None else dict(self.tree_head),
            "results": [r.to_dict() for r in self.results],
        }


def parse_push_response(data: object, *, sent: PushRequest | None = None) -> PushResponse:
    """Parse a push answer; with ``sent``, also check one result per record, ids in order."""
    body = object_at("body", data)
    server_time = parse_time("server_time", body.get("server_time"))
    tree_head = body.get("tree_head")
    if tree_head is not None:
        object_at("tree_head", tree_head)
    raw = list_at("results", body.get("results"), MAX_BATCH_RECORDS)
    results = []
    for index, item in enumerate(raw):
        where = f"results[{index}]"
        item = object_at(where, item)
        rid = item.get("id")
        if rid is not None and not isinstance(rid, str):
            raise ProtocolError(f"{where}.id", "应为文本或 null (expected a string)")
        try:
            results.append(
                PushResult(rid, item.get("status"), item.get("receipt"), item.get("reason"))
            )  # type: ignore[arg-type]
        except ProtocolError as exc:
            raise ProtocolError(f"{where}.{exc.field}", exc.message) from None
    if sent is not None:
        expected = sent.record_ids()
        if len(results) != len(expected):
            raise ProtocolError(
                "results",
                f"发送 {len(expected)} 条记录，收到 {len(results)} 个结果 (count mismatch)",
            )
        for index, (result, rid) in enumerate(zip(results, expected, strict=True)):
            if result.id != rid:
                raise ProtocolError(f"results[{index}].id", f"应为 {rid}，实际为 {result.id}")
    return PushResponse(server_time=server_time, results=tuple(results), tree_head=tree_head)


# --------------------------------------------------------------------------- feed


@dataclass(frozen=True)
class FeedQuery:
    after: str | None = None
    limit: int = FEED_DEFAULT_LIMIT


def parse_feed_query(args: Mapping[str, str]) -> FeedQuery:
    """``?after=<cursor>&limit=<n>`` of ``GET /api/v1/sync/feed`` (both optional)."""
    after = args.get("after") or None
    if after is not None:
        _cursor("after", after)
    raw = args.get("limit")
    if raw is None or raw == "":
        return FeedQuery(after, FEED_DEFAULT_LIMIT)
    if not str(raw).isdigit() or not 1 <= int(raw) <= FEED_MAX_LIMIT:
        raise ProtocolError("limit", f"应为 1–{FEED_MAX_LIMIT} 的整数，实际为 {raw!r}")
    return FeedQuery(after, int(raw))


def _check_event_payload(kind: str, payload: Mapping[str, Any], where: str) -> None:
    if kind == "revocation":
        number(payload, "number", prefix=where)
        timestamp(payload, "revoked_at", prefix=where)
        text(payload, "reason", 500, prefix=where)
        text(payload, "origin", 64, prefix=where)
    elif kind == "trust_list":
        for name in ("format", "kid", "trust_list", "signature"):
            if name not in payload:  # the signature is checked by verify_signed_trust_list
                raise ProtocolError(f"{where}.{name}", "缺少此字段 (missing)")
    elif kind == "message":
        text(payload, "title", 200, prefix=where)
        text(payload, "body", 10_000, multiline=True, prefix=where)
    elif kind == "bank_release":
        text(payload, "bank", 64, prefix=where)
        text(payload, "version", 64, prefix=where)
        text(payload, "package_url", 2000, prefix=where)
        sha256_hex(payload, "sha256", prefix=where)
        if payload.get("release_code") is not None:  # None: a plain bank, or a code not yet out
            text(payload, "release_code", 2000, prefix=where)


@dataclass(frozen=True)
class FeedEvent:
    seq: int
    kind: str
    payload: Mapping[str, Any]
    at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seq, bool) or not isinstance(self.seq, int) or self.seq < 1:
            raise ProtocolError("seq", f"应为正整数，实际为 {self.seq!r} (expected a positive int)")
        if self.kind not in EVENT_KINDS:
            raise ProtocolError(
                "kind", f"未知的事件类型 {self.kind!r}：请升级站点软件 (unknown event kind)"
            )
        _check_event_payload(self.kind, object_at("payload", self.payload), "payload")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "kind": self.kind, "payload": dict(self.payload)}
        if self.at is not None:
            out["at"] = format_time(self.at)
        return out


@dataclass(frozen=True)
class FeedResponse:
    server_time: dt.datetime
    next: str
    more: bool
    events: tuple[FeedEvent, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "server_time": format_time(self.server_time),
            "next": self.next,
            "more": self.more,
            "events": [e.to_dict() for e in self.events],
        }


def parse_feed_response(data: object) -> FeedResponse:
    """Parse a feed page; events must be in strictly increasing ``seq`` order."""
    body = object_at("body", data)
    server_time = parse_time("server_time", body.get("server_time"))
    cursor = _cursor("next", body.get("next"))
    more = body.get("more")
    if not isinstance(more, bool):
        raise ProtocolError("more", "应为 true 或 false (expected a boolean)")
    events: list[FeedEvent] = []
    for index, item in enumerate(list_at("events", body.get("events"), FEED_MAX_LIMIT)):
        where = f"events[{index}]"
        item = object_at(where, item)
        at = item.get("at")
        try:
            event = FeedEvent(
                seq=item.get("seq"),  # type: ignore[arg-type]
                kind=item.get("kind"),  # type: ignore[arg-type]
                payload=item.get("payload"),  # type: ignore[arg-type]
                at=None if at is None else parse_time("at", at),
            )
        except ProtocolError as exc:
            raise ProtocolError(f"{where}.{exc.field}", exc.message) from None
        if events and event.seq <= events[-1].seq:
            raise ProtocolError(f"{where}.seq", f"{event.seq} 未大于前一事件 (out of order)")
        events.append(event)
    return FeedResponse(server_time, cursor, more, tuple(events))


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorResponse:
    """``{"error": code, "message": …, "server_time": …}`` — every 4xx/5xx JSON answer."""

    error: str
    message: str
    server_time: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.server_time is not None:
            out["server_time"] = format_time(self.server_time)
        return out


def parse_error_response(data: object) -> ErrorResponse:
    body = object_at("body", data)
    error = body.get("error")
    if not isinstance(error, str) or not re.fullmatch(r"[a-z_]{1,40}", error):
        raise ProtocolError("error", f"无效的错误代码 {error!r} (expected a code)")
    message = body.get("message", "")
    if not isinstance(message, str):
        raise ProtocolError("message", "应为文本 (expected a string)")
    raw_time = body.get("server_time")
    return ErrorResponse(
        error, message, None if raw_time is None else parse_time("server_time", raw_time)
    )
