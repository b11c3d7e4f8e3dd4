"""Helpers of the fault suite: counting what a subscriber got against what the agent produced.

:func:`tally` turns the messages a QoS 1 subscriber received into the figures docs/RELIABILITY.md
reports: events delivered (distinct ids), duplicates (same id twice), and lost (sequence numbers
missing from the agent's stream). Direct ``status``/``health`` messages share the sequence, so
gaps they explain (a Will that never fired) are listed separately.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.cli.status import StatusClientError, fetch_status
from tests.broker import Received


@dataclass(frozen=True)
class Tally:
    received: int
    delivered: int
    duplicates: int
    missing: list[int]
    first_seq: int
    last_seq: int

    def line(self) -> str:
        return (
            f"received {self.received}, distinct {self.delivered}, duplicates {self.duplicates}, "
            f"seq {self.first_seq}..{self.last_seq}, missing {len(self.missing)}"
        )


def tally(messages: list[Received], *, live_only: bool = True) -> Tally:
    """Figures over the non-retained messages (retained copies are replays by the broker)."""
    docs = [m.json() for m in messages if not (live_only and m.retain)]
    ids = [d["id"] for d in docs]
    seqs = sorted({int(d["seq"]) for d in docs})
    missing: list[int] = []
    if seqs:
        have = set(seqs)
        missing = [s for s in range(seqs[0], seqs[-1] + 1) if s not in have]
    return Tally(
        received=len(docs),
        delivered=len(set(ids)),
        duplicates=len(ids) - len(set(ids)),
        missing=missing,
        first_seq=seqs[0] if seqs else 0,
        last_seq=seqs[-1] if seqs else 0,
    )


def wait_status(
    socket: Path, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20.0
) -> dict[str, Any]:
    """Poll ``triage-agent status`` (the socket) until ``predicate(snapshot)``; return it."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = fetch_status(socket)
            if predicate(last):
                return last
        except StatusClientError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"status never matched within {timeout} s; last: {last}")


def stored_figures(log_text: str) -> tuple[int, int]:
    """(stored, acknowledged) summed over every clean stop in an agent's log."""
    stored = acked = 0
    for m in re.finditer(r"figures: (\d+) event\(s\) stored .*?, (\d+) acknowledged", log_text):
        stored += int(m.group(1))
        acked += int(m.group(2))
    return stored, acked


def directly_published(log_text: str) -> int:
    """Events published straight to the broker during a storage fault, summed over every clean
    stop in an agent's log (its ``figures`` line)."""
    return sum(int(n) for n in re.findall(r"(\d+) published directly", log_text))


@dataclass(frozen=True)
class Delivery:
    """What the subscriber got of the events that went through the outbox."""

    delivered: int
    duplicates: int
    ids: frozenset[str]

    def lost(self, produced: int) -> int:
        return max(0, produced - self.delivered)


def outbox_delivery(messages: list[Received]) -> Delivery:
    """Events that went through the outbox: every kind but status, and health unless published
    directly during a storage fault (it carries ``storage``)."""
    ids: list[str] = []
    for m in messages:
        kind = m.topic.rsplit("/", 1)[-1]
        if m.retain or kind == "status":
            continue
        doc = m.json()
        if kind == "health" and "storage" in doc:
            continue
        ids.append(doc["id"])
    return Delivery(len(set(ids)), len(ids) - len(set(ids)), frozenset(ids))
