"""One received MQTT message -> one row for ``events``, or the reason it cannot be stored.

Only the envelope is required (``id``, ``ts``; ``seq`` and ``device`` are read when present): kinds
and fields added to the contract later are stored as they come, their JSON kept whole.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_ID = re.compile(r"^[0-9a-f]{32}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
IGNORED_KINDS = frozenset({"diag"})
"""Topic levels that are not events (``triage-agent diag``'s test publish)."""


class NotAnEventError(ValueError):
    """A message on the event topics that is not a v1 event (logged and counted, not stored)."""


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


def parse_ts(text: str) -> float:
    """``2026-11-23T10:42:20.123Z`` -> POSIX seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def split_topic(prefix: str, topic: str) -> tuple[str, str, str]:
    """``<prefix>/<site>/<desk>/<kind>`` -> (site, desk, kind)."""
    head = prefix.rstrip("/") + "/"
    if not topic.startswith(head):
        raise NotAnEventError(f"topic {topic!r} is not under {prefix!r}")
    parts = topic[len(head) :].split("/")
    if len(parts) != 3 or not all(_NAME.match(p) for p in parts):
        raise NotAnEventError(f"topic {topic!r} is not <prefix>/<site>/<desk>/<kind>")
    return parts[0], parts[1], parts[2]


def _text(doc: dict[str, Any], key: str, limit: int) -> str | None:
    v = doc.get(key)
    return v[:limit] if isinstance(v, str) else None


def to_row(prefix: str, topic: str, payload: bytes, received: float) -> Row:
    """Validate the envelope and build the row; raises :class:`NotAnEventError`."""
    site, desk, kind = split_topic(prefix, topic)
    if kind in IGNORED_KINDS:
        raise NotAnEventError(f"{kind} messages are not events")
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAnEventError(f"{topic}: payload is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise NotAnEventError(f"{topic}: payload is not a JSON object")
    event_id = doc.get("id")
    if not isinstance(event_id, str) or not _ID.match(event_id):
        raise NotAnEventError(f"{topic}: no valid event id")
    ts_text = doc.get("ts")
    try:
        ts = parse_ts(ts_text) if isinstance(ts_text, str) else None
    except ValueError:
        ts = None
    if ts is None:
        raise NotAnEventError(f"{topic}: no valid ts")
    if doc.get("kind", kind) != kind:
        raise NotAnEventError(f"{topic}: kind {doc.get('kind')!r} differs from the topic")
    seq = doc.get("seq")
    return Row(
        event_id=event_id,
        site=site,
        desk=desk,
        kind=kind,
        device=_text(doc, "device", 64),
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        ts=ts,
        received=received,
        alert=_text(doc, "alert", 48) if kind == "alert" else None,
        state=_text(doc, "state", 16),
        alert_id=_text(doc, "alert_id", 32),
        payload=payload.decode("utf-8"),
    )
