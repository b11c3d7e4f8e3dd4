"""Messages -> rows: the envelope is required, everything else is kept as it came."""

from __future__ import annotations

import json
import time

import pytest

from central.store.records import NotAnEventError, Refused, split_topic, to_row
from tests.central.hostile import TOPIC, Bad, bad_messages, good_doc
from tests.central.wire import alert, encoded, identity


def test_an_agent_event_becomes_a_row_with_its_topic_identity() -> None:
    msg = encoded([alert(1_795_000_000.5, "fever", "raised", "abcdef01", 38.2)], identity())[0]
    row = to_row("triage/v1", msg.topic, msg.payload, 1_795_000_001.0)
    assert (row.site, row.desk, row.kind, row.seq) == ("clinic-001", "desk-1", "alert", 1)
    assert (row.alert, row.state, row.alert_id) == ("fever", "raised", "abcdef01")
    assert row.ts == 1_795_000_000.5
    assert json.loads(row.payload)["value"] == 38.2


def test_fields_added_to_the_contract_later_are_kept() -> None:
    doc = {
        "v": 1, "id": "0" * 32, "seq": 7, "ts": "2026-11-23T10:00:00.000Z", "device": "d",
        "kind": "alert", "alert": "camera_covered", "state": "raised", "alert_id": "12345678",
        "message": "Camera covered", "zone": "queue", "family": "setup",
    }  # fmt: skip
    row = to_row("triage/v1", "triage/v1/s/d/alert", json.dumps(doc).encode(), 1_796_000_000.0)
    assert row.alert == "camera_covered"
    assert json.loads(row.payload)["zone"] == "queue"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("triage/v1/s/d/diag", b'{"kind":"diag"}', "not events"),
        ("other/v1/s/d/alert", b"{}", "not under"),
        ("triage/v1/s/alert", b"{}", "not <prefix>/<site>/<desk>/<kind>"),
        ("triage/v1/s/d/alert", b"\xff", "not UTF-8"),
        ("triage/v1/s/d/alert", b"[1]", "not a JSON object"),
        (
            "triage/v1/s/d/alert",
            b'{"id":"xyz","ts":"2026-11-23T10:00:00.000Z"}',
            "no valid event id",
        ),
        ("triage/v1/s/d/alert", b'{"id":"' + b"a" * 32 + b'","ts":"yesterday"}', "no valid ts"),
        (
            "triage/v1/s/d/alert",
            b'{"id":"' + b"a" * 32 + b'","ts":"2026-11-23T10:00:00.000Z","kind":"mask"}',
            "differs from the topic",
        ),
    ],
)
def test_what_is_not_an_event_is_refused_with_the_reason(
    topic: str, payload: bytes, reason: str
) -> None:
    with pytest.raises(NotAnEventError, match=reason):
        to_row("triage/v1", topic, payload, 1_796_000_000.0)


def test_a_longer_prefix() -> None:
    assert split_topic("district/a/triage/v1", "district/a/triage/v1/s-1/d_2/status") == (
        "s-1", "d_2", "status"
    )  # fmt: skip


@pytest.mark.parametrize("bad", bad_messages(), ids=lambda b: b.name)
def test_every_hostile_message_is_refused_for_its_reason(bad: Bad) -> None:
    with pytest.raises(NotAnEventError) as err:
        to_row("triage/v1", bad.topic, bad.payload, time.time())
    assert err.value.reason is bad.reason, err.value.detail


def test_the_largest_legal_values_are_stored() -> None:
    doc = good_doc(2**63 - 1)
    doc["ts"] = "2020-01-01T00:00:00.000Z"
    row = to_row("triage/v1", TOPIC, json.dumps(doc).encode(), time.time())
    assert row.seq == 2**63 - 1
    big = good_doc(1)
    big["extra"] = "x" * (4096 - len(json.dumps(big)) - 13)
    payload = json.dumps(big).encode()
    assert len(payload) == 4096
    assert to_row("triage/v1", TOPIC, payload, time.time()).kind == "temperature"
    with pytest.raises(NotAnEventError, match="4097 bytes"):
        to_row("triage/v1", TOPIC, payload + b" ", time.time())
    assert to_row("triage/v1", TOPIC, payload + b" ", time.time(), max_payload=8192)


def test_refused_payloads_are_kept_printable_and_short() -> None:
    raw = b"\x1b[2J\x00\xff" + b"A" * 5000
    try:
        to_row("triage/v1", TOPIC, raw, time.time())
    except NotAnEventError as exc:
        q = Refused.of(TOPIC, raw, len(raw), exc, 1.0)
    assert q.reason == "oversize"
    assert q.size == 5006
    assert q.head.startswith("\\x1b[2J\\x00\\xff")
    assert len(q.head) < 600
    assert not any(ord(c) < 32 for c in q.head)
