"""One received MQTT message -> one row for ``events``, or the reason it is refused.

Input from a box is untrusted: a box may be misconfigured, broken, or in the hands of someone who
wants its clinic to look clean. Everything is checked before it reaches the database, in this order,
and the first failure names the :class:`Reason`:

- the topic is ``<prefix>/<site>/<desk>/<kind>`` with identifier levels (never ``.`` or ``..``);
- the payload is at most ``max_payload`` bytes (checked before anything is parsed);
- it is strict UTF-8 JSON (no byte-order mark, no other encoding) holding an object, nested at most
  :data:`MAX_DEPTH` deep, with no ``NaN``/``Infinity``, no integer beyond 64 bits, no float beyond
  :data:`MAX_ABS_FLOAT`, and no string holding NUL, a control character or a lone surrogate;
- the envelope (docs/EVENTS.md) has the documented types: ``id`` 32 hex, ``ts`` ISO 8601 between
  :data:`TS_MIN` and a day after receipt, ``seq`` 1..2^63-1, ``device`` an identifier, ``v`` a
  small integer, ``kind`` equal to the topic's; and the columns lifted from an alert
  (``alert``, ``state``, ``alert_id``) fit their columns.

Kinds and fields added to the contract later are stored as they come, their JSON kept whole.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

_ID = re.compile(r"^[0-9a-f]{32}$")
NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,64}$")
"""A site, desk or device id: an identifier of at most 64 characters that is not a path word."""
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_ALERT = re.compile(r"^[A-Za-z0-9_.-]{1,48}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
IGNORED_KINDS = frozenset({"diag"})
"""Topic levels that are not events (``triage-agent diag``'s test publish): counted, not kept."""

DEFAULT_MAX_PAYLOAD = 4096
"""Bytes; the contract bounds every event at 512, a summary at 1024 (agent/wire/contract.py); this
leaves room to grow."""
MAX_DEPTH = 8
"""Objects and arrays inside each other; the deepest event today (health ``sources``) has 3."""
MAX_ABS_FLOAT = 1e15
MAX_SEQ = 2**63 - 1
TS_MIN = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
"""No event can be older than the product; a box whose clock was never set sends 1970."""
TS_MAX = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
"""Readers ignore anything stored beyond this (rows from before these checks)."""
MAX_FUTURE_S = 86400.0
"""How far ahead of the collector's clock an event may be dated."""


class Reason(StrEnum):
    """Why a message was refused; the collector counts and quarantines by reason."""

    TOPIC = "topic"
    OVERSIZE = "oversize"
    ENCODING = "encoding"
    JSON = "json"
    NUMBER = "number"
    TEXT = "text"
    ENVELOPE = "envelope"
    TIME = "time"
    DATABASE = "database"
    IGNORED = "ignored"
    """Not an event by design (``diag``): counted, never quarantined."""


class NotAnEventError(ValueError):
    """A message on the event topics that cannot be stored as a v1 event, with the reason."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Row:
    """The values of one ``events`` row."""

    event_id: str
    site: str
    desk: str
    kind: str
    device: str | None
    seq: int | None
    ts: float
    received: float
    alert: str | None
    state: str | None
    alert_id: str | None
    payload: str

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}

    def values(self) -> tuple[Any, ...]:
        """The values in field order (:data:`ROW_FIELDS`)."""
        return tuple(getattr(self, f) for f in self.__slots__)


ROW_FIELDS: tuple[str, ...] = tuple(Row.__slots__)
"""The columns of ``events`` a :class:`Row` fills, in its field order."""


def printable(text: str, limit: int) -> str:
    """``text`` safe for any column, log line or terminal: lone surrogates and control characters
    written as escapes, cut to ``limit`` characters."""
    out = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", out)[:limit]


def parse_ts(text: str) -> float:
    """``2026-11-23T10:42:20.123Z`` -> POSIX seconds (ValueError when it is not such a time)."""
    if len(text) > 40:
        raise ValueError("too long")
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError("no time zone")
    return t.timestamp()


def split_topic(prefix: str, topic: str) -> tuple[str, str, str]:
    """``<prefix>/<site>/<desk>/<kind>`` -> (site, desk, kind)."""
    head = prefix.rstrip("/") + "/"
    shown = printable(topic, 120)
    if not topic.startswith(head):
        raise NotAnEventError(Reason.TOPIC, f"topic {shown!r} is not under {prefix!r}")
    parts = topic[len(head) :].split("/")
    if len(parts) != 3 or not (NAME.match(parts[0]) and NAME.match(parts[1])):
        raise NotAnEventError(
            Reason.TOPIC, f"topic {shown!r} is not <prefix>/<site>/<desk>/<kind> with identifiers"
        )
    if not _KIND.match(parts[2]):
        raise NotAnEventError(Reason.TOPIC, f"topic {shown!r}: kind is not a lowercase name")
    return parts[0], parts[1], parts[2]


class _BadNumberError(Exception):
    pass


def _int(text: str) -> int:
    if len(text) > 20:
        raise _BadNumberError(f"integer of {len(text)} digits")
    v = int(text)
    if not -MAX_SEQ <= v <= MAX_SEQ:
        raise _BadNumberError("integer beyond 64 bits")
    return v


def _float(text: str) -> float:
    if len(text) > 40:
        raise _BadNumberError(f"number of {len(text)} characters")
    v = float(text)
    if not math.isfinite(v) or abs(v) > MAX_ABS_FLOAT:
        raise _BadNumberError(f"number {text[:20]} out of range")
    return v


def _constant(text: str) -> float:
    raise _BadNumberError(f"{text} is not a JSON number")


_decoders = threading.local()


def strict_json(text: str) -> Any:
    """``json.loads`` that refuses NaN, Infinity, huge numbers (raises the errors above)."""
    decoder = getattr(_decoders, "decoder", None)
    if decoder is None:  # one per thread: json.loads with hooks would build one per call
        decoder = _decoders.decoder = json.JSONDecoder(
            parse_int=_int, parse_float=_float, parse_constant=_constant
        )
    return decoder.decode(text)


_MAYBE_BAD_TEXT = re.compile(r"[\\\x7f-\x9f]")
"""What a JSON text must hold for a decoded string to hold a control character or a lone
surrogate: a backslash escape (``\\u0000``, ``\\n``, ``\\ud800``) or a raw DEL/C1 character. A raw
C0 character in a string is refused by the parser already, and strict UTF-8 has no surrogates."""


def _check_depth(doc: Any) -> None:
    """Depth of a parsed document, without recursion (its strings need no check)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise NotAnEventError(Reason.JSON, f"nested deeper than {MAX_DEPTH}")
        for v in node.values() if isinstance(node, dict) else node:
            if isinstance(v, dict | list):
                stack.append((v, depth + 1))


def _check_tree(doc: Any) -> None:
    """Depth and strings of a parsed document, without recursion."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise NotAnEventError(Reason.JSON, f"nested deeper than {MAX_DEPTH}")
            items = list(node.items()) if isinstance(node, dict) else [(None, v) for v in node]
            for k, v in items:
                if k is not None:
                    _check_text(k)
                stack.append((v, depth + 1))
        elif isinstance(node, str):
            _check_text(node)


def _check_text(s: str) -> None:
    if _CONTROL.search(s):
        raise NotAnEventError(Reason.TEXT, f"control character in {printable(s, 40)!r}")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise NotAnEventError(Reason.TEXT, f"lone surrogate in {printable(s, 40)!r}") from None


def parse_payload(payload: bytes, max_payload: int = DEFAULT_MAX_PAYLOAD) -> dict[str, Any]:
    """The payload as a checked JSON object, or :class:`NotAnEventError`."""
    if len(payload) > max_payload:
        raise NotAnEventError(
            Reason.OVERSIZE, f"payload of {len(payload)} bytes (limit {max_payload})"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotAnEventError(Reason.ENCODING, f"payload is not UTF-8 ({exc.reason})") from None
    if text.startswith("\ufeff"):
        raise NotAnEventError(Reason.ENCODING, "payload starts with a byte-order mark")
    try:
        doc = strict_json(text)
    except _BadNumberError as exc:
        raise NotAnEventError(Reason.NUMBER, str(exc)) from None
    except RecursionError:
        raise NotAnEventError(Reason.JSON, f"nested deeper than {MAX_DEPTH}") from None
    except json.JSONDecodeError as exc:
        raise NotAnEventError(Reason.JSON, f"payload is not JSON ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise NotAnEventError(Reason.JSON, "payload is not a JSON object")
    if _MAYBE_BAD_TEXT.search(text):
        _check_tree(doc)
    else:  # no string can hold what _check_text refuses (see _MAYBE_BAD_TEXT): depth only
        _check_depth(doc)
    return doc


def _optional(doc: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str | None:
    v = doc.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not pattern.match(v):
        raise NotAnEventError(Reason.ENVELOPE, f"{key} is not valid ({printable(repr(v), 60)})")
    return v


_STATE = re.compile(r"^[A-Za-z0-9_.-]{1,16}$")
_ALERT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def _envelope(doc: dict[str, Any], kind: str, received: float) -> tuple[str, float, int | None]:
    event_id = doc.get("id")
    if not isinstance(event_id, str) or not _ID.match(event_id):
        raise NotAnEventError(Reason.ENVELOPE, "no valid event id")
    v = doc.get("v", 1)
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 99:
        raise NotAnEventError(Reason.ENVELOPE, "v is not a schema version")
    ts_text = doc.get("ts")
    try:
        ts = parse_ts(ts_text) if isinstance(ts_text, str) else None
    except (ValueError, OverflowError):
        ts = None
    if ts is None:
        raise NotAnEventError(Reason.ENVELOPE, "no valid ts")
    if not TS_MIN <= ts <= received + MAX_FUTURE_S:
        raise NotAnEventError(
            Reason.TIME, f"ts {printable(str(ts_text), 40)} is before 2020 or more than a day ahead"
        )
    if doc.get("kind", kind) != kind:
        raise NotAnEventError(
            Reason.ENVELOPE, f"kind {printable(repr(doc.get('kind')), 40)} differs from the topic"
        )
    seq = doc.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 1):
        raise NotAnEventError(Reason.ENVELOPE, "seq is not an integer >= 1")
    return event_id, ts, seq


def to_row(
    prefix: str,
    topic: str,
    payload: bytes,
    received: float,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
) -> Row:
    """Check the message and build its row; raises :class:`NotAnEventError` with the reason."""
    return checked(prefix, topic, payload, received, max_payload)[0]


def checked(
    prefix: str,
    topic: str,
    payload: bytes,
    received: float,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
) -> tuple[Row, dict[str, Any]]:
    """:func:`to_row`, and the payload as the checked document (the collector's rollups read it
    instead of parsing the payload again)."""
    site, desk, kind = split_topic(prefix, topic)
    if kind in IGNORED_KINDS:
        raise NotAnEventError(Reason.IGNORED, f"{kind} messages are not events")
    doc = parse_payload(payload, max_payload)
    event_id, ts, seq = _envelope(doc, kind, received)
    row = Row(
        event_id=event_id,
        site=site,
        desk=desk,
        kind=kind,
        device=_optional(doc, "device", NAME),
        seq=seq,
        ts=ts,
        received=received,
        alert=_optional(doc, "alert", _ALERT) if kind == "alert" else None,
        state=_optional(doc, "state", _STATE),
        alert_id=_optional(doc, "alert_id", _ALERT_ID),
        payload=payload.decode("utf-8"),
    )
    return row, doc


HEAD_BYTES = 512
"""How much of a refused payload the quarantine keeps."""


@dataclass(frozen=True, slots=True)
class Refused:
    """The values of one ``quarantine`` row: a refused message, made printable."""

    received: float
    reason: str
    detail: str
    topic: str
    size: int
    head: str

    @classmethod
    def of(
        cls, topic: str, payload: bytes, size: int, error: NotAnEventError, received: float
    ) -> Refused:
        """``payload`` may be only the first bytes of the message; ``size`` is the whole size."""
        head = payload[:HEAD_BYTES].decode("utf-8", "backslashreplace")
        return cls(
            received=received,
            reason=str(error.reason),
            detail=printable(error.detail, 200),
            topic=printable(topic, 200),
            size=size,
            head=printable(head, 4 * HEAD_BYTES),
        )

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}
