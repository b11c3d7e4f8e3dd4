"""Real agent-encoded events for the central tests: the agent's own contract encoder, a QoS 1 publisher.

:func:`encoded` turns typed agent events into the exact MQTT messages a box publishes;
:class:`Publisher` sends them to a test broker and waits for every PUBACK.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.flow.events import (
    AlertEvent,
    AvailabilityEvent,
    Event,
    OccupancyEvent,
    SummaryEvent,
    TemperatureEvent,
)
from agent.wire.contract import Identity, WireMessage, encode
from tests.broker import free_port

PREFIX = "triage/v1"


def identity(site: str = "clinic-001", desk: str = "desk-1") -> Identity:
    return Identity(PREFIX, site, desk, f"{site}-{desk}"[:32])


def encoded(events: Iterable[Event], ident: Identity, first_seq: int = 1) -> list[WireMessage]:
    """The wire messages of ``events`` with consecutive seq numbers from ``first_seq``."""
    return [encode(e, ident, first_seq + i) for i, e in enumerate(events)]


def temperature(at: float, result: str = "normal", estimate: float = 36.6) -> TemperatureEvent:
    return TemperatureEvent(
        at=at,
        result=result,  # type: ignore[arg-type]
        object_c=estimate - 2.2,
        ambient_c=24.0,
        estimate_c=estimate,
        threshold_c=37.3,
        plateau_s=1.1,
        samples=11,
    )


def alert(
    at: float, name: str, state: str, alert_id: str, value: float | None = None
) -> AlertEvent:
    return AlertEvent(
        at=at,
        alert=name,
        state=state,  # type: ignore[arg-type]
        alert_id=alert_id,
        message=f"{name} {state}",
        value=value,
    )


def occupancy(at: float, count: int, peak: int, people: int | None = None) -> OccupancyEvent:
    window = 60.0 if people is not None else None
    return OccupancyEvent(at=at, count=count, max=peak, limit=5, window_s=window, people=people)


def status(
    at: float, state: str, reason: str | None = None, health_every_s: int | None = None
) -> AvailabilityEvent:
    return AvailabilityEvent(at=at, state=state, reason=reason, health_every_s=health_every_s)  # type: ignore[arg-type]


def summary(at: float, window_s: float, **counts: Any) -> SummaryEvent:
    base: dict[str, Any] = {
        "screened": 0,
        "fevers": 0,
        "invalid": 0,
        "people": 0,
        "mask_violations": 0,
        "max_occupancy": 0,
        "alerts": {},
    }
    base.update(counts)
    return SummaryEvent(at=at, window_s=window_s, **base)


class Publisher:
    """A QoS 1 publisher to a test broker; :meth:`send` waits until the broker acked everything."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-box-{free_port()}",
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self._lock = threading.Lock()

    def send(self, messages: Iterable[WireMessage], timeout: float = 30) -> None:
        infos = [self.client.publish(m.topic, m.payload, qos=1, retain=m.retain) for m in messages]
        for info in infos:
            info.wait_for_publish(timeout)

    def raw(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
