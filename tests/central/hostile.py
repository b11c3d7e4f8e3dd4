"""Messages a hostile or broken box can send, for the central tests: each one with the reason the
collector must refuse it for (central/store/records.py), and good events to send around them."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from central.store.records import Reason

PREFIX = "triage/v1"
TOPIC = f"{PREFIX}/clinic-001/desk-1/temperature"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def good_doc(seq: int, ts: float | None = None) -> dict[str, object]:
    """A valid temperature event (the fields the agent sends)."""
    return {
        "v": 1,
        "id": uuid.uuid4().hex,
        "seq": seq,
        "ts": iso(time.time() if ts is None else ts),
        "device": "clinic-001-desk-1",
        "kind": "temperature",
        "result": "normal",
        "object_c": 34.4,
        "ambient_c": 24.0,
        "estimate_c": 36.6,
        "threshold_c": 37.3,
        "plateau_s": 1.1,
        "samples": 11,
    }


def good(seq: int) -> tuple[str, bytes]:
    return TOPIC, json.dumps(good_doc(seq)).encode()


@dataclass(frozen=True)
class Bad:
    name: str
    topic: str
    payload: bytes
    reason: Reason


def _with(**fields: object) -> bytes:
    doc = good_doc(1)
    doc.update(fields)
    return json.dumps(doc).encode()


def _raw(text: str) -> bytes:
    """A good event with ``"extra": <text>`` spliced in as raw JSON text."""
    body = json.dumps(good_doc(1))
    return (body[:-1] + f', "extra": {text}}}').encode("utf-8", "surrogatepass")


def bad_messages() -> list[Bad]:
    """Every message of issue 17, and the envelope's wrong types."""
    t = TOPIC
    deep_fits = "[" * 1500 + "]" * 1500
    return [
        Bad("nested 100,000 deep", t, b'{"a":' * 100_000 + b"1" + b"}" * 100_000, Reason.OVERSIZE),
        Bad("nested 1,500 deep", t, _raw(deep_fits), Reason.JSON),
        Bad("nested 9 deep", t, _raw("[" * 8 + "]" * 8), Reason.JSON),
        Bad("5,000-digit number", t, _raw("9" * 5000), Reason.OVERSIZE),
        Bad("3,000-digit number", t, _raw("9" * 3000), Reason.NUMBER),
        Bad("400-digit count", t, _raw("1" + "0" * 400), Reason.NUMBER),
        Bad("UTF-16 JSON", t, json.dumps(good_doc(1)).encode("utf-16"), Reason.ENCODING),
        Bad(
            "byte-order mark",
            t,
            b"\xef\xbb\xbf" + json.dumps(good_doc(1)).encode(),
            Reason.ENCODING,
        ),
        Bad("invalid UTF-8", t, _with(result="x").replace(b'"x"', b'"\xff\xfe"'), Reason.ENCODING),
        Bad("lone surrogate (escaped)", t, _raw('"\\ud800"'), Reason.TEXT),
        Bad("lone surrogate (raw bytes)", t, _raw('"\ud800"'), Reason.ENCODING),
        Bad("NUL in a string", t, _raw('"a\\u0000b"'), Reason.TEXT),
        Bad("escape sequence in a string", t, _raw('"\\u001b[31mred"'), Reason.TEXT),
        Bad("seq 2^70", t, _with(seq=2**70), Reason.NUMBER),
        Bad("seq 2^63", t, _with(seq=2**63), Reason.NUMBER),
        Bad("seq 0", t, _with(seq=0), Reason.ENVELOPE),
        Bad("seq as text", t, _with(seq="7"), Reason.ENVELOPE),
        Bad("seq true", t, _with(seq=True), Reason.ENVELOPE),
        Bad("NaN", t, _raw("NaN"), Reason.NUMBER),
        Bad("Infinity", t, _raw("-Infinity"), Reason.NUMBER),
        Bad("1e999", t, _raw("1e999"), Reason.NUMBER),
        Bad("1e300", t, _raw("1e300"), Reason.NUMBER),
        Bad("ts 9999-12-31", t, _with(ts="9999-12-31T00:00:00.000Z"), Reason.TIME),
        Bad("ts 1970", t, _with(ts="1970-01-01T00:00:00.000Z"), Reason.TIME),
        Bad("ts next week", t, _with(ts=iso(time.time() + 7 * 86400)), Reason.TIME),
        Bad("ts without zone", t, _with(ts="2026-11-23T10:00:00"), Reason.ENVELOPE),
        Bad("ts a number", t, _with(ts=1_795_000_000), Reason.ENVELOPE),
        Bad("id an integer", t, _with(id=12345), Reason.ENVELOPE),
        Bad("id not hex", t, _with(id="z" * 32), Reason.ENVELOPE),
        Bad("v a string", t, _with(v="1"), Reason.ENVELOPE),
        Bad("device a number", t, _with(device=5), Reason.ENVELOPE),
        Bad("device a path word", t, _with(device=".."), Reason.ENVELOPE),
        Bad("kind differs", t, _with(kind="alert"), Reason.ENVELOPE),
        Bad("not an object", t, b"[1, 2, 3]", Reason.JSON),
        Bad("not JSON", t, b"not json", Reason.JSON),
        Bad("empty", t, b"", Reason.JSON),
        Bad("site '..'", f"{PREFIX}/../desk-1/temperature", _with(), Reason.TOPIC),
        Bad("site '.'", f"{PREFIX}/./desk-1/temperature", _with(), Reason.TOPIC),
        Bad(
            "kind of 40 characters",
            f"{PREFIX}/clinic-001/desk-1/{'k' * 40}",
            _with(kind="k" * 40),
            Reason.TOPIC,
        ),
        Bad(
            "site of 65 characters",
            f"{PREFIX}/{'s' * 65}/desk-1/temperature",
            _with(),
            Reason.TOPIC,
        ),
        Bad("extra level", f"{PREFIX}/clinic-001/desk-1/x/temperature", _with(), Reason.TOPIC),
        Bad("site with a space", f"{PREFIX}/clinic 1/desk-1/temperature", _with(), Reason.TOPIC),
        Bad("oversize 100 KB", t, _raw('"' + "x" * 100_000 + '"'), Reason.OVERSIZE),
        Bad(
            "alert name a formula",
            f"{PREFIX}/clinic-001/desk-1/alert",
            json.dumps(
                {
                    **good_doc(1),
                    "kind": "alert",
                    "alert": "=cmd|' /C calc'!A0",
                    "state": "raised",
                    "alert_id": "abcdef01",
                    "message": "m",
                }
            ).encode(),
            Reason.ENVELOPE,
        ),
        Bad(
            "alert state of 40 characters",
            f"{PREFIX}/clinic-001/desk-1/alert",
            json.dumps(
                {
                    **good_doc(1),
                    "kind": "alert",
                    "alert": "fever",
                    "state": "r" * 40,
                    "alert_id": "abcdef01",
                    "message": "m",
                }
            ).encode(),
            Reason.ENVELOPE,
        ),
    ]
