"""Tests of agent.wire.acks: the PUBACK ledger between paho and a real outbox file.

Messages handed to paho are in flight until their PUBACK (paho's own reason codes), then deleted
from the outbox in batches (:data:`ACK_BATCH` at once, or by :meth:`AckLedger.flush` once
:data:`ACK_FLUSH_S` passed); a PUBACK that beats the bookkeeping ("early") settles the message
when it is recorded; direct publishes never touch the outbox, whichever of the publish and its
PUBACK comes first; a refused message is logged with its topic, counted and deleted, never
retried; a PUBACK frees a place in the window (``room`` is notified); a message id paho reuses is
tracked afresh. No broker: tests/test_publisher.py drives the ledger through mosquitto.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from agent.wire.acks import ACK_BATCH, ACK_FLUSH_S, AckLedger
from agent.wire.contract import WireMessage
from agent.wire.outbox import Outbox

OK = ReasonCode(PacketTypes.PUBACK, identifier=0)
NO_MATCHING_SUBSCRIBERS = ReasonCode(PacketTypes.PUBACK, identifier=0x10)
NOT_AUTHORIZED = ReasonCode(PacketTypes.PUBACK, identifier=0x87)


def message(seq: int) -> WireMessage:
    return WireMessage(f"clinic/c-01/desk-1/event/{seq}", b"{}", retain=False)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "o.sqlite3")
    yield box
    box.close()


@pytest.fixture
def ledger(outbox: Outbox) -> AckLedger:
    return AckLedger(outbox, threading.Lock())


def stored(outbox: Outbox) -> list[int]:
    return [m.seq for m in outbox.peek(limit=10_000)]


def fill(outbox: Outbox, n: int) -> list[tuple[int, WireMessage]]:
    seqs = [outbox.append(message) for _ in range(n)]
    return [(m.seq, m.message) for m in outbox.peek(limit=n) if m.seq in seqs]


def test_a_message_is_in_flight_until_its_puback_then_deleted_on_flush(
    outbox: Outbox, ledger: AckLedger
) -> None:
    [(seq, msg), (seq2, msg2)] = fill(outbox, 2)
    ledger.sent(11, seq, msg)
    ledger.sent(12, seq2, msg2)
    assert ledger.inflight == {11: (seq, msg), 12: (seq2, msg2)}
    assert ledger.flush_due() == (False, False)
    ledger.acknowledged_mid(11, OK)
    assert ledger.inflight == {12: (seq2, msg2)}
    assert stored(outbox) == [seq, seq2]  # deletion waits for the batch
    assert ledger.flush_due()[0] is True
    ledger.flush()
    assert stored(outbox) == [seq2]
    assert ledger.acknowledged == 1
    assert ledger.flush_due() == (False, False)
    ledger.flush()  # nothing pending: a no-op
    assert stored(outbox) == [seq2]
    assert ledger.acknowledged == 1


def test_a_deletion_is_due_once_the_oldest_waited_ack_flush_s(
    outbox: Outbox, ledger: AckLedger
) -> None:
    [(seq, msg)] = fill(outbox, 1)
    ledger.sent(1, seq, msg)
    ledger.acknowledged_mid(1, OK)
    assert ledger.flush_due() == (True, False)
    time.sleep(ACK_FLUSH_S * 1.5)
    assert ledger.flush_due() == (True, True)


def test_a_full_batch_is_deleted_at_once(outbox: Outbox, ledger: AckLedger) -> None:
    msgs = fill(outbox, ACK_BATCH + 1)
    for mid, (seq, msg) in enumerate(msgs, start=1):
        ledger.sent(mid, seq, msg)
    for mid in range(1, ACK_BATCH):
        ledger.acknowledged_mid(mid, OK)
    assert len(stored(outbox)) == ACK_BATCH + 1
    ledger.acknowledged_mid(ACK_BATCH, OK)  # the hundredth: one transaction for the lot
    assert stored(outbox) == [msgs[-1][0]]
    assert ledger.acknowledged == ACK_BATCH
    assert ledger.flush_due() == (False, False)


def test_an_early_puback_settles_the_message_when_it_is_recorded(
    outbox: Outbox, ledger: AckLedger
) -> None:
    [(seq, msg)] = fill(outbox, 1)
    ledger.acknowledged_mid(7, OK)  # the network thread was faster than the drain thread
    assert ledger.flush_due() == (False, False)
    ledger.sent(7, seq, msg)
    assert ledger.inflight == {}
    ledger.flush()
    assert stored(outbox) == []
    assert ledger.acknowledged == 1


def test_an_early_refusal_is_still_a_refusal(
    outbox: Outbox, ledger: AckLedger, caplog: pytest.LogCaptureFixture
) -> None:
    [(seq, msg)] = fill(outbox, 1)
    with caplog.at_level(logging.ERROR, logger="agent.wire.publisher"):
        ledger.acknowledged_mid(3, NOT_AUTHORIZED)
        ledger.sent(3, seq, msg)
    assert ledger.rejected == 1
    assert f"seq={seq} on {msg.topic}" in caplog.text


def test_a_refused_message_is_logged_counted_and_deleted_never_retried(
    outbox: Outbox, ledger: AckLedger, caplog: pytest.LogCaptureFixture
) -> None:
    [(seq, msg), (seq2, msg2)] = fill(outbox, 2)
    ledger.sent(1, seq, msg)
    ledger.sent(2, seq2, msg2)
    with caplog.at_level(logging.ERROR, logger="agent.wire.publisher"):
        ledger.acknowledged_mid(1, NOT_AUTHORIZED)
        ledger.acknowledged_mid(2, NO_MATCHING_SUBSCRIBERS)  # a success code (< 0x80)
    ledger.flush()
    assert stored(outbox) == []
    assert (ledger.rejected, ledger.acknowledged) == (1, 2)
    [record] = caplog.records
    assert record.getMessage() == (
        f"broker refused message seq={seq} on {msg.topic}: Not authorized; "
        "check the broker ACL allows this topic"
    )


def test_direct_publishes_never_touch_the_outbox(outbox: Outbox, ledger: AckLedger) -> None:
    [(seq, msg)] = fill(outbox, 1)
    ledger.direct(5)
    ledger.acknowledged_mid(5, OK)
    ledger.acknowledged_mid(6, OK)  # PUBACK first...
    ledger.direct(6)  # ...then the bookkeeping of the direct publish
    assert ledger.flush_due() == (False, False)
    ledger.sent(6, seq, msg)  # paho reuses id 6 for an outbox message: tracked afresh
    assert ledger.inflight == {6: (seq, msg)}
    ledger.acknowledged_mid(6, OK)
    ledger.flush()
    assert stored(outbox) == []
    assert (ledger.acknowledged, ledger.rejected) == (1, 0)


def test_a_refused_direct_publish_is_not_counted(outbox: Outbox, ledger: AckLedger) -> None:
    ledger.direct(9)
    ledger.acknowledged_mid(9, NOT_AUTHORIZED)
    assert (ledger.acknowledged, ledger.rejected) == (0, 0)


def test_a_puback_frees_a_place_in_the_window(outbox: Outbox, ledger: AckLedger) -> None:
    window = 2
    msgs = fill(outbox, 3)
    for mid, (seq, msg) in enumerate(msgs[:window], start=1):
        ledger.sent(mid, seq, msg)
    woke = threading.Event()

    def drain() -> None:  # as the publisher's drain thread waits for room
        with ledger.room:
            if ledger.room.wait_for(lambda: len(ledger.inflight) < window, timeout=10):
                woke.set()

    t = threading.Thread(target=drain)
    t.start()
    assert not woke.wait(0.2)  # the window is full
    ledger.acknowledged_mid(1, OK)
    t.join(10)
    assert woke.is_set()


def test_settle_from_many_threads_loses_no_deletion(outbox: Outbox, ledger: AckLedger) -> None:
    msgs = fill(outbox, 240)
    for mid, (seq, msg) in enumerate(msgs, start=1):
        ledger.sent(mid, seq, msg)

    def ack(mids: range) -> None:
        for mid in mids:
            ledger.acknowledged_mid(mid, OK)

    threads = [threading.Thread(target=ack, args=(range(k, 241, 4),)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    ledger.flush()
    assert stored(outbox) == []
    assert ledger.acknowledged == 240
    assert ledger.inflight == {}
