"""The district load test, small: 2,000 desks through mosquitto into two collectors sharing a
``$share`` subscription, into a private PostgreSQL, one collector killed and restarted mid-stream:
nothing lost, nothing stored twice.
(The figures in docs/CENTRAL.md come from the full run: ``python -m tools.district_load``.)"""

from __future__ import annotations

import pytest

from tools.district_load import run


@pytest.mark.broker
@pytest.mark.slow
def test_two_thousand_desks_into_two_shared_collectors_lose_nothing() -> None:
    # One collector is killed 1.5 s into the 4 s stream and restarted 3 s later.
    r = run(
        desks=2000, per_desk=3, rate=1500.0, publishers=2, db=None, timeout=120, kill_after_s=1.5
    )
    assert r.events == 6000
    assert r.collectors_killed == 1
    assert r.lost == 0
    assert r.stored_twice == 0
    # The survivor took its half; the restarted one got its queued share after coming back.
    assert r.collector_received[0] >= 3000
    assert r.collector_received[1] > 0
