"""The wire contract with central subscribers: topics, the JSON envelope, and the JSON schemas.

This is the only module that turns typed events (:mod:`agent.flow.events`) into MQTT topics and JSON bytes.
Topic: ``<prefix>/<site>/<desk>/<kind>``. Payload: a compact JSON object with the envelope

    v       schema version (int)            id     unique event id (32 hex chars)
    seq     per-device sequence number       ts     UTC time of the fact, ISO 8601 with milliseconds
    device  device id (MQTT client id)       kind   the message kind (also the topic's last level)

Site and desk are in the topic only, which keeps every payload within the 512-byte bound.
followed by the kind's own fields (an ``alert`` also carries its ``family``). Fields whose value is
None are left out. Every payload is at most :data:`MAX_PAYLOAD_BYTES`, a ``summary`` at most
:data:`SUMMARY_MAX_PAYLOAD_BYTES` (:func:`payload_bound`; optional fields a kind lists in ``shed``
are left out, in order, to stay within it) and is described by
``agent/wire/schemas/<kind>.json`` (documented in docs/EVENTS.md).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from agent.flow.events import KINDS, AlertEvent, Event, SourceHealth
from agent.wire.config import DeviceConfig, MqttConfig
from agent.wire.errors import WireError

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 512
"""The bound of every payload but the summary's."""
SUMMARY_MAX_PAYLOAD_BYTES = 1024
"""The summary's bound: its ``alerts`` map grows with every counted alert declared
(:mod:`agent.flow.alert_kinds`). The worst case with today's alerts and facts is 593 bytes; each
counted alert adds at most its name plus 9 bytes (``,"name":99999``), so 1024 leaves room for 10
more alerts of the longest names allowed (32 characters); 8 more of those make 921 bytes
(docs/EVENTS.md, tests/test_contract.py). Within what the district side takes: the collector's ``--max-payload`` (4096 by default) and the broker's
``message_size_limit`` (4096, docs/CENTRAL.md)."""
PAYLOAD_BOUNDS: dict[str, int] = {"summary": SUMMARY_MAX_PAYLOAD_BYTES}
QOS = 1


class PayloadTooLargeError(WireError, ValueError):
    """An encoded event exceeded :data:`MAX_PAYLOAD_BYTES` (a bug: events are bounded by design)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who publishes: the device identity and the topic prefix."""

    prefix: str
    site: str
    desk: str
    device: str

    @classmethod
    def of(cls, device: DeviceConfig, mqtt: MqttConfig) -> Identity:
        """The identity a configured device publishes under."""
        return cls(mqtt.topic_prefix, device.site, device.desk, device.device_id)

    def topic(self, kind: str) -> str:
        """``<prefix>/<site>/<desk>/<kind>``."""
        return f"{self.prefix}/{self.site}/{self.desk}/{kind}"


@dataclass(frozen=True, slots=True)
class WireMessage:
    """One MQTT message, ready to publish."""

    topic: str
    payload: bytes
    retain: bool
    qos: int = QOS


def iso_ms(ts: float) -> str:
    """POSIX seconds -> ``2026-11-23T10:42:20.123Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _value(v: Any, at: float) -> Any:
    if isinstance(v, float):
        return round(v, 2)
    if isinstance(v, SourceHealth):
        out: dict[str, Any] = {"state": v.state, "for_s": max(0, int(at - v.since))}
        if v.state != "ok" and v.age_s is not None:
            out["age_s"] = round(v.age_s, 1)
        if v.state == "ok" and v.fps is not None:
            out["fps"] = round(v.fps, 1)
        return out
    if isinstance(v, dict):
        return {str(k): _value(x, at) for k, x in v.items()}
    return v


def body(event: Event) -> dict[str, Any]:
    """The kind-specific fields of an event as JSON-ready values (None fields left out)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(event):
        if f.name == "at":
            continue
        v = getattr(event, f.name)
        if v is not None:
            out[f.name] = _value(v, event.at)
    if isinstance(event, AlertEvent):
        out["family"] = event.family
    return out


def envelope(
    event: Event, identity: Identity, seq: int, event_id: str | None = None
) -> dict[str, Any]:
    """The full JSON object for one event."""
    return {
        "v": SCHEMA_VERSION,
        "id": event_id or uuid.uuid4().hex,
        "seq": seq,
        "ts": iso_ms(event.at),
        "device": identity.device,
        "kind": event.kind,
        **body(event),
    }


def payload_bound(kind: str) -> int:
    """The largest payload of ``kind``, bytes."""
    return PAYLOAD_BOUNDS.get(kind, MAX_PAYLOAD_BYTES)


def encode(event: Event, identity: Identity, seq: int, event_id: str | None = None) -> WireMessage:
    """Event -> MQTT message. Raises :class:`PayloadTooLargeError` past the payload bound."""
    doc = envelope(event, identity, seq, event_id)
    bound = payload_bound(event.kind)
    payload = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    for name in getattr(event, "shed", ()):  # optional fields, least useful first
        if len(payload) <= bound:
            break
        doc.pop(name, None)
        payload = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(payload) > bound:
        raise PayloadTooLargeError(f"{event.kind} payload is {len(payload)} bytes (max {bound})")
    return WireMessage(identity.topic(event.kind), payload, event.retain)


@cache
def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one message kind, shipped inside the package."""
    if kind not in KINDS:
        raise KeyError(f"unknown event kind {kind!r}; known: {', '.join(KINDS)}")
    text = resources.files("agent").joinpath("wire", "schemas", f"{kind}.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
