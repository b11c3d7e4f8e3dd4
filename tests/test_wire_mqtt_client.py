"""The pace of connection attempts (agent/wire/mqtt_client.py, ``reconnect_backoff``), without a
broker: the product's default backoff brings a box back within 10 s of the broker's return whatever
the outage, and its jitter spreads 2,000 boxes' reconnections. The reconnects against a real
mosquitto: tests/test_publisher_reconnect.py.
"""

from __future__ import annotations

import collections
import random

import pytest

from agent.flow.threaded import Backoff, JitteredBackoff
from agent.wire.config import MqttConfig
from agent.wire.mqtt_client import RECONNECT_CAP_S, reconnect_backoff
from tests.test_publisher_reconnect import BACK_WITHIN_S

BOXES = 2000


def first_attempt_after(backoff: Backoff | JitteredBackoff, outage_s: float) -> float:
    """Seconds from the broker's return to the box's next attempt: the box lost its connection at
    0 and tries at once, then after each delay, as the publisher's network loop does."""
    t = 0.0
    while t < outage_s:
        t += backoff.next_delay()
    return t - outage_s


def test_product_default_backoff_is_back_within_10_s_whatever_the_outage() -> None:
    cfg = MqttConfig()
    rng = random.Random(7)
    for _ in range(200):
        b = reconnect_backoff(cfg, rng)
        delays = [b.next_delay() for _ in range(400)]  # an outage of over half an hour
        assert max(delays) <= RECONNECT_CAP_S < BACK_WITHIN_S - 1
        assert min(delays) >= cfg.reconnect_min_s  # never a tight loop against a dead broker
    for outage_s in (15.0, 45.0, 600.0, 86_400.0):
        worst = max(
            first_attempt_after(reconnect_backoff(cfg, random.Random(i)), outage_s)
            for i in range(200)
        )
        assert worst <= RECONNECT_CAP_S


@pytest.mark.parametrize("outage_s", [10.0, 15.0, 45.0, 300.0, 3600.0])
def test_jitter_spreads_2000_boxes_reconnections(outage_s: float) -> None:
    """2,000 boxes lose the broker at the same instant; when it returns, no second of the next ten
    takes more than a quarter of them (a fixed schedule sends them all in the same second)."""
    cfg = MqttConfig()
    after = [
        first_attempt_after(reconnect_backoff(cfg, random.Random(box)), outage_s)
        for box in range(BOXES)
    ]
    per_second = collections.Counter(int(a) for a in after)
    busiest = max(per_second.values()) / BOXES
    assert max(after) <= RECONNECT_CAP_S
    assert busiest <= 0.25, sorted(per_second.items())
    fixed = [
        first_attempt_after(Backoff(cfg.reconnect_min_s, RECONNECT_CAP_S), outage_s)
        for _ in range(BOXES)
    ]
    assert max(collections.Counter(int(a) for a in fixed).values()) == BOXES  # the herd
