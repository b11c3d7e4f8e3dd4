"""Bytes on the wire for a clinic day, from payload sizes measured on a real agent run.

The day (:data:`DAY`): the desk is open 08:00-17:00 (9 h) and sees 30 people an hour (270 a
day). Per person: one ``temperature`` event; two ``mask`` state changes (a face arrives, leaves)
and two ``occupancy`` changes; 5 % have a fever (an ``alert`` raised and cleared) and 10 % stay
unmasked long enough for an ``unmasked`` alert (raised and cleared). All day (24 h): ``health``
every 60 s, the ``mask`` and ``occupancy`` window figures every 60 s (``vision.compliance_window_s``),
``summary`` every 900 s, one ``status`` at connect, and an MQTT keep-alive ping every 60 s.

Per message on the wire: the JSON payload (average size per kind measured on the broker by
:mod:`bench.bench_agent`), the MQTT 5 PUBLISH header (fixed header 3, topic length 2 + topic,
packet id 2, properties length 1), a 4-byte PUBACK back, and TCP/IPv4 headers (52 bytes with
timestamps) on each of the two segments; TLS would add about 29 bytes per record (AES-GCM), counted
in ``tls``. The same camera streamed as H.264 720p at 1 Mbit/s is 450 MB an hour.
"""

from __future__ import annotations

from collections.abc import Mapping

OPEN_HOURS = 9
PEOPLE_PER_HOUR = 30
DAY = (
    f"clinic open {OPEN_HOURS} h (08:00-17:00), {PEOPLE_PER_HOUR} people/h; per person 1 "
    "temperature, 2 mask and 2 occupancy changes, 5 % fever and 10 % unmasked alerts (raise + "
    "clear); all day: health, mask and occupancy windows every 60 s, summary every 900 s, "
    "MQTT ping every 60 s"
)
TOPIC = "triage/v1/bench-site/desk-1/temperature"
TCP_IP = 52
MQTT_FIXED = 3 + 2 + 2 + 1
PUBACK = 4
TLS_RECORD = 29
PING = 2 * (2 + TCP_IP)
H264_BYTES_PER_HOUR = 1_000_000 / 8 * 3600


def day_counts(hours: int = 24, open_hours: int = OPEN_HOURS) -> dict[str, int]:
    """Messages per kind in ``hours`` of which ``open_hours`` with people (default: the day)."""
    people = open_hours * PEOPLE_PER_HOUR
    minutes = hours * 60
    return {
        "temperature": people,
        "mask": 2 * people + minutes,
        "occupancy": 2 * people + minutes,
        "alert": round(2 * 0.05 * people) + round(2 * 0.10 * people),
        "health": minutes,
        "summary": hours * 4,
        "status": 1 if hours == 24 else 0,
    }


def per_message(payload: float, topic_len: int = len(TOPIC), tls: bool = False) -> float:
    """Bytes on the wire (both directions) for one QoS 1 message of ``payload`` bytes."""
    overhead = MQTT_FIXED + topic_len + PUBACK + 2 * TCP_IP + (2 * TLS_RECORD if tls else 0)
    return payload + overhead


def day_bytes(sizes: Mapping[str, float], tls: bool = False) -> dict[str, float]:
    """Bytes per day and per hour (24 h average and open-hours average) for ``sizes`` by kind."""
    counts = day_counts()
    missing = sorted(set(counts) - set(sizes))
    if missing:
        raise ValueError(f"no payload size measured for {', '.join(missing)}")

    def wire(c: Mapping[str, int], hours: int) -> float:
        return sum(c[k] * per_message(sizes[k], tls=tls) for k in c) + hours * 60 * PING

    total = wire(counts, 24)
    open_hour = wire(day_counts(1, 1), 1)
    return {
        "bytes_per_day": round(total),
        "bytes_per_hour": round(total / 24),
        "bytes_per_open_hour": round(open_hour),
        "ratio_vs_h264": total / 24 / H264_BYTES_PER_HOUR,
    }
